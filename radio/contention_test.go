package radio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// The policy with the production defaults, step by step: what counts as
// contention, what resets the backoff, how rarely a contended radio is
// retried, and that a serial radio is never "another app".
func TestLinkPolicy(t *testing.T) {
	cfg := Config{}
	cfg.fill()
	p := newLinkPolicy(&cfg)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	kicked := fmt.Errorf("%w: the radio closed the connection: %w", meshtastic.ErrClosed, io.EOF)
	refused := fmt.Errorf("%w: dial: %w", transport.ErrUnreachable, syscall.ECONNREFUSED)
	timedOut := fmt.Errorf("%w: dial: %w", transport.ErrUnreachable, syscall.ETIMEDOUT)
	step := func(kind transport.Kind, linked bool, up time.Duration, err error) outcome {
		t.Helper()
		now = now.Add(up + time.Second)
		return p.failed(kind, linked, up, err, now)
	}
	within := func(o outcome, d time.Duration) {
		t.Helper()
		if o.wait < d*8/10 || o.wait > d*12/10 {
			t.Fatalf("waits %s, want about %s (%v)", o.wait, d, o.err)
		}
	}

	// The phone app takes the radio back 15 s after each of our connects.
	// The first try after the radio closed the link comes soon, then the
	// backoff's steps from 1 s.
	o := step(transport.TCP, true, 15*time.Second, kicked)
	if o.state != Backoff {
		t.Fatalf("first drop: %s", o.state)
	}
	within(o, 300*time.Millisecond)
	// A timeout in between does not reset the count; the backoff grows
	// with failed dials and starts again after each handshake. The first
	// step still comes 1 s after the drop.
	first := o.wait
	o = step(transport.TCP, false, 0, timedOut)
	within(outcome{wait: first + o.wait}, time.Second)
	within(step(transport.TCP, false, 0, timedOut), 2*time.Second)
	within(step(transport.TCP, true, 15*time.Second, kicked), 300*time.Millisecond)
	o = step(transport.TCP, true, 15*time.Second, kicked)
	if o.state != Contended || !errors.Is(o.err, meshtastic.ErrContended) || reasonOf(o.err) != "another app is using the radio" {
		t.Fatalf("third short link: %s %v", o.state, o.err)
	}
	within(o, 5*time.Minute)
	if !strings.Contains(o.err.Error(), "3 times within 1m of connecting in the last 10m") || !strings.Contains(o.err.Error(), "tries again in 5m") {
		t.Fatalf("contended message: %v", o.err)
	}
	// Still taken at the rare retry: retry even more rarely.
	o = step(transport.TCP, true, 15*time.Second, kicked)
	if o.state != Contended {
		t.Fatalf("retry while contended: %s", o.state)
	}
	within(o, 10*time.Minute)
	// Unreachable meanwhile: an ordinary backoff, not "another app".
	if o = step(transport.TCP, false, 0, timedOut); o.state != Backoff || errors.Is(o.err, meshtastic.ErrContended) {
		t.Fatalf("timeout while contended: %s %v", o.state, o.err)
	}
	// The next short link is contended at once (the flag is sticky).
	if o = step(transport.TCP, true, 2*time.Second, kicked); o.state != Contended {
		t.Fatalf("short link after a refusal: %s", o.state)
	}
	within(o, 20*time.Minute)
	within(step(transport.TCP, true, 2*time.Second, kicked), 30*time.Minute) // the cap
	// A refused dial means nothing was listening: the radio restarted, so
	// the short links were restarts, not another app. It starts afresh.
	if o = step(transport.TCP, false, 0, refused); o.state != Backoff {
		t.Fatalf("refused while contended: %s %v", o.state, o.err)
	}
	for i := range 2 {
		if o = step(transport.TCP, true, 2*time.Second, kicked); o.state != Backoff {
			t.Fatalf("short link %d after a refusal: %s", i+1, o.state)
		}
		within(o, 300*time.Millisecond)
	}
	if o = step(transport.TCP, true, 2*time.Second, kicked); o.state != Contended {
		t.Fatalf("third short link after a refusal: %s", o.state)
	}
	within(o, 5*time.Minute)
	// A link that holds clears everything.
	o = step(transport.TCP, true, 2*time.Hour, kicked)
	if o.state != Backoff {
		t.Fatalf("after a stable link: %s", o.state)
	}
	within(o, 300*time.Millisecond)
	// A link that ended some other way (the radio fell silent) gets the
	// ordinary backoff.
	within(step(transport.TCP, true, 2*time.Hour, fmt.Errorf("%w: nothing for 3m30s", ErrSilent)), time.Second)

	// Short links spread wider than the window are not contention.
	for range 5 {
		now = now.Add(6 * time.Minute)
		if o = step(transport.TCP, true, 15*time.Second, kicked); o.state != Backoff {
			t.Fatalf("sparse drops: %s", o.state)
		}
	}

	// Serial: the client calls an early drop "contended", but a serial
	// line has one user; repeated drops mean the radio keeps resetting.
	p = newLinkPolicy(&cfg)
	early := fmt.Errorf("%w (300ms after the handshake)", meshtastic.ErrContended)
	for i := range 4 {
		o = step(transport.Serial, true, 300*time.Millisecond, early)
		if o.state != Backoff || errors.Is(o.err, meshtastic.ErrContended) || strings.Contains(o.err.Error(), "another client") ||
			!errors.Is(o.err, ErrSerialLost) {
			t.Fatalf("serial drop %d: %s %v", i, o.state, o.err)
		}
		wantReason := "serial link lost"
		if i >= 2 {
			wantReason = "the radio keeps resetting"
		}
		if got := reasonOf(o.err); got != wantReason {
			t.Fatalf("serial drop %d: reason %q, want %q (%v)", i, got, wantReason, o.err)
		}
	}
	within(o, 8*time.Second) // the backoff kept growing
	// A handshake cut short on serial, and an unplugged device.
	if o = step(transport.Serial, false, 0, fmt.Errorf("%w (during the handshake)", meshtastic.ErrContended)); !errors.Is(o.err, ErrSerialLost) {
		t.Fatalf("serial handshake drop: %v", o.err)
	}
	gone := fmt.Errorf("%w: read /dev/ttyUSB0: %w", meshtastic.ErrClosed, syscall.EIO)
	if o = step(transport.Serial, true, time.Hour, gone); reasonOf(o.err) != "serial device gone" {
		t.Fatalf("unplugged: %q (%v)", reasonOf(o.err), o.err)
	}
}

