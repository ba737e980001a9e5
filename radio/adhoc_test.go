package radio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
)

// fakeResolver answers name lookups from a table the test may change.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
	calls map[string]int
}

func newResolver(names map[string]string) *fakeResolver {
	f := &fakeResolver{names: map[string][]netip.Addr{}, calls: map[string]int{}}
	for n, ips := range names {
		f.set(n, strings.Split(ips, ",")...)
	}
	return f
}

func (f *fakeResolver) set(name string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[name] = nil
	for _, ip := range ips {
		f.names[name] = append(f.names[name], netip.MustParseAddr(ip))
	}
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[host]++
	ips, ok := f.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips, nil
}

// adhocRegistry is a registry with short timings that may dial allow.
func adhocRegistry(t *testing.T, allow string, res Resolver, opts ...RegistryOption) *Registry {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reg := NewRegistry(ctx, Config{Grace: 100 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Client: meshtastic.Options{WakeDelay: time.Millisecond}},
		[]netip.Prefix{netip.MustParsePrefix(allow)}, append([]RegistryOption{WithResolver(res)}, opts...)...)
	t.Cleanup(func() { cancel(); reg.Wait() })
	return reg
}

func (r *Registry) adhocCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.adhoc)
}

// settledGoroutines is the goroutine count once it has stopped changing
// (a simulated radio just started is still starting its own).
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// waitGoroutines waits for the goroutine count to come back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > n {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d, want at most %d\n%s", got, n, buf[:runtime.Stack(buf, true)])
	}
}

