package backend

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/store"
)

// Identity is who the caller is, as `whoami` shows it.
type Identity struct {
	Name        string   `json:"name"`
	Fingerprint string   `json:"fingerprint"`
	Role        string   `json:"role"`
	Radios      []string `json:"radios"`
	Session     string   `json:"session,omitempty"`
	RemoteAddr  string   `json:"remote_addr,omitempty"`
}

// Whoami describes the caller.
func (b *Backend) Whoami(c Caller) (Identity, error) {
	if err := Allowed(c.Identity, OpWhoami, "", ""); err != nil {
		return Identity{}, err
	}
	id := Identity{Name: c.Name, Fingerprint: c.Fingerprint, Role: roleName(c.Role), Radios: b.allowedRadios(c.Identity)}
	if c.Session != nil {
		id.Session = c.Session.ID()
		id.RemoteAddr = c.Session.User().RemoteAddr
	}
	return id, nil
}

// RadioStatus is one radio's link state.
type RadioStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	State   string `json:"state"`
	// Since is when the link entered its state.
	Since time.Time `json:"since"`
	// Reason is a short reason for the state when the radio is not
	// connected (for tables); Error is the whole last error.
	Reason      string    `json:"reason,omitempty"`
	Error       string    `json:"error,omitempty"`
	RetryAt     time.Time `json:"retry_at,omitzero"`
	Users       int       `json:"users"`
	NodeID      string    `json:"node_id,omitempty"`
	NodeNum     uint32    `json:"node_num,omitempty"`
	NodeName    string    `json:"node_name,omitempty"`
	LastPacket  time.Time `json:"last_packet,omitzero"`
	Reconnects  int       `json:"reconnects"`
	PacketsIn   uint64    `json:"packets_in"`
	PacketsOut  uint64    `json:"packets_out"`
	FanoutDrops uint64    `json:"fanout_drops"`
	// Warnings are problems the gateway sees with how the radio is set
	// up or shared (Bluetooth left on on a serial radio, answers another
	// client drains); empty when none.
	Warnings []string `json:"warnings"`
	// AutoReplies is the radio's budget of automatic replies (responder
	// rules), shared by all rules; null without automation.
	AutoReplies *Budget `json:"auto_replies"`
}

// Budget is a radio's budget of automatic replies: at most Limit in any
// window of WindowSeconds; Refused counts replies it held back.
type Budget struct {
	Used          int       `json:"used"`
	Limit         int       `json:"limit"`
	WindowSeconds float64   `json:"window_seconds"`
	Refused       uint64    `json:"refused"`
	ResetAt       time.Time `json:"reset_at,omitzero"`
}

// Radios lists the radios the caller may use and their link state.
func (b *Backend) Radios(c Caller) ([]RadioStatus, error) {
	if err := Allowed(c.Identity, OpRadios, "", ""); err != nil {
		return nil, err
	}
	out := []RadioStatus{}
	for _, name := range b.allowedRadios(c.Identity) {
		br, err := b.radios.Get(name)
		if err != nil {
			continue
		}
		out = append(out, b.radioStatus(br))
	}
	return out, nil
}

// RadioStatus describes one radio the caller may use.
func (b *Backend) RadioStatus(c Caller, name string) (RadioStatus, error) {
	br, err := b.radio(c, name)
	if err != nil {
		return RadioStatus{}, err
	}
	return b.radioStatus(br), nil
}

