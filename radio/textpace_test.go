package radio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
)

func TestTextPaceDefault(t *testing.T) {
	// The firmware's 2 s, read up to 250 ms late on an idle link, with
	// margin.
	if b := New(Config{Name: "x"}); b.cfg.TextPace != 3*time.Second {
		t.Fatalf("default text pace %s", b.cfg.TextPace)
	}
}

// A text the radio refuses for its rate limit (here the radio counts a
// longer gap than our pace, as it does when it reads our frames late or
// another app sent a text) is sent again once, a pace later, instead of
// being reported as sent.
func TestTextRefusedForRateLimitIsRetried(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 51, Nodes: 4, Limits: sim.RateLimits{Text: time.Second}})
	pace := 700 * time.Millisecond
	b := startBroker(t, addr, Config{TextPace: pace})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)

	start := time.Now()
	if _, err := b.SendText(context.Background(), "ada", meshtastic.Text{Text: "first"}); err != nil {
		t.Fatal(err)
	}
	m, err := b.SendText(context.Background(), "bob", meshtastic.Text{Text: "second"})
	if err != nil {
		t.Fatalf("second text: %v", err)
	}
	st := r.Stats()
	if st.RateLimited != 1 || st.ClientPackets != 2 {
		t.Fatalf("radio refused %d and took %d texts, want 1 and 2", st.RateLimited, st.ClientPackets)
	}
	if took := time.Since(start); took < 2*pace {
		t.Fatalf("the retry came after %s, sooner than a pace after the refusal", took)
	}
	if m.Delivery != Sent || m.Text != "second" {
		t.Fatalf("second text: %+v", m)
	}
	if got, ok := b.Message(m.ID); !ok || got.Text != "second" {
		t.Fatalf("history holds %+v for the id of the text that went", got)
	}
}

// Refused again: the caller is told, and nothing claims it was sent.
func TestTextRefusedTwiceIsAnError(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 52, Nodes: 4, Limits: sim.RateLimits{Text: 10 * time.Second}})
	b := startBroker(t, addr, Config{TextPace: 200 * time.Millisecond})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	if _, err := b.SendText(context.Background(), "ada", meshtastic.Text{Text: "first"}); err != nil {
		t.Fatal(err)
	}
	_, err := b.SendText(context.Background(), "bob", meshtastic.Text{Text: "second", WantAck: true})
	if !errors.Is(err, meshtastic.ErrRateLimited) {
		t.Fatalf("second text: %v, want a rate-limit error", err)
	}
	if n := r.Stats().RateLimited; n != 2 {
		t.Fatalf("radio refused %d texts, want 2 (one retry)", n)
	}
	for _, m := range b.Messages(0) {
		if m.Text == "second" {
			t.Fatalf("a refused text is in the history: %+v", m)
		}
	}
}
