package sessions

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenRefusesAtCap(t *testing.T) {
	m, _ := newTestManager(t, Config{})
	var open []*Session
	for i := range DefaultMaxSessions {
		open = append(open, mustOpen(t, m, string(rune('a'+i))))
	}
	s, err := m.Open(User{Name: "late"})
	if s != nil || !errors.Is(err, ErrFull) {
		t.Fatalf("Open at the cap = %v, %v; want ErrFull", s, err)
	}
	if err.Error() != "gateway full (10/10 sessions)" {
		t.Fatalf("message %q", err)
	}

	open[3].Close()
	if m.Count() != 9 {
		t.Fatalf("Count after Close = %d", m.Count())
	}
	if _, err := m.Open(User{Name: "late"}); err != nil {
		t.Fatalf("Open after a slot freed: %v", err)
	}

	small, _ := newTestManager(t, Config{MaxSessions: 2})
	mustOpen(t, small, "a")
	mustOpen(t, small, "b")
	if _, err := small.Open(User{}); err == nil || err.Error() != "gateway full (2/2 sessions)" {
		t.Fatalf("cap 2: %v", err)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	m, _ := newTestManager(t, Config{})
	a, b := mustOpen(t, m, "a"), mustOpen(t, m, "b")
	a.Close()
	a.Close()
	m.Close(a)
	m.Close(nil)
	if m.Count() != 1 || !a.Closed() || b.Closed() {
		t.Fatalf("Count %d, a closed %v, b closed %v", m.Count(), a.Closed(), b.Closed())
	}
	if _, ok := m.Get(a.ID()); ok {
		t.Fatal("closed session still listed")
	}
	if got, ok := m.Get(b.ID()); !ok || got != b {
		t.Fatal("Get(b) lost the open session")
	}
}

func TestIDsAreShortHexAndUnique(t *testing.T) {
	m, _ := newTestManager(t, Config{MaxSessions: 500})
	seen := map[string]bool{}
	for range 500 {
		id := mustOpen(t, m, "u").ID()
		if len(id) != 8 || seen[id] {
			t.Fatalf("id %q (len %d, seen before %v)", id, len(id), seen[id])
		}
		for _, c := range id {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				t.Fatalf("id %q is not lowercase hex", id)
			}
		}
		seen[id] = true
	}
}

// TestReaperCountsInputOnly is the rule the reaper exists for: packets
// (output) arriving for a session never keep it alive; only Touch does.
func TestReaperCountsInputOnly(t *testing.T) {
	m, clock := newTestManager(t, Config{IdleTimeout: time.Hour})
	watcher, typist := mustOpen(t, m, "watcher"), mustOpen(t, m, "typist")
	watcher.Bind("base")
	var reasons []string
	watcher.SetCloser(func(r string) { reasons = append(reasons, "watcher: "+r) })
	typist.SetCloser(func(r string) { reasons = append(reasons, "typist: "+r) })
	opened := watcher.LastActivity()

	clock.Advance(30 * time.Minute)
	typist.Touch()
	for i := range 100 {
		watcher.Observe(rfPacket(uint32(i+1)), clock.Now())
	}
	if !watcher.LastActivity().Equal(opened) {
		t.Fatal("Observe moved the activity clock")
	}

	clock.Advance(30*time.Minute - time.Second)
	if n := m.ReapOnce(clock.Now()); n != 0 {
		t.Fatalf("reaped %d sessions before the timeout", n)
	}
	clock.Advance(time.Second)
	if n := m.ReapOnce(clock.Now()); n != 1 {
		t.Fatalf("reaped %d sessions, want only the watcher", n)
	}
	if len(reasons) != 1 || reasons[0] != "watcher: idle for 1h (limit 1h)" {
		t.Fatalf("closer calls %q", reasons)
	}
	if !watcher.Closed() || typist.Closed() || m.Count() != 1 {
		t.Fatalf("watcher closed %v, typist closed %v, count %d", watcher.Closed(), typist.Closed(), m.Count())
	}
	if got := typist.IdleFor(clock.Now()); got != 30*time.Minute {
		t.Fatalf("typist idle for %s", got)
	}

	// Output to a closed session is ignored rather than kept alive.
	watcher.Observe(rfPacket(1), clock.Now())

	clock.Advance(30 * time.Minute)
	m.ReapOnce(clock.Now())
	if m.Count() != 0 || reasons[1] != "typist: idle for 1h (limit 1h)" {
		t.Fatalf("count %d, reasons %q", m.Count(), reasons)
	}
}

