package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// Session is one open login.
type Session struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Fingerprint string    `json:"fingerprint"`
	Role        string    `json:"role"`
	Kind        string    `json:"kind"` // tui, exec or node
	Command     string    `json:"command,omitempty"`
	Radio       string    `json:"radio,omitempty"`
	RemoteAddr  string    `json:"remote_addr"`
	Opened      time.Time `json:"opened"`
	LastInput   time.Time `json:"last_input"`
	IdleSeconds float64   `json:"idle_seconds"`
	Packets     uint64    `json:"packets"`
	Drops       uint64    `json:"drops"`
	// You marks the caller's own session.
	You bool `json:"you"`
}

// Sessions lists every open session on the gateway.
func (b *Backend) Sessions(c Caller) ([]Session, error) {
	if err := Allowed(c.Identity, OpSessions, "", ""); err != nil {
		return nil, err
	}
	out := []Session{}
	for _, s := range b.sessions.List() {
		if s.ID != c.SessionID() && !covers(c.Identity, s.Radio) {
			continue
		}
		out = append(out, Session{ID: s.ID, User: s.User.Name, Fingerprint: s.User.Fingerprint, Role: s.User.Role,
			Kind: s.User.Kind.String(), Command: s.User.Command, Radio: s.Radio, RemoteAddr: s.User.RemoteAddr,
			Opened: utc(s.Created), LastInput: utc(s.LastActivity), IdleSeconds: s.Idle.Round(time.Second).Seconds(),
			Packets: s.Packets, Drops: s.Drops, You: s.ID == c.SessionID()})
	}
	return out, nil
}

// KickResult says which session was closed.
type KickResult struct {
	Session string `json:"session"`
	User    string `json:"user"`
	Reason  string `json:"reason"`
}

// Kick closes another session, telling its user why.
func (b *Backend) Kick(c Caller, id, reason string) (KickResult, error) {
	if err := Allowed(c.Identity, OpKick, "", ""); err != nil {
		return KickResult{}, err
	}
	if id == "" {
		return KickResult{}, invalid("want a session id (see: sessions)")
	}
	s, ok := b.sessions.Get(id)
	if !ok || (id != c.SessionID() && !covers(c.Identity, s.Radio())) {
		return KickResult{}, notFound("no session %q (see: sessions)", id)
	}
	why := "closed by " + c.Name
	if reason != "" {
		why += ": " + reason
	}
	if err := b.sessions.Kick(id, why); err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			return KickResult{}, notFound("no session %q (see: sessions)", id)
		}
		return KickResult{}, failed(err)
	}
	u := s.User()
	b.audit(c, s.Radio(), string(OpKick), "session "+id+" of "+u.Name+" ("+u.Kind.String()+"): "+why)
	return KickResult{Session: id, User: u.Name, Reason: why}, nil
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"time"`
	User        string    `json:"user"`
	Fingerprint string    `json:"fingerprint"`
	Radio       string    `json:"radio,omitempty"`
	Action      string    `json:"action"`
	// Detail says what happened in words; Before and After hold the old
	// and new value of a changed rule, filter or beacon.
	Detail string `json:"detail"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
}

// Audit reads the newest entries of the audit log, oldest first.
func (b *Backend) Audit(ctx context.Context, c Caller, limit int) ([]AuditEntry, error) {
	if err := Allowed(c.Identity, OpAudit, "", ""); err != nil {
		return nil, err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	db, err := b.db()
	if err != nil {
		return nil, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	// A key limited to some radios reads only their entries.
	entries, err := db.Audit(dctx, store.AuditQuery{Page: store.Page{Limit: limit}, Radios: c.Radios})
	if err != nil {
		return nil, failed(err)
	}
	out := make([]AuditEntry, 0, len(entries))
	for _, e := range entries {
		a := AuditEntry{Seq: e.Seq, At: utc(e.At), User: e.User, Fingerprint: e.Fingerprint, Radio: e.Radio,
			Action: e.Action, Detail: e.Detail}
		a.Before, a.After = b.auditValue(e.Action, e.Before), b.auditValue(e.Action, e.After)
		if a.Detail == "" {
			a.Detail = describeChange(e)
		}
		out = append(out, a)
	}
	return out, nil
}

// auditValue turns the store's record of a rule, filter or beacon into
// its documented shape (Rule, Filter, Beacon); nil when there is none.
func (b *Backend) auditValue(action string, raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	switch {
	case strings.HasPrefix(action, "rule."):
		var r responder.Rule
		if json.Unmarshal(raw, &r) == nil {
			return b.ruleOf(r)
		}
	case strings.HasPrefix(action, "filter."):
		var f filter.Filter
		if json.Unmarshal(raw, &f) == nil {
			return filterOf(f)
		}
	case strings.HasPrefix(action, "beacon."):
		var bc responder.Beacon
		if json.Unmarshal(raw, &bc) == nil {
			return beaconOf(bc)
		}
	}
	return nil
}

// describeChange words a rule, filter or beacon change from the before
// and after values the store keeps with it.
func describeChange(e store.AuditEntry) string {
	v := e.After
	if len(v) == 0 {
		v = e.Before
	}
	var m map[string]any
	if len(v) == 0 || json.Unmarshal(v, &m) != nil {
		return ""
	}
	get := func(keys ...string) string {
		for _, k := range keys {
			for mk, mv := range m {
				if strings.EqualFold(mk, k) && mv != nil {
					if f, ok := mv.(float64); ok {
						return strconv.FormatFloat(f, 'f', -1, 64)
					}
					return fmt.Sprint(mv)
				}
			}
		}
		return ""
	}
	switch {
	case strings.HasPrefix(e.Action, "rule."):
		s := fmt.Sprintf("rule %s: %s %q → %q", get("id"), get("match"), get("trigger"), get("reply"))
		if e.Action == store.ActionRuleEnable || e.Action == store.ActionRuleDisable {
			s = fmt.Sprintf("rule %s (%q)", get("id"), get("trigger"))
		}
		return s
	case strings.HasPrefix(e.Action, "filter."):
		scope := get("scope")
		if scope == "user" {
			scope = "personal"
		}
		return fmt.Sprintf("filter %s: %s %s %s %q", get("id"), scope, get("mode"), get("kind"), get("value"))
	case strings.HasPrefix(e.Action, "beacon."):
		interval := get("interval")
		if ns, err := strconv.ParseFloat(interval, 64); err == nil {
			interval = format.Duration(time.Duration(ns))
		}
		return fmt.Sprintf("beacon %q every %s on channel %s", get("template"), interval, get("channel"))
	}
	return ""
}
