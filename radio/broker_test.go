package radio

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// simRadio serves a simulated radio with short delays on loopback.
func simRadio(t testing.TB, cfg sim.Config) (*sim.Radio, string) {
	t.Helper()
	fast := simtest.Fast(cfg.Seed, cfg.Nodes)
	cfg.AckDelay, cfg.TracerouteDelay, cfg.RebootDowntime = fast.AckDelay, fast.TracerouteDelay, fast.RebootDowntime
	return simtest.Start(t, cfg)
}

// startBroker runs a broker for addr until the test ends; cfg.Dial, when
// set, replaces the plain dialler.
func startBroker(t testing.TB, addr string, cfg Config) *Broker {
	t.Helper()
	a, err := transport.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Name, cfg.Address = "test", addr
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, a) }
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
	}
	cfg.Client.WakeDelay = time.Millisecond
	b := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("broker did not stop")
		}
	})
	return b
}

func waitState(t testing.TB, b *Broker, want State, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for b.Status().State != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s (%+v)", b.Status().State, want, b.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count reads packets from a subscription until n arrive or d passes.
func count(sub *Subscription, n int, d time.Duration) int {
	got := 0
	deadline := time.After(d)
	for got < n {
		select {
		case ev := <-sub.Events():
			if ev.Kind == EvPacket {
				got++
			}
		case <-deadline:
			return got
		}
	}
	return got
}

func TestOneLinkSharedAndGraceClose(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 1, Nodes: 10, TrafficInterval: 20 * time.Millisecond})
	b := startBroker(t, addr, Config{Grace: 300 * time.Millisecond})
	if b.Status().State != Idle {
		t.Fatalf("connected with nobody subscribed: %s", b.Status().State)
	}
	subs := []*Subscription{b.Subscribe("a"), b.Subscribe("b"), b.Subscribe("c")}
	waitState(t, b, Connected, 5*time.Second)
	for _, s := range subs {
		if got := count(s, 5, 5*time.Second); got != 5 {
			t.Fatalf("subscriber got %d packets", got)
		}
	}
	if n := r.Stats().Accepted; n != 1 {
		t.Fatalf("radio accepted %d connections for 3 subscribers", n)
	}
	if v := b.View(); len(v.Nodes) != 11 {
		t.Fatalf("shared NodeDB: %d nodes", len(v.Nodes))
	}
	for _, s := range subs {
		s.Close()
	}
	waitState(t, b, Idle, 5*time.Second)
	s := b.Subscribe("again")
	defer s.Close()
	waitState(t, b, Connected, 5*time.Second)
	if n := r.Stats().Accepted; n != 2 {
		t.Fatalf("radio accepted %d connections, want 2 (one per busy period)", n)
	}
	if b.Status().Reconnects != 1 {
		t.Fatalf("reconnects: %d", b.Status().Reconnects)
	}
}

func TestSlowSubscriberLosesOnlyItsOwnEvents(t *testing.T) {
	_, addr := simRadio(t, sim.Config{Seed: 2, Nodes: 10, TrafficInterval: 2 * time.Millisecond})
	b := startBroker(t, addr, Config{QueueLen: 256})
	slow := b.Subscribe("slow") // never read
	defer slow.Close()
	fast := b.Subscribe("fast")
	defer fast.Close()
	waitState(t, b, Connected, 5*time.Second)
	if got := count(fast, 500, 20*time.Second); got != 500 {
		t.Fatalf("fast subscriber got %d of 500 packets", got)
	}
	if slow.Drops() == 0 || fast.Drops() != 0 {
		t.Fatalf("drops: slow %d, fast %d", slow.Drops(), fast.Drops())
	}
	if len(slow.Events()) != 256 {
		t.Fatalf("slow queue holds %d events, want its capacity", len(slow.Events()))
	}
}