// TestCloserCalledOnceOutsideLocks: the closer may block for a moment and
// call back into the manager and the session; nothing else waits on it
// and it runs exactly once whoever ends the session.
func TestCloserCalledOnceOutsideLocks(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	s := mustOpen(t, m, "victim")
	other := mustOpen(t, m, "bystander")

	var calls atomic.Int32
	inside, release := make(chan struct{}), make(chan struct{})
	s.SetCloser(func(reason string) {
		calls.Add(1)
		// Re-entering would deadlock if any lock were held.
		_ = m.List()
		_ = m.Count()
		_ = s.Packets()
		_ = s.Closed()
		s.Close()
		close(inside)
		<-release // blocks "briefly", as a slow connection write would
	})

	done := make(chan error, 1)
	go func() { done <- m.Kick(s.ID(), "maintenance") }()
	select {
	case <-inside:
	case <-time.After(5 * time.Second):
		t.Fatal("closer never ran, or deadlocked re-entering the manager")
	}
	// While the closer blocks, everyone else carries on.
	other.Touch()
	other.Observe(rfPacket(7), clock.Now())
	if len(m.List()) != 1 {
		t.Fatal("kicked session still listed while its closer runs")
	}
	extra := mustOpen(t, m, "newcomer")
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Kick: %v", err)
	}

	// Every other way of ending it is now a no-op.
	if err := m.Kick(s.ID(), "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Kick: %v", err)
	}
	clock.Advance(24 * time.Hour)
	m.ReapOnce(clock.Now())
	m.CloseAll("shutdown")
	s.Close()
	if calls.Load() != 1 {
		t.Fatalf("closer called %d times", calls.Load())
	}
	if !extra.Closed() || !other.Closed() {
		t.Fatal("reaper left the others open")
	}
}

func TestCloserRacingEnders(t *testing.T) {
	for range 50 {
		m, clock := newTestManager(t, Config{})
		s := mustOpen(t, m, "x")
		var calls atomic.Int32
		s.SetCloser(func(string) { calls.Add(1) })
		clock.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		wg.Go(func() { m.ReapOnce(clock.Now()) })
		wg.Go(func() { _ = m.Kick(s.ID(), "kick") })
		wg.Go(func() { m.CloseAll("shutdown") })
		wg.Wait()
		if calls.Load() != 1 {
			t.Fatalf("closer called %d times", calls.Load())
		}
	}
}

