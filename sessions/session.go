package sessions

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Kind says how the user reached the gateway.
type Kind uint8

// Session kinds.
const (
	TUI  Kind = iota + 1 // an interactive terminal UI (a PTY was requested)
	Exec                 // one command, then exit
	Node                 // a virtual node client: an app using a radio's API
)

func (k Kind) String() string {
	switch k {
	case TUI:
		return "tui"
	case Exec:
		return "exec"
	case Node:
		return "node"
	}
	return "unknown"
}

// MarshalText lets Kind appear as "tui", "exec" or "node" in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// User is who opened a session and how. The server fills it from the
// authenticated public key, never from anything the client claims.
type User struct {
	Name        string // the key's comment or configured name
	Fingerprint string // SHA256 fingerprint of the key that signed in
	Role        string // viewer, operator or admin
	RemoteAddr  string
	Kind        Kind
	Command     string // the exec command line; empty for TUI sessions
}

// Session is the record of one SSH login. Create it with Manager.Open.
type Session struct {
	m       *Manager
	id      string
	user    User
	created time.Time

	// Hot fields, written without the lock. lastInput is the time of the
	// last user input as an offset from the manager's epoch (see stamp).
	lastInput atomic.Int64
	drops     atomic.Uint64
	radio     atomic.Pointer[string] // nil: not bound

	mu sync.Mutex
	// Lifecycle, under mu.
	closed       bool
	reason       string // why the manager ended it; empty for a plain Close
	closer       func(reason string)
	closerCalled bool
	// Per-radio state, under mu; Bind starts it afresh.
	packets Ring[LoggedPacket]
	health  MQTTHealth
	traces  Ring[TraceResult]
	sweep   SweepStatus
	filters Filters
}

// ID is the session's short random hex id, unique among open sessions.
func (s *Session) ID() string { return s.id }

// User is who opened the session.
func (s *Session) User() User { return s.user }

// Created is when the session was opened.
func (s *Session) Created() time.Time { return s.created }

// Touch records user input: call it for every keystroke, mouse event or
// paste in the TUI and for every exec command. It reads the clock and does
// one atomic store, with no lock, so it can run on every key.
//
// Never call it for output — redraws, ticks, arriving packets, keepalives,
// progress of a sweep. A session that only receives output must still go
// idle and be reaped; that is the point of keeping this clock instead of
// relying on the SSH connection's idle timeout, which any traffic resets.
func (s *Session) Touch() { s.stamp(s.m.now()) }

// stamp stores t as an offset from the manager's epoch rather than as wall
// time: with the real clock both carry a monotonic reading, so the offset
// (and every idle duration computed from it) is immune to wall-clock jumps.
func (s *Session) stamp(t time.Time) { s.lastInput.Store(int64(t.Sub(s.m.epoch))) }

// LastActivity is the time of the last user input (Open counts as one).
func (s *Session) LastActivity() time.Time {
	return s.m.epoch.Add(time.Duration(s.lastInput.Load()))
}

// IdleFor is how long the user has done nothing, as of now.
func (s *Session) IdleFor(now time.Time) time.Duration { return now.Sub(s.LastActivity()) }

// Drops is how many events the session's queue dropped because the client
// did not keep up. It counts over the session's life, across radios.
func (s *Session) Drops() uint64 { return s.drops.Load() }

// AddDrops adds n dropped events (the broker's fan-out calls it).
func (s *Session) AddDrops(n uint64) { s.drops.Add(n) }

// Radio is the name of the bound radio; empty if none.
func (s *Session) Radio() string {
	if r := s.radio.Load(); r != nil {
		return *r
	}
	return ""
}

// Bind binds the session to a radio; "" unbinds it. Binding a different
// radio starts the per-radio state afresh (packet log, MQTT health,
// traceroutes, sweep, filters: node numbers and ports chosen on one mesh
// mean little on another); binding the same radio again changes nothing.
//
// Unsubscribe from the old radio before binding: packets observed after
// Bind count for the new one.
func (s *Session) Bind(radio string) {
	now := s.m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if radio == s.Radio() {
		return
	}
	s.packets.Reset()
	s.traces.Reset()
	s.health = MQTTHealth{Since: now}
	s.sweep = SweepStatus{}
	s.filters = Filters{}
	if radio == "" {
		s.radio.Store(nil)
	} else {
		s.radio.Store(&radio)
	}
}