// waitDropped waits until the registry no longer has the ad-hoc radio b
// and its broker has stopped.
func waitDropped(t *testing.T, reg *Registry, b *Broker) {
	t.Helper()
	waitState(t, b, Stopped, 5*time.Second)
	if got, err := reg.Get(b.Name()); err == nil && got == b {
		t.Fatalf("%s stopped but still in the registry", b.Name())
	}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Finding 4: every spelling of one endpoint (IPv4-mapped IPv6, a name,
// a scheme, no port meaning 4403) is one broker with one upstream link.
func TestAdhocSpellingsShareOneBroker(t *testing.T) {
	radio, addr := simRadio(t, sim.Config{Seed: 91, Nodes: 3})
	port := portOf(t, addr)
	res := newResolver(map[string]string{"localhost": "127.0.0.1", "radio.test": "::ffff:127.0.0.1"})
	reg := adhocRegistry(t, "127.0.0.0/8", res)

	want := "tcp://127.0.0.1:" + port
	var first *Broker
	for _, s := range []string{
		addr, "tcp://" + addr, " " + addr + " ", "tcp://" + addr + "/",
		"[::ffff:127.0.0.1]:" + port, "[::ffff:7f00:1]:" + port, "tcp://[::ffff:7f00:1]:" + port,
		"localhost:" + port, "radio.test:" + port, "tcp://radio.test:" + port, want,
	} {
		b, err := reg.Adhoc(s)
		if err != nil {
			t.Fatalf("Adhoc(%q): %v", s, err)
		}
		if b.Name() != want || b.Status().Address != want {
			t.Errorf("Adhoc(%q) is %q (%s), want %q", s, b.Name(), b.Status().Address, want)
		}
		if first == nil {
			first = b
		} else if b != first {
			t.Errorf("Adhoc(%q) made another broker", s)
		}
	}

	// Two users through two spellings: one upstream connection.
	s1 := first.Subscribe("a")
	defer s1.Close()
	b2, err := reg.Adhoc("[::ffff:7f00:1]:" + port)
	if err != nil {
		t.Fatal(err)
	}
	s2 := b2.Subscribe("b")
	defer s2.Close()
	waitState(t, first, Connected, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := radio.Stats().Accepted; n != 1 {
		t.Errorf("%d upstream connections for one endpoint, want 1", n)
	}
	if st := first.Status(); st.Subscribers != 2 {
		t.Errorf("subscribers %d, want 2", st.Subscribers)
	}

	// No port is the API port, 4403, however the address is written.
	var def *Broker
	for _, s := range []string{"127.0.0.200", "127.0.0.200:4403", "tcp://127.0.0.200", "[::ffff:7f00:c8]:4403",
		"::ffff:7f00:c8", "[::ffff:127.0.0.200]", "tcp://127.0.0.200:04403"} {
		b, err := reg.Adhoc(s)
		if err != nil {
			t.Fatalf("Adhoc(%q): %v", s, err)
		}
		if b.Name() != "tcp://127.0.0.200:4403" {
			t.Errorf("Adhoc(%q) is %q", s, b.Name())
		}
		if def == nil {
			def = b
		} else if b != def {
			t.Errorf("Adhoc(%q) made another broker", s)
		}
	}
	if n := reg.adhocCount(); n != 2 {
		t.Errorf("%d ad-hoc brokers for two endpoints", n)
	}
}

// Finding 4: an ad-hoc broker nobody has used for its grace period
// leaves the registry and its goroutines end; a broker in use stays.
func TestAdhocBrokerDroppedWhenUnused(t *testing.T) {
	_, addr := simRadio(t, sim.Config{Seed: 92, Nodes: 3})
	reg := adhocRegistry(t, "127.0.0.0/8", newResolver(nil))
	baseline := settledGoroutines()

	b, err := reg.Adhoc(addr)
	if err != nil {
		t.Fatal(err)
	}
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 5*time.Second)
	// In use for many grace periods: kept, and every dial finds it.
	time.Sleep(400 * time.Millisecond)
	if again, err := reg.Adhoc(addr); err != nil || again != b {
		t.Fatalf("a broker in use was replaced: %v", err)
	}
	if st := b.Status(); st.State != Connected {
		t.Fatalf("in use but %s", st.State)
	}
	sub.Close()
	waitDropped(t, reg, b)
	if _, err := reg.Get(b.Name()); !errors.Is(err, ErrUnknownRadio) {
		t.Errorf("Get after the drop: %v", err)
	}
	waitGoroutines(t, baseline)

	// Dialled again: a new broker, which works, and goes the same way.
	b2, err := reg.Adhoc(addr)
	if err != nil {
		t.Fatal(err)
	}
	if b2 == b {
		t.Fatal("the stopped broker came back")
	}
	sub = b2.Subscribe("u")
	waitState(t, b2, Connected, 5*time.Second)
	sub.Close()
	waitDropped(t, reg, b2)

	// Dialled and never used: dropped too.
	b3, err := reg.Adhoc("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	waitDropped(t, reg, b3)
	if n := reg.adhocCount(); n != 0 {
		t.Errorf("%d ad-hoc brokers left", n)
	}
	waitGoroutines(t, baseline)
}

// Finding 5: the broker dials the address Adhoc checked, as a literal IP,
// however the name resolves later (DNS rebinding); a name with any
// answer outside the ranges is refused.
func TestAdhocDialsTheCheckedAddress(t *testing.T) {
	// The checked radio on 127.0.0.1:P, and a trap on 127.0.0.2:P, which
	// the allowed range (127.0.0.1/32) leaves out.
	var radio *sim.Radio
	var port string
	var trap net.Listener
	for range 20 {
		r, addr := simRadio(t, sim.Config{Seed: 93, Nodes: 3})
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", portOf(t, addr)))
		if err == nil {
			radio, port, trap = r, portOf(t, addr), ln
			break
		}
	}
	if trap == nil {
		t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	}
	var trapped atomic.Int64
	trapDone := make(chan struct{})
	go func() {
		defer close(trapDone)
		for {
			c, err := trap.Accept()
			if err != nil {
				return
			}
			trapped.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = trap.Close(); <-trapDone })

	res := newResolver(map[string]string{"radio.test": "127.0.0.1", "mixed.test": "127.0.0.1,127.0.0.2"})
	reg := adhocRegistry(t, "127.0.0.1/32", res)

	if _, err := reg.Adhoc("mixed.test:" + port); !errors.Is(err, ErrDialDenied) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Errorf("a name resolving partly outside the ranges: %v", err)
	}
	b, err := reg.Adhoc("radio.test:" + port)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "tcp://127.0.0.1:"+port {
		t.Errorf("named %q, want the checked address", b.Name())
	}

	// The name now points outside: refused afresh, and the broker keeps
	// dialling what was checked, on every reconnect.
	res.set("radio.test", "127.0.0.2")
	if _, err := reg.Adhoc("radio.test:" + port); !errors.Is(err, ErrDialDenied) {
		t.Errorf("after rebinding: %v", err)
	}
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	for i := range 2 {
		// Another app takes the radio; the broker, still in use, takes it back.
		app, err := meshtastic.Dial(context.Background(), "127.0.0.1:"+port, meshtastic.Options{NoEvents: true, WakeDelay: -1})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for b.Status().Reconnects < i+1 || b.Status().State != Connected {
			if time.Now().After(deadline) {
				t.Fatalf("no reconnect %d: %+v", i+1, b.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = app.Close()
	}
	for i := range 3 {
		c, err := b.cfg.Dial(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.Remote() != "127.0.0.1:"+port {
			t.Errorf("dial %d reached %s", i, c.Remote())
		}
		_ = c.Close()
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("%d connections to the rebound address", n)
	}
	if n := radio.Stats().Accepted; n < 5 {
		t.Errorf("the checked radio saw %d connections, want at least 5 (3 from the broker, 2 from the other app)", n)
	}
	if n := res.calls["radio.test"]; n != 2 {
		t.Errorf("radio.test looked up %d times, want 2 (one per Adhoc)", n)
	}
}

// Finding 4: dialling a configured radio's endpoint by address, however
// written, is refused with the radio's name, so its permissions apply.
func TestAdhocEndpointOfConfiguredRadioRefused(t *testing.T) {
	_, addr := simRadio(t, sim.Config{Seed: 94, Nodes: 3})
	port := portOf(t, addr)
	res := newResolver(map[string]string{"base.lan": "127.0.0.1", "localhost": "127.0.0.1", "named.lan": "127.0.0.3",
		"both.lan": "127.0.0.9,::ffff:127.0.0.1"})
	reg := adhocRegistry(t, "127.0.0.0/8", res)
	if _, err := reg.Add("base", addr); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Add("named", "named.lan:4500"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Add("simmed", "sim://?seed=3&nodes=2"); err != nil {
		t.Fatal(err)
	}
	refused := func(addr, radio string) {
		t.Helper()
		b, err := reg.Adhoc(addr)
		if !errors.Is(err, ErrConfiguredRadio) {
			t.Errorf("Adhoc(%q): %v, %v; want ErrConfiguredRadio", addr, b, err)
			return
		}
		if want := fmt.Sprintf("is radio %q; use -r %s", radio, radio); !strings.Contains(err.Error(), want) {
			t.Errorf("Adhoc(%q): %q, want it to say %q", addr, err, want)
		}
	}
	for _, s := range []string{addr, "tcp://" + addr, "[::ffff:7f00:1]:" + port, "localhost:" + port, "base.lan:" + port, "both.lan:" + port} {
		refused(s, "base")
	}
	refused("127.0.0.3:4500", "named")
	refused("[::ffff:127.0.0.3]:4500", "named")
	reg.mu.Lock()
	simTarget := reg.targets["simmed"]
	reg.mu.Unlock()
	refused(simTarget, "simmed")
	if n := reg.adhocCount(); n != 0 {
		t.Errorf("%d ad-hoc brokers after refusals", n)
	}

	// Other ports of the same host are other endpoints.
	if _, err := reg.Adhoc("127.0.0.3:4501"); err != nil {
		t.Errorf("another port: %v", err)
	}
	if n := reg.adhocCount(); n != 1 {
		t.Errorf("%d ad-hoc brokers", n)
	}
}

// Finding 4: at most DefaultMaxAdhoc ad-hoc brokers are alive at once; a
// stream of dials to new endpoints waits for unused ones to go instead of
// piling up brokers.
func TestAdhocBrokersCapped(t *testing.T) {
	reg := adhocRegistry(t, "127.0.0.0/8", newResolver(nil))
	baseline := settledGoroutines()
	dial := func(port int) (*Broker, error) { return reg.Adhoc("127.0.0.200:" + strconv.Itoa(port)) }
	var held []*Broker
	for port := 1; port <= DefaultMaxAdhoc; port++ {
		b, err := dial(port)
		if err != nil {
			t.Fatalf("dial %d: %v", port, err)
		}
		held = append(held, b)
	}
	_, err := dial(DefaultMaxAdhoc + 1)
	if !errors.Is(err, ErrTooManyAdhoc) || !strings.Contains(err.Error(), "8 are in use") {
		t.Fatalf("dial beyond the cap: %v", err)
	}
	// An endpoint already alive is not one more.
	if b, err := dial(3); err != nil || b != held[2] {
		t.Fatalf("an endpoint already dialled: %v", err)
	}

	// A stream of new endpoints gets through as unused ones are dropped,
	// never more than the cap at once.
	for port := DefaultMaxAdhoc + 1; port <= 3*DefaultMaxAdhoc; port++ {
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := dial(port)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrTooManyAdhoc) || time.Now().After(deadline) {
				t.Fatalf("dial %d: %v", port, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := reg.adhocCount(); n > DefaultMaxAdhoc {
			t.Fatalf("%d ad-hoc brokers alive", n)
		}
	}
	for _, b := range held {
		waitDropped(t, reg, b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for reg.adhocCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d ad-hoc brokers never dropped", reg.adhocCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitGoroutines(t, baseline)

	// The cap is a registry option.
	small := adhocRegistry(t, "127.0.0.0/8", newResolver(nil), WithMaxAdhoc(1))
	if _, err := small.Adhoc("127.0.0.200:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Adhoc("127.0.0.200:2"); !errors.Is(err, ErrTooManyAdhoc) {
		t.Fatalf("beyond a cap of 1: %v", err)
	}
}
