// Package backend is the one core between the front ends (exec commands,
// the terminal UI, the virtual node) and the radios. Every operation a user
// can perform is one method here that takes the caller's identity, decides
// policy from one table, validates its input and fills defaults one way,
// acts through radio/ and store/, writes the audit record, and returns a
// typed result. The result types, with their JSON tags, are the public JSON
// schema of every --json output: a front end turns input into a call and
// the result into output, and never checks a role or writes audit itself.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// Caller is who asks for an operation: the identity of the key that signed
// in, and the session it asks from.
type Caller struct {
	auth.Identity
	// Session is the caller's session record; nil when the call does not
	// come from a login (tests of the core alone).
	Session *sessions.Session
	// Via names the front end ("exec", "tui", "node") for logs and audit.
	Via string
}

// SessionID is the caller's session id, or "" without a session.
func (c Caller) SessionID() string {
	if c.Session == nil {
		return ""
	}
	return c.Session.ID()
}

// Deps are what the core acts through.
type Deps struct {
	Radios   *radio.Registry
	Sessions *sessions.Manager
	// Store holds history, rules, filters, beacons and the audit log.
	// Optional: without it those operations fail with ErrUnavailable.
	Store *store.Store
	// Automation runs responders and beacons; optional (reply budget).
	Automation *radio.Automation
	Logger     *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ConnectWait bounds how long an operation waits for a radio's link
	// when the caller gives no wait of its own. Default 20 s.
	ConnectWait time.Duration
}

// Backend is the core. It is safe for concurrent use.
type Backend struct {
	radios   *radio.Registry
	sessions *sessions.Manager
	store    *store.Store
	auto     *radio.Automation
	log      *slog.Logger
	now      func() time.Time
	wait     time.Duration

	requests pacer // spaces position/telemetry/nodeinfo requests per radio
	// conns lists and closes SSH connections (the server, set once it
	// exists; see SetConnections).
	conns atomic.Pointer[ConnectionSource]
	// fcache holds the store's filters compiled once per change.
	fcache filterCache
	// addMu makes each add of a rule or filter count and insert as one
	// step, so concurrent adds cannot pass a limit together.
	addMu sync.Mutex
}

// New builds the core from its dependencies.
func New(d Deps) *Backend {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ConnectWait <= 0 {
		d.ConnectWait = 20 * time.Second
	}
	return &Backend{radios: d.Radios, sessions: d.Sessions, store: d.Store, auto: d.Automation,
		log: d.Logger, now: d.Now, wait: d.ConnectWait}
}

// The kinds of failure a front end tells apart (exec maps them to exit
// statuses: ErrInvalid and ErrNotFound 2, ErrDenied 3, ErrTimeout 5,
// anything else 1). Errors returned by the core wrap exactly one of them
// and read well on their own: "needs the operator role (you are viewer)".
var (
	ErrInvalid     = errors.New("invalid request")
	ErrNotFound    = errors.New("not found")
	ErrDenied      = errors.New("permission denied")
	ErrTimeout     = errors.New("timed out")
	ErrUnavailable = errors.New("unavailable")
	ErrFailed      = errors.New("failed")
)

// Error is a failure of a kind (one of the sentinels above) with a message
// meant for the user.
type Error struct {
	Kind error
	Msg  string
	Err  error // the cause, if any
}

func (e *Error) Error() string { return e.Msg }

// Is matches the error's kind, so errors.Is(err, backend.ErrDenied) works.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap gives the cause.
func (e *Error) Unwrap() error { return e.Err }

func errorf(kind error, format string, args ...any) error {
	var cause error
	for _, a := range args {
		if e, ok := a.(error); ok {
			cause = e
		}
	}
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

func invalid(format string, args ...any) error  { return errorf(ErrInvalid, format, args...) }
func notFound(format string, args ...any) error { return errorf(ErrNotFound, format, args...) }
func denied(format string, args ...any) error   { return errorf(ErrDenied, format, args...) }

// failed wraps an error from below (radio, store) as a failure, keeping a
// timeout a timeout.
func failed(err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: ErrTimeout, Msg: err.Error(), Err: err}
	}
	if errors.Is(err, store.ErrInvalid) {
		return &Error{Kind: ErrInvalid, Msg: err.Error(), Err: err}
	}
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Kind: ErrNotFound, Msg: err.Error(), Err: err}
	}
	return &Error{Kind: ErrFailed, Msg: err.Error(), Err: err}
}

// errNoStore explains operations that need the database.
var errNoStore = &Error{Kind: ErrUnavailable, Msg: "this gateway runs without a database"}

func (b *Backend) db() (*store.Store, error) {
	if b.store == nil {
		return nil, errNoStore
	}
	return b.store, nil
}

// dbctx bounds one database call.
func dbctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 10*time.Second)
}

func actor(c Caller) store.Actor {
	return store.Actor{Name: c.Name, Fingerprint: c.Fingerprint}
}

// audit appends one line to the audit log (when the gateway has one) and
// the structured log. Detail says what changed in words a reader of the
// log understands without the code.
func (b *Backend) audit(c Caller, radioName, action, detail string) {
	b.log.Warn("audited action", "session", c.SessionID(), "user", c.Name, "fingerprint", c.Fingerprint,
		"radio", radioName, "action", action, "detail", detail, "via", c.Via)
	if b.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c.Via != "" && c.Via != "exec" {
		detail += " (via " + c.Via + ")"
	}
	if _, err := b.store.AppendAudit(ctx, store.AuditEntry{At: b.now(), User: c.Name, Fingerprint: c.Fingerprint,
		Radio: radioName, Action: action, Detail: detail}); err != nil {
		b.log.Error("audit log", "err", err)
	}
}
