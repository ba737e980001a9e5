package sessions

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// BenchmarkObserve is the broker's per-packet, per-session cost once the
// log is full and the senders are known: the steady state of a busy radio.
func BenchmarkObserve(b *testing.B) {
	m, clock := newTestManager(b, Config{})
	s := mustOpen(b, m, "a")
	s.Bind("base")
	packets := make([]*pb.MeshPacket, 64)
	for i := range packets {
		if i%4 == 0 {
			packets[i] = mqttPacket(uint32(i + 1))
		} else {
			packets[i] = rfPacket(uint32(i + 1))
		}
	}
	now := clock.Now()
	for i := range DefaultPacketLog {
		s.Observe(packets[i%len(packets)], now)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Observe(packets[i%len(packets)], now)
		i++
	}
}

// BenchmarkTouch is the cost of one keystroke's bookkeeping with the real
// clock.
func BenchmarkTouch(b *testing.B) {
	m := NewManager(Config{})
	s := mustOpen(b, m, "a")
	b.ReportAllocs()
	for b.Loop() {
		s.Touch()
	}
}

// BenchmarkTouchParallel touches many sessions at once, as many users
// typing do; Touch takes no lock, so it scales with cores.
func BenchmarkTouchParallel(b *testing.B) {
	m := NewManager(Config{MaxSessions: 1024})
	b.ReportAllocs()
	b.RunParallel(func(p *testing.PB) {
		s := mustOpen(b, m, "a")
		for p.Next() {
			s.Touch()
		}
	})
}

func BenchmarkOpenClose(b *testing.B) {
	m := NewManager(Config{})
	u := User{Name: "a", Kind: TUI}
	b.ReportAllocs()
	for b.Loop() {
		s, err := m.Open(u)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// heapPerSession opens n sessions, lets prepare work on each, and returns
// the live heap they add, per session.
func heapPerSession(t testing.TB, n int, prepare func(*Session)) float64 {
	t.Helper()
	m := NewManager(Config{MaxSessions: n})
	users := make([]User, n)
	for i := range users {
		users[i] = User{Name: fmt.Sprint("user", i), Fingerprint: fmt.Sprint("SHA256:", i), Role: "viewer",
			RemoteAddr: fmt.Sprint("192.0.2.1:", 1024+i), Kind: TUI}
	}
	keep := make([]*Session, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, u := range users {
		s, err := m.Open(u)
		if err != nil {
			t.Fatal(err)
		}
		prepare(s)
		keep = append(keep, s)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	runtime.KeepAlive(m)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestBytesPerSession measures what a session record costs: idle (just
// opened) and bound to a busy radio with a full 500-packet log (packets
// themselves are shared, so they are not counted).
func TestBytesPerSession(t *testing.T) {
	idle := heapPerSession(t, 1000, func(*Session) {})
	t.Logf("idle session: %.0f bytes", idle)
	if idle > 2048 {
		t.Errorf("idle session costs %.0f bytes, budget 2 KiB", idle)
	}

	shared := make([]*pb.MeshPacket, 50)
	for i := range shared {
		shared[i] = rfPacket(uint32(i + 1))
	}
	at := time.Now()
	busy := heapPerSession(t, 200, func(s *Session) {
		s.Bind("base")
		for i := range DefaultPacketLog {
			s.Observe(shared[i%len(shared)], at)
		}
	})
	t.Logf("session with a full log from 50 nodes: %.0f bytes", busy)
}
