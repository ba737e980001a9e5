package sessions

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/meshgate/meshgate/format"
)

// Sentinel errors; the errors returned wrap them, so test with errors.Is.
var (
	// ErrFull: the gateway is at its session cap. The wrapping error reads
	// "gateway full (10/10 sessions)" and is meant to be shown as is.
	ErrFull = errors.New("gateway full")
	// ErrKeyFull: the key already has its cap of sessions open. The
	// wrapping error reads "too many sessions for your key (5 of 5 open);
	// close one or ask an admin" and is meant to be shown as is.
	ErrKeyFull = errors.New("too many sessions for your key")
	// ErrNotFound: no open session has that id.
	ErrNotFound = errors.New("no such session")
)

// Manager holds the open sessions, enforces the caps and reaps idle ones.
type Manager struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	// epoch anchors activity stamps (see Session.stamp).
	epoch time.Time

	mu       sync.Mutex
	sessions map[string]*Session
	byKey    map[string]int // open sessions per fingerprint
}

// NewManager returns a manager with no sessions. Start its reaper with Run.
func NewManager(cfg Config) *Manager {
	cfg = cfg.normalize()
	return &Manager{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, epoch: cfg.Now(),
		sessions: make(map[string]*Session), byKey: make(map[string]int),
	}
}

// Config returns the configuration in effect, defaults filled and clamped.
func (m *Manager) Config() Config { return m.cfg }

// Open records a new session for u, or refuses with an error wrapping
// ErrFull when the gateway's cap is reached or ErrKeyFull when u's key
// already has MaxPerKey sessions open. Opening counts as activity.
func (m *Manager) Open(u User) (*Session, error) {
	now := m.now()
	s := &Session{
		m: m, user: u, created: now,
		packets: newRing[LoggedPacket](m.cfg.PacketLog),
		traces:  newRing[TraceResult](traceLimit),
		health:  MQTTHealth{Since: now},
	}
	s.stamp(now)

	m.mu.Lock()
	if n := len(m.sessions); n >= m.cfg.MaxSessions {
		m.mu.Unlock()
		m.log.Warn("session refused: gateway full", "user", u.Name, "remote", u.RemoteAddr, "sessions", n)
		return nil, fmt.Errorf("%w (%d/%d sessions)", ErrFull, n, m.cfg.MaxSessions)
	}
	key := u.Fingerprint
	if n := m.byKey[key]; key != "" && n >= m.cfg.MaxPerKey {
		m.mu.Unlock()
		m.log.Warn("session refused: key at its cap", "user", u.Name, "fingerprint", key, "remote", u.RemoteAddr, "sessions", n)
		return nil, fmt.Errorf("%w (%d of %d open); close one or ask an admin", ErrKeyFull, n, m.cfg.MaxPerKey)
	}
	s.id = m.newIDLocked()
	m.sessions[s.id] = s
	if key != "" {
		m.byKey[key]++
	}
	m.mu.Unlock()

	m.log.Info("session opened", "session", s.id, "user", u.Name, "fingerprint", u.Fingerprint,
		"role", u.Role, "kind", u.Kind, "remote", u.RemoteAddr)
	return s, nil
}

// newIDLocked picks an unused id: 8 hex digits from crypto/rand, short
// enough to type in "kick ID" and unguessable, so one user cannot aim at
// another's session without listing them (an admin-only command).
func (m *Manager) newIDLocked() string {
	var b [4]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
		id := hex.EncodeToString(b[:])
		if _, taken := m.sessions[id]; !taken {
			return id
		}
	}
}

// Close removes s (the user logged out or the connection dropped). It does
// not call the closer: whoever calls Close is already ending the
// connection. Safe to call more than once, and with nil.
func (m *Manager) Close(s *Session) {
	if s != nil {
		m.end(s, "")
	}
}

// Kick ends the session with id, telling its user reason.
func (m *Manager) Kick(id, reason string) error {
	if reason == "" {
		reason = "closed by an administrator"
	}
	s, ok := m.Get(id)
	if !ok || !m.end(s, reason) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}

// CloseAll ends every session with reason (for a graceful shutdown) and
// returns how many it ended.
func (m *Manager) CloseAll(reason string) int {
	n := 0
	for _, s := range m.snapshot() {
		if m.end(s, reason) {
			n++
		}
	}
	return n
}

// end removes s and, when the manager is ending it (reason set), calls its
// closer. It reports whether this call did the removal, so concurrent
// Kick, reaper and Close agree on exactly one winner. The closer runs with
// no lock held: it typically writes to the user's connection, which may
// block briefly, and it may call back into the session or the manager.
func (m *Manager) end(s *Session, reason string) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed, s.reason = true, reason
	closer := s.closer
	if reason == "" || closer == nil {
		closer = nil // a later SetCloser calls it if reason is set
	} else {
		s.closerCalled = true
	}
	s.mu.Unlock()

	m.mu.Lock()
	delete(m.sessions, s.id)
	if key := s.user.Fingerprint; key != "" {
		if m.byKey[key]--; m.byKey[key] <= 0 {
			delete(m.byKey, key)
		}
	}
	m.mu.Unlock()

	attrs := []any{"session", s.id, "user", s.user.Name, "lasted", m.now().Sub(s.created).Round(time.Second)}
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	m.log.Info("session closed", attrs...)
	if closer != nil {
		closer(reason)
	}
	return true
}

// Run reaps idle sessions every ReapInterval until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.ReapOnce(m.now())
		}
	}
}

// ReapOnce ends every session whose last user input is IdleTimeout or
// more before now, and returns how many it ended. Each closer gets a reason
// like "idle for 1h (limit 1h)".
func (m *Manager) ReapOnce(now time.Time) int {
	limit := m.cfg.IdleTimeout
	n := 0
	for _, s := range m.snapshot() {
		// Checked per session right before ending it, not in one pass up
		// front: an earlier closer may take a moment, and a keystroke that
		// arrives meanwhile must save its session.
		idle := s.IdleFor(now)
		if idle < limit {
			continue
		}
		if m.end(s, fmt.Sprintf("idle for %s (limit %s)", format.Typed(idle.Round(time.Second)), format.Typed(limit))) {
			n++
		}
	}
	return n
}

// snapshot returns the open sessions, so callers can work on them without
// holding the manager's lock.
func (m *Manager) snapshot() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// Info describes one open session, for listings.
type Info struct {
	ID           string
	User         User // includes kind and remote address
	Radio        string
	Created      time.Time
	LastActivity time.Time
	Idle         time.Duration // as of the List call
	Packets      uint64        // observed since the session bound its radio
	Drops        uint64
}

// List describes the open sessions, oldest first. The result is a copy.
func (m *Manager) List() []Info {
	now := m.now()
	ss := m.snapshot()
	out := make([]Info, len(ss))
	for i, s := range ss {
		out[i] = s.info(now)
	}
	slices.SortFunc(out, func(a, b Info) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Get returns the open session with id.
func (m *Manager) Get(id string) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	return s, ok
}

// CountForKey is the number of open sessions of the key with fingerprint.
func (m *Manager) CountForKey(fingerprint string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byKey[fingerprint]
}

// Count is the number of open sessions.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// CountOnRadio is the number of open sessions bound to radio.
func (m *Manager) CountOnRadio(radio string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if s.Radio() == radio {
			n++
		}
	}
	return n
}