func (b *Backend) radioStatus(br *radio.Broker) RadioStatus {
	st := br.Status()
	rs := RadioStatus{Name: st.Name, Address: st.Address, State: st.State.String(), Since: utc(st.Since),
		RetryAt: utc(st.RetryAt), NodeID: st.NodeID, NodeName: st.NodeName, LastPacket: utc(st.LastPacket),
		Reconnects: st.Reconnects, PacketsIn: st.PacketsIn, PacketsOut: st.PacketsOut, FanoutDrops: st.Drops,
		Warnings: append([]string{}, st.Warnings...)}
	if b.sessions != nil {
		rs.Users = b.sessions.CountOnRadio(st.Name)
	}
	if rs.NodeID != "" {
		if num, err := ResolveNode(emptyView(), rs.NodeID); err == nil {
			rs.NodeNum = num
		}
	}
	if st.State != radio.Connected && st.LastError != "" {
		rs.Error, rs.Reason = st.LastError, st.Reason
	}
	if b.auto != nil {
		bs := b.auto.Budget(st.Name)
		rs.AutoReplies = &Budget{Used: bs.Used, Limit: bs.Limit, WindowSeconds: bs.Window.Seconds(), Refused: bs.Refused,
			ResetAt: utc(bs.ResetAt)}
	}
	if !rs.RetryAt.IsZero() && !rs.RetryAt.After(b.now()) {
		rs.RetryAt = time.Time{} // a retry in the past is no retry
	}
	return rs
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// allowedRadios lists the configured radios id may use.
func (b *Backend) allowedRadios(id auth.Identity) []string {
	out := []string{}
	for _, n := range b.radios.Names() {
		if id.MayUse(n) {
			out = append(out, n)
		}
	}
	return out
}

// AllowedRadios lists the configured radios the caller may use.
func (b *Backend) AllowedRadios(c Caller) []string { return b.allowedRadios(c.Identity) }

// radio resolves a radio name for the caller: a configured radio the key
// may use, the only one it may use when name is empty, or (admins) an
// address inside the gateway's dial ranges.
func (b *Backend) radio(c Caller, name string) (*radio.Broker, error) {
	allowed := b.allowedRadios(c.Identity)
	if name == "" {
		switch len(allowed) {
		case 1:
			name = allowed[0]
		case 0:
			return nil, denied("your key may not use any radio")
		default:
			return nil, invalid("choose a radio with -r (one of: %s)", strings.Join(allowed, ", "))
		}
	}
	// Only configured radios go by name: a broker an admin dialled ad hoc
	// is in the registry too, but reaching it again takes the dial check.
	if slices.Contains(b.radios.Names(), name) {
		br, err := b.radios.Get(name)
		if err != nil {
			return nil, failed(err)
		}
		if !c.MayUse(name) {
			return nil, denied("your key may not use radio %q", name)
		}
		return br, nil
	}
	if strings.ContainsAny(name, ":/") {
		if err := Allowed(c.Identity, OpDial, "", ""); err != nil {
			return nil, err
		}
		if c.Radios != nil {
			// A key limited to some radios may not reach others by
			// address.
			return nil, denied("your key may use only %s, not other addresses", strings.Join(c.Radios, ", "))
		}
		br, err := b.radios.Adhoc(name)
		if err != nil {
			if errors.Is(err, radio.ErrDialDenied) {
				return nil, denied("%v", err)
			}
			return nil, invalid("%v", err)
		}
		b.log.Info("ad-hoc radio", "session", c.SessionID(), "user", c.Name, "address", name)
		return br, nil
	}
	return nil, notFound("no radio named %q (one of: %s)", name, strings.Join(allowed, ", "))
}

// Resolve checks that the caller may use the named radio and returns its
// canonical name (an address an admin dialled comes back normalised).
func (b *Backend) Resolve(c Caller, name string) (string, error) {
	br, err := b.radio(c, name)
	if err != nil {
		return "", err
	}
	return br.Name(), nil
}

// Broker gives a front end the radio's broker for what it streams itself
// (the UI's live view, packets --follow) once the caller may use it.
func (b *Backend) Broker(c Caller, name string) (*radio.Broker, error) {
	return b.radio(c, name)
}

// useRadio is the start of most operations on a radio: the caller may
// perform op, may use the radio, and its link is up (waiting at most
// wait). The returned release must be called when done.
func (b *Backend) useRadio(ctx context.Context, c Caller, op Op, name string, wait time.Duration) (*radio.Broker, func(), error) {
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return nil, nil, err
	}
	br, err := b.radio(c, name)
	if err != nil {
		return nil, nil, err
	}
	release, err := b.connected(ctx, c, br, wait)
	if err != nil {
		return nil, nil, err
	}
	return br, release, nil
}

