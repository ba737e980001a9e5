package backend

import (
	"context"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// A follower that started while the radio was still connecting held a
// second, unread subscription for its whole life: once its queue filled,
// every event counted as dropped (meshgate_radio_fanout_drops_total grew
// by ~15/s in meshchaos soak) and the radio showed two users for one
// session. A command waiting for the link now holds it without a queue.
func TestFollowBeforeConnectHoldsOneSubscription(t *testing.T) {
	cfg := simtest.Fast(7, 6)
	cfg.TrafficInterval = 5 * time.Millisecond
	_, addr := simtest.Start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	reg := radio.NewRegistry(ctx, radio.Config{Grace: time.Minute, QueueLen: 64}, nil)
	t.Cleanup(func() { cancel(); reg.Wait() })
	br, err := reg.Add("base", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := New(Deps{Radios: reg, Sessions: sessions.NewManager(sessions.Config{})})
	viewer := Caller{Identity: auth.Identity{Name: "vic", Fingerprint: "SHA256:vic", Role: auth.Viewer}}
	if st := br.Status(); st.State == radio.Connected {
		t.Fatalf("radio connected before anyone used it: %s", st.State)
	}
	f, err := b.Follow(ctx, viewer, "base", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func(n int) {
		deadline := time.After(20 * time.Second)
		for range n {
			select {
			case <-f.Events():
			case <-deadline:
				t.Fatalf("fewer than %d events in 20 s", n)
			}
		}
	}
	read(100) // past the handshake's burst
	before := br.Status().Drops
	read(300)
	st := br.Status()
	if st.Drops > before+10 || st.Subscribers != 1 {
		t.Fatalf("300 events read as they came: %d dropped meanwhile, %d subscribers; want none and 1", st.Drops-before, st.Subscribers)
	}
}
