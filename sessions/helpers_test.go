package sessions

import (
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// fakeClock is a settable clock for reaper tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestManager(t testing.TB, cfg Config) (*Manager, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	return NewManager(cfg), clock
}

func mustOpen(t testing.TB, m *Manager, name string) *Session {
	t.Helper()
	s, err := m.Open(User{Name: name, Role: "operator", Kind: TUI, RemoteAddr: "192.0.2.1:5000"})
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	return s
}

func rfPacket(from uint32) *pb.MeshPacket {
	return &pb.MeshPacket{From: from, To: 0xFFFFFFFF, TransportMechanism: pb.MeshPacket_TRANSPORT_LORA}
}

func mqttPacket(from uint32) *pb.MeshPacket {
	return &pb.MeshPacket{From: from, To: 0xFFFFFFFF, ViaMqtt: true}
}