// rivalApp is another app on the radio's API port that reconnects delay
// after it is kicked, as the phone app does (about 15 s). It runs until
// the test ends.
func rivalApp(t *testing.T, addr string, delay time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: -1})
			if err == nil {
				select {
				case <-c.Done():
				case <-ctx.Done():
				}
				_ = c.Close()
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// An app that comes back only after a while (longer than the client's
// "right after the handshake" window) used to be fought every second
// forever: each drop looked like an ordinary one and the backoff reset
// after every handshake. Scaled down 50 times: the app reconnects 300 ms
// after being kicked; a link must hold 1.2 s to count.
func TestContendedByAppReconnectingLate(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 41, Nodes: 3})
	b := startBroker(t, addr, Config{StableAfter: 1200 * time.Millisecond, ContendedWithin: 12 * time.Second,
		ContendedRetry: 20 * time.Second, Client: meshtastic.Options{ContendedWindow: 200 * time.Millisecond}})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	rivalApp(t, addr, 300*time.Millisecond)

	waitState(t, b, Contended, 15*time.Second)
	st := b.Status()
	if st.Reason != "another app is using the radio" || !strings.Contains(st.LastError, "times within") {
		t.Fatalf("contended status: %+v", st)
	}
	if until := time.Until(st.RetryAt); until < 10*time.Second {
		t.Fatalf("contended radio retried after only %s", until)
	}
	// Stepped back: the other app keeps the radio.
	kicks := r.Stats().Kicked
	time.Sleep(time.Second)
	if k := r.Stats().Kicked; k != kicks || b.Status().State != Contended {
		t.Fatalf("still fighting: %d more kicks, state %s", k-kicks, b.Status().State)
	}
}