// TestCloserSetAfterEnd covers a session reaped or kicked in the instant
// between Open and SetCloser: the closer still learns why.
func TestCloserSetAfterEnd(t *testing.T) {
	m, _ := newTestManager(t, Config{})
	s := mustOpen(t, m, "slow")
	if err := m.Kick(s.ID(), ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	s.SetCloser(func(r string) { got = append(got, r) })
	s.SetCloser(func(r string) { got = append(got, "twice: "+r) })
	if len(got) != 1 || got[0] != "closed by an administrator" {
		t.Fatalf("closer calls %q", got)
	}

	// A plain Close is the caller's own doing: no closer call, ever.
	quiet := mustOpen(t, m, "quiet")
	quiet.Close()
	quiet.SetCloser(func(string) { t.Error("closer called after a plain Close") })
}

func TestKick(t *testing.T) {
	m, _ := newTestManager(t, Config{})
	a, b := mustOpen(t, m, "a"), mustOpen(t, m, "b")
	var reason string
	a.SetCloser(func(r string) { reason = r })
	if err := m.Kick(a.ID(), "kicked by alice"); err != nil {
		t.Fatal(err)
	}
	if reason != "kicked by alice" || !a.Closed() || b.Closed() || m.Count() != 1 {
		t.Fatalf("reason %q, a closed %v, b closed %v, count %d", reason, a.Closed(), b.Closed(), m.Count())
	}
	err := m.Kick("nope", "x")
	if !errors.Is(err, ErrNotFound) || err.Error() != "no such session: nope" {
		t.Fatalf("Kick(unknown) = %v", err)
	}
}

func TestListIsACopy(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	a := mustOpen(t, m, "a")
	clock.Advance(time.Minute)
	b := mustOpen(t, m, "b")
	b.Bind("base")
	b.AddDrops(3)
	b.Observe(rfPacket(5), clock.Now())
	clock.Advance(time.Minute)

	l := m.List()
	if len(l) != 2 || l[0].ID != a.ID() || l[1].ID != b.ID() {
		t.Fatalf("List order: %+v", l)
	}
	got := l[1]
	if got.User.Name != "b" || got.User.Kind != TUI || got.User.RemoteAddr != "192.0.2.1:5000" ||
		got.Radio != "base" || got.Packets != 1 || got.Drops != 3 || got.Idle != time.Minute ||
		!got.Created.Equal(b.Created()) || !got.LastActivity.Equal(b.LastActivity()) {
		t.Fatalf("Info: %+v", got)
	}
	l[1].User.Name = "mallory"
	l[1].Radio = "other"
	b.Touch()
	if again := m.List(); again[1].User.Name != "b" || again[1].Radio != "base" || again[1].Idle != 0 || l[1].Idle != time.Minute {
		t.Fatalf("List shares state: %+v vs %+v", again[1], l[1])
	}
}

func TestCountOnRadio(t *testing.T) {
	m, _ := newTestManager(t, Config{})
	a, b, c := mustOpen(t, m, "a"), mustOpen(t, m, "b"), mustOpen(t, m, "c")
	a.Bind("base")
	b.Bind("base")
	c.Bind("field")
	if m.CountOnRadio("base") != 2 || m.CountOnRadio("field") != 1 || m.CountOnRadio("") != 0 {
		t.Fatal("counts before")
	}
	b.Close()
	c.Bind("")
	if m.CountOnRadio("base") != 1 || m.CountOnRadio("field") != 0 || c.Radio() != "" {
		t.Fatal("counts after")
	}
}

func TestConfigNormalize(t *testing.T) {
	got := Config{}.normalize()
	if got.MaxSessions != 10 || got.MaxPerKey != 5 || got.IdleTimeout != time.Hour || got.ReapInterval != 5*time.Minute ||
		got.PacketLog != 500 || got.Now == nil || got.Logger == nil {
		t.Fatalf("defaults: %+v", got)
	}
	got = Config{MaxSessions: -3, MaxPerKey: -1, IdleTimeout: time.Millisecond, ReapInterval: time.Nanosecond, PacketLog: 1 << 30}.normalize()
	if got.MaxSessions != 10 || got.MaxPerKey != 5 || got.IdleTimeout != time.Second || got.ReapInterval != 10*time.Millisecond || got.PacketLog != 100_000 {
		t.Fatalf("clamped: %+v", got)
	}
	// Reaping less often than the timeout would let sessions overstay.
	got = Config{IdleTimeout: time.Minute, ReapInterval: time.Hour}.normalize()
	if got.ReapInterval != time.Minute {
		t.Fatalf("reap interval %s with a 1m timeout", got.ReapInterval)
	}
	if got = (Config{IdleTimeout: 90 * time.Second}).normalize(); got.ReapInterval != 90*time.Second {
		t.Fatalf("default reap interval with a 90s timeout: %s", got.ReapInterval)
	}
}

// TestRunReapsAndStops runs the real reaper loop: it reaps on its ticker,
// returns when the context ends, and leaves no goroutine behind.
func TestRunReapsAndStops(t *testing.T) {
	base := runtime.NumGoroutine()
	m, clock := newTestManager(t, Config{IdleTimeout: time.Hour, ReapInterval: 10 * time.Millisecond})
	s := mustOpen(t, m, "sleeper")
	reaped := make(chan string, 1)
	s.SetCloser(func(r string) { reaped <- r })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Run(ctx)
		close(done)
	}()
	clock.Advance(2 * time.Hour)
	select {
	case r := <-reaped:
		if r != "idle for 2h (limit 1h)" {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not reap")
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d, baseline %d", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseAll(t *testing.T) {
	m, _ := newTestManager(t, Config{})
	var n atomic.Int32
	for range 4 {
		mustOpen(t, m, "u").SetCloser(func(r string) {
			if r == "gateway shutting down" {
				n.Add(1)
			}
		})
	}
	if got := m.CloseAll("gateway shutting down"); got != 4 || n.Load() != 4 || m.Count() != 0 {
		t.Fatalf("CloseAll ended %d, closers %d, left %d", got, n.Load(), m.Count())
	}
}