// Recall counts in the MQTT health a packet the radio heard before the
// session bound it, from the radio's shared recent history, so that the
// numbers mean something from the first screen rather than "nothing heard
// yet". Call it between Bind and subscribing to the radio's live packets,
// which Observe counts, so that no packet counts twice.
func (s *Session) Recall(p *pb.MeshPacket, at time.Time) {
	if p == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.radio.Load() == nil {
		return
	}
	s.health.observe(p, at)
	if at.Before(s.health.Since) {
		s.health.Since = at
	}
}

// Observe records a packet the session received at at: it goes into the
// packet log and the MQTT health counts. The packet is kept by reference
// and must not be modified afterwards. Observe is output, not activity: it
// never touches the idle clock. It ignores nil packets and closed sessions.
func (s *Session) Observe(p *pb.MeshPacket, at time.Time) {
	if p == nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.packets.Push(LoggedPacket{At: at, Packet: p})
		s.health.observe(p, at)
	}
	s.mu.Unlock()
}

// ObserveSent records a packet the gateway sent at at: it goes into the
// packet log marked outgoing, and counts as nothing heard.
func (s *Session) ObserveSent(p *pb.MeshPacket, at time.Time) {
	if p == nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.packets.Push(LoggedPacket{At: at, Packet: p, Outgoing: true})
	}
	s.mu.Unlock()
}

// Packets returns the packet log, oldest first: the session's own view of
// the radio since it bound, up to the configured capacity.
func (s *Session) Packets() []LoggedPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets.Items()
}

// LastPackets returns the newest n logged packets, oldest first.
func (s *Session) LastPackets(n int) []LoggedPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets.Last(n)
}

// PacketsSeen is how many packets the session observed since it bound,
// including those the log no longer holds.
func (s *Session) PacketsSeen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets.Total()
}

// MQTTHealth returns a copy of the RF/MQTT counts since the session bound.
// It copies the per-node map, so it costs O(nodes heard).
func (s *Session) MQTTHealth() MQTTHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health.clone()
}

// AddTrace records a traceroute result. Only the newest 100 are kept.
func (s *Session) AddTrace(t TraceResult) {
	s.mu.Lock()
	s.traces.Push(t)
	s.mu.Unlock()
}

// Traces returns the kept traceroute results, newest first.
func (s *Session) Traces() []TraceResult {
	s.mu.Lock()
	out := s.traces.Items()
	s.mu.Unlock()
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// SetSweep publishes the sweep status; the session keeps its own copy.
func (s *Session) SetSweep(st SweepStatus) {
	st = st.Clone()
	s.mu.Lock()
	s.sweep = st
	s.mu.Unlock()
}

// Sweep returns a copy of the sweep status.
func (s *Session) Sweep() SweepStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sweep.Clone()
}

// SetFilters stores the view filters; the session keeps its own copy.
func (s *Session) SetFilters(f Filters) {
	f = f.Clone()
	s.mu.Lock()
	s.filters = f
	s.mu.Unlock()
}

// Filters returns a copy of the view filters.
func (s *Session) Filters() Filters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filters.Clone()
}

// SetCloser tells the session how to end its SSH connection when the
// manager ends it (idle reaper, Kick, CloseAll): f is called once, with the
// reason, outside any lock, after the record is already gone. f should tell
// the user the reason and close the connection; it may block briefly but
// should not wait for the connection's handler to return. If the manager
// ended the session before a closer was set, f is called right away.
// A plain Close (the user logged out) does not call it.
func (s *Session) SetCloser(f func(reason string)) {
	s.mu.Lock()
	s.closer = f
	call := f != nil && s.reason != "" && !s.closerCalled
	if call {
		s.closerCalled = true
	}
	reason := s.reason
	s.mu.Unlock()
	if call {
		f(reason)
	}
}

// Close removes the record (the user is gone). Safe to call more than once
// and after the manager ended the session.
func (s *Session) Close() { s.m.Close(s) }

// EndedBy reports whether the manager ended the session — the idle
// reaper, Kick or CloseAll, as opposed to the user leaving — and the
// reason it gave. It stays true once set.
func (s *Session) EndedBy() (reason string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason, s.reason != ""
}

// Closed reports whether the session has been closed or ended.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// info snapshots the record for List.
func (s *Session) info(now time.Time) Info {
	s.mu.Lock()
	seen := s.packets.Total()
	s.mu.Unlock()
	last := s.LastActivity()
	return Info{
		ID: s.id, User: s.user, Radio: s.Radio(),
		Created: s.created, LastActivity: last, Idle: now.Sub(last),
		Packets: seen, Drops: s.Drops(),
	}
}