// A radio another app keeps grabbing is marked contended and retried
// slowly instead of in a tight loop.
func TestContendedRadio(t *testing.T) {
	_, addr := simRadio(t, sim.Config{Seed: 3, Nodes: 3})
	b := startBroker(t, addr, Config{ContendedAfter: 2, ContendedRetry: 10 * time.Second,
		Client: meshtastic.Options{ContendedWindow: 5 * time.Second}})
	sub := b.Subscribe("u")
	defer sub.Close()
	// The rival: an app that reconnects as soon as it is kicked.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: time.Millisecond})
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
			}
			_ = c.Close()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	waitState(t, b, Contended, 10*time.Second)
	st := b.Status()
	if !errors.Is(errors.New(st.LastError), meshtastic.ErrContended) && st.LastError == "" {
		t.Fatalf("no reason given: %+v", st)
	}
	if until := time.Until(st.RetryAt); until < 5*time.Second {
		t.Fatalf("contended radio retried after only %s", until)
	}
}

func TestTracerouteQueuePacing(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 4, Nodes: 12, Limits: sim.RateLimits{Traceroute: -1}})
	pace := 300 * time.Millisecond
	b := startBroker(t, addr, Config{TracePace: pace, TraceTimeout: 3 * time.Second})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	var targets []uint32
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() {
			targets = append(targets, n.GetNum())
		}
	}
	type res struct {
		at       time.Time
		maxAhead int
		err      error
	}
	results := make([]res, 3)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			maxAhead := 0
			_, err := b.Traceroute(context.Background(), targets[i], meshtastic.TraceOptions{}, func(p Position) {
				mu.Lock()
				maxAhead = max(maxAhead, p.Ahead)
				mu.Unlock()
			})
			mu.Lock()
			results[i] = res{time.Now(), maxAhead, err}
			mu.Unlock()
		}()
		time.Sleep(20 * time.Millisecond) // queue them in order
	}
	wg.Wait()
	// The first runs at once; the third waits behind the second at least
	// (the first may already be done when the third arrives).
	if results[0].maxAhead != 0 || results[2].maxAhead < 1 {
		t.Fatalf("queue positions: %+v", results)
	}
	if d := results[2].at.Sub(start); d < 2*pace {
		t.Fatalf("three traceroutes done in %s; pacing is %s", d, pace)
	}
	for i, r := range results {
		if r.err != nil && !errors.Is(r.err, meshtastic.ErrNoResponse) {
			t.Fatalf("traceroute %d: %v", i, r.err)
		}
	}
}

// A traceroute on an idle queue runs at once, and its position says so:
// the last position a request hears while running is "now", never a
// start one pace away.
func TestTracerouteIdleQueueStartsNow(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 4, Nodes: 6, Limits: sim.RateLimits{Traceroute: -1}})
	pace := time.Hour // a wrong ETA would be far in the future
	b := startBroker(t, addr, Config{TracePace: pace, TraceTimeout: 3 * time.Second})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	var target uint32
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() {
			target = n.GetNum()
		}
	}
	var mu sync.Mutex
	var seen []Position
	_, err := b.Traceroute(context.Background(), target, meshtastic.TraceOptions{}, func(p Position) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	})
	if err != nil && !errors.Is(err, meshtastic.ErrNoResponse) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range seen {
		if p.Ahead != 0 || time.Until(p.ETA) > time.Minute {
			t.Fatalf("an idle queue's traceroute was told it starts later: %+v", seen)
		}
	}
}

func TestSendTextTracksDelivery(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 5, Nodes: 6, Limits: sim.RateLimits{Text: -1}})
	b := startBroker(t, addr, Config{TextPace: 10 * time.Millisecond})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	m, err := b.SendText(context.Background(), "tester", meshtastic.Text{Text: "hello all", WantAck: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Delivery != Pending || !m.Outgoing || m.SentBy != "tester" {
		t.Fatalf("sent message: %+v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := b.Message(m.ID)
		if got.Delivery == Acked {
			if got.AckFrom != "relay" {
				t.Fatalf("broadcast ack should be implicit: %+v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never acked: %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = r
}

func TestRebootReconnects(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 6, Nodes: 5, TrafficInterval: 20 * time.Millisecond})
	b := startBroker(t, addr, Config{})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	if err := b.Admin(context.Background(), func(ctx context.Context, c *meshtastic.Client) error {
		return c.Reboot(ctx, 0)
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Status().Reconnects < 1 || b.Status().State != Connected {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect: %+v", b.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Stats().Reboots != 1 {
		t.Fatal("radio did not reboot")
	}
	if got := count(sub, 3, 5*time.Second); got != 3 {
		t.Fatal("no packets after the reconnect")
	}
}
