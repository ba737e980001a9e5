package radio

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
)

// A configured radio records the mesh with nobody logged in, and steps
// aside when another app takes the radio instead of taking it back, until
// someone here uses it again.
func TestConfiguredRadioStaysAndYields(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 81, Nodes: 5, TrafficInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	reg := NewRegistry(ctx, Config{Grace: 100 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Client: meshtastic.Options{WakeDelay: time.Millisecond}}, nil)
	t.Cleanup(func() { cancel(); reg.Wait() })
	b, err := reg.Add("base", addr)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody subscribed: connected anyway, and history fills.
	waitState(t, b, Connected, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for len(b.RecentPackets(0)) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("no history with nobody logged in: %d packets", len(b.RecentPackets(0)))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Another app connects: the firmware drops us, and we leave it be.
	app, err := meshtastic.Dial(context.Background(), addr, meshtastic.Options{NoEvents: true, WakeDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	waitState(t, b, Idle, 5*time.Second)
	if st := b.Status(); st.Reason != "left to another app" || !st.RetryAt.IsZero() {
		t.Fatalf("after another app took the radio: %+v", st)
	}
	kicks := r.Stats().Kicked
	time.Sleep(500 * time.Millisecond)
	if r.Stats().Kicked != kicks || b.Status().State != Idle {
		t.Fatalf("took the radio back from the app with nobody needing it: %+v", b.Status())
	}

	// Someone needs it: connect (the app loses it), and keep it after
	// they leave, well past the grace period.
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 5*time.Second)
	sub.Close()
	time.Sleep(400 * time.Millisecond)
	if st := b.Status(); st.State != Connected {
		t.Fatalf("dropped after the last user left: %+v", st)
	}
}

// An address an admin dials ad hoc is only connected while used.
func TestAdhocRadioDoesNotStay(t *testing.T) {
	_, addr := simRadio(t, sim.Config{Seed: 82, Nodes: 3})
	ctx, cancel := context.WithCancel(context.Background())
	reg := NewRegistry(ctx, Config{Grace: 100 * time.Millisecond, Client: meshtastic.Options{WakeDelay: time.Millisecond}},
		[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	t.Cleanup(func() { cancel(); reg.Wait() })
	b, err := reg.Adhoc(addr)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if st := b.Status(); st.State != Idle && st.State != Stopped {
		t.Fatalf("ad hoc radio connected with nobody using it: %+v", st)
	}
	// Unused past its grace period, it may have been dropped: dial again.
	if b, err = reg.Adhoc(addr); err != nil {
		t.Fatal(err)
	}
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 5*time.Second)
	sub.Close()
	// The link closes after the grace period, and the unused radio goes.
	waitState(t, b, Stopped, 5*time.Second)
}
