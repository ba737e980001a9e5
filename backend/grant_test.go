package backend

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// Privilege-escalation regression: an admin key limited by radios="base"
// is an admin of base only. It neither sees nor changes another radio's
// rules, radio-wide filters, sessions or audit entries.
func TestRadioLimitedAdminStaysOnItsRadios(t *testing.T) {
	_, baseAddr := simtest.Start(t, simtest.Fast(5, 4))
	_, fieldAddr := simtest.Start(t, simtest.Fast(5, 4))
	ctx, cancel := context.WithCancel(context.Background())
	reg := radio.NewRegistry(ctx, radio.Config{Grace: 100 * time.Millisecond}, nil)
	db, err := store.Open(filepath.Join(t.TempDir(), "meshgate.db"), store.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); reg.Wait(); db.Close() })
	for name, addr := range map[string]string{"base": baseAddr, "field": fieldAddr} {
		if _, err := reg.Add(name, addr); err != nil {
			t.Fatal(err)
		}
	}
	mgr := sessions.NewManager(sessions.Config{})
	b := New(Deps{Radios: reg, Sessions: mgr, Store: db, Automation: radio.NewAutomation(db, nil)})

	open := func(id auth.Identity, radioName string) Caller {
		t.Helper()
		rec, err := mgr.Open(sessions.User{Name: id.Name, Fingerprint: id.Fingerprint, Role: id.Role.String(),
			RemoteAddr: "127.0.0.1:1", Kind: sessions.Exec})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rec.Close)
		if radioName != "" {
			rec.Bind(radioName)
		}
		return Caller{Identity: id, Session: rec, Via: "exec"}
	}
	admin := open(auth.Identity{Name: "ada", Fingerprint: "SHA256:ada", Role: auth.Admin}, "field")
	otto := open(auth.Identity{Name: "otto", Fingerprint: "SHA256:otto", Role: auth.Operator}, "field")
	lobby := open(auth.Identity{Name: "lou", Fingerprint: "SHA256:lou", Role: auth.Viewer}, "")
	bea := open(auth.Identity{Name: "bea", Fingerprint: "SHA256:bea", Role: auth.Admin, Radios: []string{"base"}}, "base")

	rule, err := b.AddRule(ctx, otto, RuleSpec{Radio: "field", Trigger: "ping", Reply: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	wide, err := b.AddFilter(ctx, admin, FilterSpec{Radio: "field", RadioWide: true, Kind: "text", Value: "spam"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := b.AddRule(ctx, bea, RuleSpec{Radio: "base", Trigger: "hi", Reply: "hello"})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := b.SetRuleEnabled(ctx, bea, rule.ID, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("disabled a rule on field: %v", err)
	}
	if _, err := b.DeleteFilter(ctx, bea, wide.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed a radio-wide filter on field: %v", err)
	}
	if _, err := b.TestRule(ctx, bea, rule.ID, "ping"); !errors.Is(err, ErrNotFound) {
		t.Errorf("tested a rule on field: %v", err)
	}

	list, err := b.Sessions(bea)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID+"@"+s.Radio)
		if s.Radio != "base" {
			t.Errorf("listed session %s of %s bound to %q (%s)", s.ID, s.User, s.Radio, s.RemoteAddr)
		}
	}
	if len(list) != 1 {
		t.Errorf("sessions: %v, want only bea's own", ids)
	}
	for _, victim := range []Caller{otto, lobby, admin} {
		if _, err := b.Kick(bea, victim.SessionID(), ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("kicked %s's session: %v", victim.Name, err)
		}
	}

	entries, err := b.Audit(ctx, bea, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Radio != "base" {
			t.Errorf("read an audit entry of radio %q: %s %s", e.Radio, e.Action, e.Detail)
		}
	}
	if !strings.Contains(auditText(entries), "hello") {
		t.Errorf("bea's own rule is missing from her audit view: %+v", entries)
	}

	// The unlimited admin still manages everything.
	if all, _ := b.Sessions(admin); len(all) != 4 {
		t.Errorf("the unlimited admin sees %d sessions, want 4", len(all))
	}
	if _, err := b.SetRuleEnabled(ctx, admin, own.ID, false); err != nil {
		t.Errorf("the unlimited admin: %v", err)
	}
	if _, err := b.Kick(admin, lobby.SessionID(), "test"); err != nil {
		t.Errorf("the unlimited admin's kick: %v", err)
	}
}

func auditText(entries []AuditEntry) string {
	var sb strings.Builder
	for _, e := range entries {
		sb.WriteString(e.Action + " " + e.Detail + "\n")
	}
	return sb.String()
}