// stored is the start of the operations that read a radio's history from
// the database: the caller may perform op on the radio, the limit is
// sane, and there is a database.
func (b *Backend) stored(c Caller, op Op, name string, limit int) (*store.Store, *radio.Broker, int, error) {
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return nil, nil, 0, err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, nil, 0, err
	}
	db, err := b.db()
	if err != nil {
		return nil, nil, 0, err
	}
	br, err := b.radio(c, name)
	if err != nil {
		return nil, nil, 0, err
	}
	return db, br, limit, nil
}

// live is the start of the operations that read a radio's recent items
// from memory: the caller may perform op on the radio, the limit is sane;
// the session is bound to the radio and the caller's own filters come
// with it.
func (b *Backend) live(ctx context.Context, c Caller, op Op, name string, limit int) (*radio.Broker, int, *filter.Set, error) {
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return nil, 0, nil, err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, 0, nil, err
	}
	br, err := b.radio(c, name)
	if err != nil {
		return nil, 0, nil, err
	}
	bind(c, br)
	return br, limit, b.personalFilters(ctx, c, br.Name(), nil), nil
}

// connected makes the broker connect for the caller and waits (bounded)
// for the link. The returned release must be called when done; the link
// stays up for the broker's grace period after that.
func (b *Backend) connected(ctx context.Context, c Caller, br *radio.Broker, wait time.Duration) (func(), error) {
	bind(c, br)
	// A radio already connected needs no subscriber of ours (the UI's
	// session has its own; another would count as one more user); the
	// broker's grace period keeps the link through a short operation.
	if _, err := br.Client(); err == nil {
		return func() {}, nil
	}
	hold := br.Hold(c.SessionID())
	if err := b.awaitLink(ctx, br, wait); err != nil {
		hold.Close()
		return nil, err
	}
	return hold.Close, nil
}

// awaitLink waits (at most wait, or the default) for a radio someone
// already holds or follows to connect.
func (b *Backend) awaitLink(ctx context.Context, br *radio.Broker, wait time.Duration) error {
	if wait <= 0 {
		wait = b.wait
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := br.WaitConnected(wctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &Error{Kind: ErrTimeout, Msg: err.Error(), Err: err}
		}
		return failed(err)
	}
	return nil
}

// bind marks the caller's session as using the radio (for `sessions` and
// user counts) without connecting it.
func bind(c Caller, br *radio.Broker) {
	if c.Session != nil {
		c.Session.Bind(br.Name())
	}
}

// Reconnect has the gateway try a radio at once: one it stepped back
// from because another app kept taking it (contended, retried only every
// 5 minutes or more), one whose link failed (backoff), or one nobody is
// using (idle). It is for someone who knows the other app has gone or the
// radio is back; if the app is still there, the radio is taken from it.
// Audited and announced to the radio's users. It waits (bounded) for the
// link and returns the radio's status, connected or not.
func (b *Backend) Reconnect(ctx context.Context, c Caller, name string, wait time.Duration) (RadioStatus, error) {
	if err := Allowed(c.Identity, OpReconnect, "", ""); err != nil {
		return RadioStatus{}, err
	}
	br, err := b.radio(c, name)
	if err != nil {
		return RadioStatus{}, err
	}
	before := br.Status()
	if before.State == radio.Connected {
		return RadioStatus{}, errorf(ErrUnavailable, "%s is connected already; nothing to do", br.Name())
	}
	// Held while waiting, so an idle radio connects and a waiting one is
	// still wanted when its retry comes.
	hold := br.Hold(c.SessionID())
	defer hold.Close()
	br.RetryNow()
	detail := "reconnect now, was " + before.State.String()
	if before.Reason != "" {
		detail += " (" + before.Reason + ")"
	}
	b.audit(c, br.Name(), string(OpReconnect), detail)
	br.Announce(c.Name + " asked meshgate to reconnect to this radio now")
	_ = b.awaitLink(ctx, br, wait) // the status says how it went
	return b.radioStatus(br), nil
}
