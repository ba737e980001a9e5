package tui

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

func TestLink(t *testing.T) {
	fx := newFixture(t, fixtureOpts{radios: []string{"base", "field"}, traffic: 5 * time.Millisecond})
	rec, err := fx.mgr.Open(sessions.User{Name: "ann", Kind: sessions.TUI})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	id := auth.Identity{Name: "ann", Role: auth.Viewer, Radios: []string{"field"}}
	l := NewLink(fx.core, backend.Caller{Identity: id, Session: rec, Via: "tui"})

	// Only the radios the key may use are listed or bound.
	if list := l.List(); len(list) != 1 || list[0].Name != "field" {
		t.Fatalf("List: %+v", list)
	}
	if _, err := l.Bind("base"); err == nil {
		t.Fatal("bound a radio the key may not use")
	}
	if _, err := l.Bind("nowhere"); err == nil {
		t.Fatal("bound a radio that does not exist")
	}

	msgs := make(chan tea.Msg, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, func(m tea.Msg) { msgs <- m }) }()
	r, err := l.Bind("field")
	if err != nil || r.Name() != "field" || rec.Radio() != "field" {
		t.Fatalf("Bind: %v, %v, session on %q", r, err, rec.Radio())
	}
	if l.List()[0].Users != 1 {
		t.Errorf("the lobby does not count the session: %+v", l.List())
	}
	// Events arrive in batches tagged with the radio, and the session's
	// log follows them.
	deadline := time.After(10 * time.Second)
	packets := 0
	for packets < 20 {
		select {
		case m := <-msgs:
			em := m.(eventsMsg)
			if em.radio != "field" || len(em.events) == 0 || len(em.events) > batchMax {
				t.Fatalf("batch: %+v", em)
			}
			for _, ev := range em.events {
				if ev.Kind == radio.EvPacket {
					packets++
				}
			}
		case <-deadline:
			t.Fatalf("only %d packets forwarded", packets)
		}
	}
	if rec.PacketsSeen() < 20 {
		t.Errorf("the session logged %d packets", rec.PacketsSeen())
	}
	b := fx.broker(t, "field")
	cancel()
	<-done
	if n := b.Status().Subscribers; n != 0 {
		t.Errorf("%d subscribers left after Run ended", n)
	}
}