// servePTY is a serial radio whose USB connection comes and goes: each
// "boot" serves the simulated radio on a new pseudo-terminal reached
// through link (like a /dev/serial/by-id path), and each "drop" closes it,
// so the host sees the device vanish as it does when a board resets or
// is unplugged. boot is called for every boot; it returns how long the
// radio stays up after the host's handshake.
func servePTY(t *testing.T, r *sim.Radio, link string, upFor time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			master, slave, err := sim.OpenPTY()
			if err != nil {
				t.Errorf("pty: %v", err)
				return
			}
			_ = os.Remove(link)
			if err := os.Symlink(slave, link); err != nil {
				t.Errorf("symlink: %v", err)
				return
			}
			sctx, scancel := context.WithCancel(ctx)
			served := make(chan struct{})
			go func() { defer close(served); _ = r.ServeStream(sctx, master) }()
			hs := r.Stats().Handshakes
			for r.Stats().Handshakes == hs && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			select {
			case <-time.After(upFor):
			case <-ctx.Done():
			}
			scancel()
			<-served
			_ = os.Remove(link)
			_ = master.Close() // the device disappears
			select {
			case <-time.After(150 * time.Millisecond): // rebooting
			case <-ctx.Done():
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// A serial radio that drops off USB shortly after each connect (a boot
// loop) was reported as "another app is using the radio" and marked
// contended; a serial port has one user, so it is a radio that keeps
// resetting, retried with a growing backoff.
func TestSerialDropsAreNotContention(t *testing.T) {
	if _, _, err := sim.OpenPTY(); err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	r, err := sim.New(simtest.Fast(42, 4))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "usb-Meshtastic_sim-if00")
	servePTY(t, r, link, 150*time.Millisecond)
	a := transport.Address{Kind: transport.Serial, Device: link, Baud: transport.DefaultBaud, DTR: true, RTS: true}
	b := startBroker(t, a.String(), Config{Dial: func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, a) }})
	sub := b.Subscribe("u")
	defer sub.Close()

	deadline := time.After(20 * time.Second)
	reasons := map[string]bool{}
	for !reasons["the radio keeps resetting"] {
		select {
		case ev := <-sub.Events():
			if ev.Kind != EvStatus {
				continue
			}
			st := ev.Status
			if st.State == Contended || strings.Contains(st.LastError, "another client") {
				t.Fatalf("serial drop blamed on another app: %+v", st)
			}
			if st.Reason != "" {
				reasons[st.Reason] = true
			}
		case <-deadline:
			t.Fatalf("never reported as resetting; reasons seen: %v (%+v)", reasons, b.Status())
		}
	}
	if !reasons["serial link lost"] {
		t.Fatalf("reasons seen: %v", reasons)
	}
}

// A radio whose API port restarts every few seconds (meshtasticd under
// systemd, a bridge in front of a radio, the radio's endpoint in meshchaos
// flap) closes each link soon after the handshake, just as a radio taken
// by another app does, and was marked contended: five minutes dark. The
// refused dials in between tell a restart from a rival app, which the
// radio would have accepted.
func TestRestartingRadioIsNotContended(t *testing.T) {
	restarts(t, 43, Config{StableAfter: 10 * time.Second, ContendedWithin: time.Minute, ContendedRetry: 30 * time.Second}, time.Second)
}

// A restart shorter than the backoff's first step: the gateway used to
// dial only once the radio was back, saw no refusal, and after three such
// restarts stepped back as if from another app (in one meshchaos flap run
// in three, with outages of 1-2 s against a retry 1 s after the drop). The
// first try after a drop now comes sooner than any restart lasts. Scaled
// down: a backoff from 500 ms, a first try at 100 ms, 250 ms outages.
func TestShortRestartIsNotContended(t *testing.T) {
	restarts(t, 45, Config{BackoffMin: 500 * time.Millisecond, BackoffMax: time.Second, FirstRetry: 100 * time.Millisecond,
		StableAfter: 10 * time.Second, ContendedWithin: time.Minute, ContendedRetry: 30 * time.Second}, 250*time.Millisecond)
}

// restarts restarts a radio's endpoint five times, each down for down
// after 300 ms up, and fails if the broker takes it for a contended one.
func restarts(t *testing.T, seed int64, cfg Config, down time.Duration) {
	t.Helper()
	r, err := sim.New(simtest.Fast(seed, 3))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	b := startBroker(t, addr, cfg)
	sub := b.Subscribe("u")
	defer sub.Close()
	for i := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Serve(ctx, ln) }()
		waitState(t, b, Connected, 5*time.Second)
		time.Sleep(300 * time.Millisecond)
		cancel() // the endpoint goes away: links closed, dials refused
		<-done
		deadline := time.Now().Add(down)
		for time.Now().Before(deadline) {
			if st := b.Status(); st.State == Contended {
				t.Fatalf("restart %d: marked contended: %+v", i+1, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			t.Fatal(err)
		}
	}
	ln.Close()
}

// A contended radio is left alone for ContendedRetry (5 minutes, then
// more): meshchaos contention measured minutes from the other app leaving
// to live packets. RetryNow is for the user who knows it has left: the
// broker connects at once, with no history of short links.
func TestRetryNowEndsContention(t *testing.T) {
	_, addr := simRadio(t, sim.Config{Seed: 44, Nodes: 3})
	b := startBroker(t, addr, Config{StableAfter: 1200 * time.Millisecond, ContendedWithin: 12 * time.Second,
		ContendedRetry: time.Hour, Client: meshtastic.Options{ContendedWindow: 200 * time.Millisecond}})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	if b.RetryNow() {
		t.Fatal("RetryNow on a connected radio")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: -1}); err == nil {
				select {
				case <-c.Done():
				case <-ctx.Done():
				}
				_ = c.Close()
			}
			select {
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}()
	waitState(t, b, Contended, 15*time.Second)
	cancel() // the other app leaves
	<-done
	if !b.RetryNow() {
		t.Fatalf("RetryNow while contended: not waiting (%s)", b.Status().State)
	}
	waitState(t, b, Connected, 5*time.Second)
}
