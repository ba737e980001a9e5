package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// Binding is the part of the session record the link writes: which radio
// the session uses and what it heard there. *sessions.Session has it.
type Binding interface {
	ID() string
	Bind(radio string)
	Observe(p *pb.MeshPacket, at time.Time)
	ObserveSent(p *pb.MeshPacket, at time.Time)
	Recall(p *pb.MeshPacket, at time.Time)
	AddDrops(n uint64)
}

// Link connects one session to the radios its key may use. It is the
// Radios the model binds through, and its Run is the session's one
// forwarding goroutine: it moves the bound radio's events from the
// broker's bounded queue into the program, so a slow terminal only ever
// delays (and, through the queue, drops events for) its own session.
// Which radios the key may use is the core's to say.
type Link struct {
	core *backend.Backend
	c    backend.Caller
	rec  Binding

	mu   sync.Mutex
	sub  *radio.Subscription
	name string
	swap chan struct{} // the subscription changed; Run picks up the new one
}

// NewLink returns a link for the caller, whose session record (required)
// it binds and fills.
func NewLink(core *backend.Backend, c backend.Caller) *Link {
	return &Link{core: core, c: c, rec: c.Session, swap: make(chan struct{}, 1)}
}

// List returns the radios this key may use, in configuration order.
func (l *Link) List() []RadioInfo {
	var out []RadioInfo
	for _, name := range l.core.AllowedRadios(l.c) {
		b, err := l.core.Broker(l.c, name)
		if err != nil {
			continue
		}
		info := RadioInfo{Name: name, Status: b.Status()}
		if v := b.View(); v != nil {
			info.Nodes = len(v.Nodes)
		}
		if st, err := l.core.RadioStatus(l.c, name); err == nil {
			info.Users = st.Users
		}
		out = append(out, info)
	}
	return out
}

// Bind subscribes the session to the named radio, leaving the previous
// one first so that every packet the session logs belongs to the radio it
// is bound to. Binding the current radio again changes nothing. The core
// refuses a radio the key may not use, with its reason.
func (l *Link) Bind(name string) (Radio, error) {
	b, err := l.core.Broker(l.c, name)
	if err != nil {
		return nil, err
	}
	name = b.Name()
	l.mu.Lock()
	if l.sub != nil && l.name == name {
		l.mu.Unlock()
		return b, nil
	}
	if l.sub != nil {
		l.sub.Close()
	}
	l.rec.Bind(name)
	// The radio's recent packets seed the session's MQTT health, before
	// the subscription's live ones: each counts once. One that arrives in
	// between is missed, which a count of hundreds does not feel.
	for _, p := range b.RecentPackets(0) {
		l.rec.Recall(p.P, p.At)
	}
	l.sub = b.Subscribe(l.rec.ID())
	l.name = name
	l.mu.Unlock()
	select {
	case l.swap <- struct{}{}:
	default: // Run has a wake-up pending already
	}
	return b, nil
}

// Close leaves the bound radio. Run calls it on the way out.
func (l *Link) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sub != nil {
		l.sub.Close()
		l.sub = nil
	}
}

// batchMax bounds how many queued events travel in one message: a burst
// then costs the model one update instead of one per event.
const batchMax = 64

// Run forwards events until ctx ends, then leaves the radio. send is the
// program's Send; it may block while the program is busy, which is what
// the broker's drop-oldest queue is for.
func (l *Link) Run(ctx context.Context, send func(tea.Msg)) {
	defer l.Close()
	for {
		l.mu.Lock()
		sub, name := l.sub, l.name
		l.mu.Unlock()
		if !l.forward(ctx, sub, name, send) {
			return
		}
	}
}

// forward relays one subscription's events. It returns true when the
// binding changed and false when ctx ended.
func (l *Link) forward(ctx context.Context, sub *radio.Subscription, name string, send func(tea.Msg)) bool {
	var events <-chan *radio.Event
	var drops uint64
	if sub != nil {
		events = sub.Events()
		drops = sub.Drops()
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-l.swap:
			return true
		case ev := <-events:
			batch := []*radio.Event{ev}
		more:
			for len(batch) < batchMax {
				select {
				case ev := <-events:
					batch = append(batch, ev)
				default:
					break more
				}
			}
			d := sub.Drops()
			dropped := d > drops
			if dropped {
				l.rec.AddDrops(d - drops)
				drops = d
			}
			if !l.observe(sub, batch) {
				continue // rebound meanwhile; the swap signal is pending
			}
			send(eventsMsg{radio: name, events: batch, dropped: dropped})
		}
	}
}

// observe logs the batch's packets in the session record, unless the
// session has moved to another radio since they were queued.
func (l *Link) observe(sub *radio.Subscription, batch []*radio.Event) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sub != sub {
		return false
	}
	for _, ev := range batch {
		switch {
		case ev.Packet == nil:
		case ev.Kind == radio.EvPacket:
			l.rec.Observe(ev.Packet.P, ev.Packet.At)
		case ev.Kind == radio.EvSent:
			l.rec.ObserveSent(ev.Packet.P, ev.Packet.At)
		}
	}
	return true
}
