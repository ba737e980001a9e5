package radio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// stoppableSim serves a simulated radio that the test can switch off
// (its listener and connections close, so dialling it is refused).
func stoppableSim(t *testing.T, seed int64) (addr string, stop func()) {
	t.Helper()
	r, err := sim.New(simtest.Fast(seed, 5))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("simulated radio did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// countingBroker is startBroker with the dials counted.
func countingBroker(t *testing.T, addr string, cfg Config) (*Broker, *atomic.Int64) {
	t.Helper()
	a, err := transport.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	cfg.Dial = func(ctx context.Context) (transport.Conn, error) {
		dials.Add(1)
		return transport.Dial(ctx, a)
	}
	return startBroker(t, addr, cfg), &dials
}

// A radio that goes away while nobody uses it shows Idle with the reason,
// not a retry that nobody will make; used again, it retries with a real
// RetryAt, and goes back to Idle when the user leaves.
func TestRadioLostWithNobodyIsIdle(t *testing.T) {
	addr, stop := stoppableSim(t, 31)
	b, dials := countingBroker(t, addr, Config{Grace: time.Minute, BackoffMin: 2 * time.Second, BackoffMax: 4 * time.Second,
		Client: meshtastic.Options{ContendedWindow: 20 * time.Millisecond}})
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 5*time.Second)
	sub.Close() // the link stays up for the grace period
	time.Sleep(100 * time.Millisecond)
	if st := b.Status(); st.State != Connected || st.Subscribers != 0 {
		t.Fatalf("after the last user left: %+v", st)
	}

	stop()
	waitState(t, b, Idle, 5*time.Second)
	st := b.Status()
	if !st.RetryAt.IsZero() || !strings.Contains(st.LastError, "closed the connection") || st.Reason != "the radio closed the connection" {
		t.Fatalf("idle after losing the radio: %+v", st)
	}
	n := dials.Load()
	time.Sleep(300 * time.Millisecond)
	if st := b.Status(); st.State != Idle || !st.RetryAt.IsZero() || dials.Load() != n {
		t.Fatalf("an unused radio is being retried: %+v, %d dials", st, dials.Load()-n)
	}

	// Someone wants it: the dial is refused and a retry is scheduled.
	sub = b.Subscribe("again")
	waitState(t, b, Backoff, 5*time.Second)
	st = b.Status()
	if !strings.Contains(st.LastError, "connection refused") || st.Reason != "connection refused" {
		t.Fatalf("backoff reason: %+v", st)
	}
	if until := time.Until(st.RetryAt); until <= 0 || until > 5*time.Second {
		t.Fatalf("retry at %v (in %s)", st.RetryAt, until)
	}
	// They leave: no retry any more, the reason stays.
	sub.Close()
	waitState(t, b, Idle, time.Second)
	if st := b.Status(); !st.RetryAt.IsZero() || st.Reason != "connection refused" || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("idle again: %+v", st)
	}
}

// A radio rebooted while nobody uses it is Idle until someone does, then
// connects at once.
func TestRebootWithNobodyIsIdle(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 32, Nodes: 5})
	b := startBroker(t, addr, Config{Grace: time.Minute, Client: meshtastic.Options{ContendedWindow: 20 * time.Millisecond}})
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 5*time.Second)
	sub.Close()
	time.Sleep(50 * time.Millisecond)
	if err := b.Admin(context.Background(), func(ctx context.Context, c *meshtastic.Client) error {
		return c.Reboot(ctx, 0)
	}); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, Idle, 5*time.Second)
	if st := b.Status(); !st.RetryAt.IsZero() || st.Subscribers != 0 || st.Reason != "the radio closed the connection" {
		t.Fatalf("after the reboot: %+v", st)
	}
	time.Sleep(500 * time.Millisecond) // the radio is back up by now
	if st := b.Status(); st.State != Idle || !st.RetryAt.IsZero() || r.Stats().Reboots != 1 {
		t.Fatalf("later: %+v", st)
	}
	sub = b.Subscribe("back")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	if st := b.Status(); st.LastError != "" || st.Reason != "" || !st.RetryAt.IsZero() {
		t.Fatalf("connected again: %+v", st)
	}
}

// A past RetryAt is never shown, whatever the loop is doing.
func TestStatusHidesPastRetry(t *testing.T) {
	b := New(Config{Name: "x"})
	b.setState(Backoff, errors.New("boom"), time.Now().Add(-time.Second))
	if st := b.Status(); !st.RetryAt.IsZero() || st.State != Backoff || st.Reason != "boom" {
		t.Fatalf("%+v", st)
	}
	future := time.Now().Add(time.Minute)
	b.setState(Backoff, errors.New("boom"), future)
	if st := b.Status(); !st.RetryAt.Equal(future) {
		t.Fatalf("%+v", st)
	}
}

func TestReasonOf(t *testing.T) {
	refused := fmt.Errorf("%w: 127.0.0.1:4403: %w", transport.ErrUnreachable,
		&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}})
	cases := map[error]string{
		refused: "connection refused",
		fmt.Errorf("handshake: %w", context.DeadlineExceeded):                        "timed out",
		fmt.Errorf("link: %w", meshtastic.ErrContended):                              "another app is using the radio",
		fmt.Errorf("read: %w", syscall.ECONNRESET):                                   "connection reset",
		&net.DNSError{Err: "no such host", Name: "radio.lan", IsNotFound: true}:      "unknown host radio.lan",
		fmt.Errorf("%w: /dev/ttyUSB0: %w", transport.ErrUnreachable, os.ErrNotExist): "device not found",
		errors.New("meshtastic: handshake failed: no config within 10s"):             "no config within 10s",
		errors.New("x: " + strings.Repeat("long words ", 10)):                        "long words long words long words long w…",
		errors.New("line one\nline two"):                                             "line one line two",
	}
	for err, want := range cases {
		if got := reasonOf(err); got != want {
			t.Errorf("reasonOf(%q) = %q, want %q", err, got, want)
		}
		if got := reasonOf(err); len([]rune(got)) > ReasonMax || strings.ContainsAny(got, "\n\r\t") {
			t.Errorf("reasonOf(%q) = %q: not one short line", err, got)
		}
	}
	if got := ShortReason("dial tcp 127.0.0.1:4403: connect: connection refused"); got != "connection refused" {
		t.Errorf("ShortReason: %q", got)
	}
	if reasonOf(nil) != "" {
		t.Error("reason without an error")
	}
}
