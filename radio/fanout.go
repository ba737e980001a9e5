package radio

import (
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// EventKind says what a subscriber event carries.
type EventKind int

// Event kinds.
const (
	EvPacket   EventKind = iota + 1 // Packet
	EvNode                          // Node (a node was added or changed; View has it)
	EvMessage                       // Message: a text arrived, or one we sent changed state
	EvStatus                        // Status: the link changed state
	EvConfig                        // the radio's configuration changed; see View
	EvAnnounce                      // Text: something every user of the radio should know
	EvSent                          // Packet: a packet the gateway sent to another node
)

// Event is shared by all subscribers; nobody may modify it.
type Event struct {
	Kind    EventKind
	At      time.Time
	Packet  *Packet
	Node    *meshtastic.Node
	Message *Message
	Status  *Status
	Text    string
}

// Subscription is one session's feed from a radio.
type Subscription struct {
	b     *Broker
	id    string
	ch    chan *Event
	drops atomic.Uint64
	gone  atomic.Bool
	hold  bool // takes no events (Hold)
}

// Subscribe adds a subscriber (id names it in logs) and makes the broker
// connect if it is not already. The subscriber must Close it.
func (b *Broker) Subscribe(id string) *Subscription {
	return b.subscribe(&Subscription{b: b, id: id, ch: make(chan *Event, b.cfg.QueueLen)})
}

// Hold makes the broker connect and keep the link, like a subscriber that
// takes no events: for a command that only needs the radio while it
// runs. A queue nobody reads would fill and count every later event as
// dropped. The caller must Close it.
func (b *Broker) Hold(id string) *Subscription {
	return b.subscribe(&Subscription{b: b, id: id, hold: true})
}

func (b *Broker) subscribe(s *Subscription) *Subscription {
	b.subsMu.Lock()
	old := *b.subs.Load()
	next := make([]*Subscription, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	b.subs.Store(&next)
	b.subsMu.Unlock()
	b.poke()
	return s
}

// Events delivers the radio's events. It is never closed: stop reading
// when your own context ends, then Close.
func (s *Subscription) Events() <-chan *Event { return s.ch }

// Drops counts events this subscriber lost because it fell behind.
func (s *Subscription) Drops() uint64 { return s.drops.Load() }

// Close removes the subscriber. The broker disconnects after its grace
// period when nobody is left. Closing twice is harmless.
func (s *Subscription) Close() {
	if s.gone.Swap(true) {
		return
	}
	b := s.b
	b.subsMu.Lock()
	old := *b.subs.Load()
	next := make([]*Subscription, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	b.subs.Store(&next)
	b.subsMu.Unlock()
	b.poke()
}

func (b *Broker) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// publish offers ev to every subscriber without ever blocking: a full
// queue loses its oldest event instead, so one stalled SSH client cannot
// delay the radio or anyone else.
func (b *Broker) publish(ev *Event) {
	for _, s := range *b.subs.Load() {
		s.offer(ev)
	}
}

func (s *Subscription) offer(ev *Event) {
	if s.hold {
		return
	}
	select {
	case s.ch <- ev:
		return
	default:
	}
	select {
	case <-s.ch:
		s.drops.Add(1)
		s.b.drops.Add(1)
	default:
	}
	select {
	case s.ch <- ev:
	default:
		s.drops.Add(1)
		s.b.drops.Add(1)
	}
}

// Announce tells every subscriber of this radio something (an admin is
// rebooting it, the gateway is shutting down).
func (b *Broker) Announce(text string) {
	b.publish(&Event{Kind: EvAnnounce, At: b.cfg.Now(), Text: text})
}

// setState records a link state change and tells subscribers.
func (b *Broker) setState(st State, err error, retry time.Time) {
	b.mu.Lock()
	if b.status.State != st {
		b.status.Since = b.cfg.Now()
	}
	b.status.State = st
	b.status.RetryAt = retry
	if err != nil {
		b.status.LastError, b.status.Reason = err.Error(), reasonOf(err)
	} else if st == Connected {
		b.status.LastError, b.status.Reason = "", ""
	}
	s := b.status
	s.Warnings = b.warningsLocked(b.cfg.Now())
	b.mu.Unlock()
	s.Subscribers = len(*b.subs.Load())
	b.publish(&Event{Kind: EvStatus, At: b.cfg.Now(), Status: &s})
}

// handle folds one client event into the shared state and fans it out.
func (b *Broker) handle(c *meshtastic.Client, ev meshtastic.Event) {
	switch ev.Kind {
	case meshtastic.EventPacket:
		b.packetsIn.Add(1)
		p := &Packet{At: ev.Time, P: ev.Packet}
		var msg *Message
		d := ev.Packet.GetDecoded()
		if d.GetPortnum() == pb.PortNum_TEXT_MESSAGE_APP && d.GetEmoji() == 0 {
			msg = messageFromPacket(b.cfg.Name, ev.Time, ev.Packet)
		}
		b.mu.Lock()
		b.packets.push(p)
		b.status.LastPacket = ev.Time
		if msg != nil {
			b.messages.push(msg)
		}
		b.mu.Unlock()
		b.publish(&Event{Kind: EvPacket, At: ev.Time, Packet: p})
		if a := b.cfg.Automation; a != nil {
			a.observe(b, p, msg)
		}
		if msg != nil {
			cp := *msg
			b.publish(&Event{Kind: EvMessage, At: ev.Time, Message: &cp})
		}
	case meshtastic.EventNode:
		n := ev.Node
		b.mu.Lock()
		b.view = b.view.withNode(n)
		b.mu.Unlock()
		b.publish(&Event{Kind: EvNode, At: ev.Time, Node: n})
	case meshtastic.EventConfig:
		snap := c.Snapshot()
		b.mu.Lock()
		if ev.Resync {
			// A handshake read everything again (the radio rebooted, or
			// its NodeDB was reset): nodes we knew before may be gone.
			nv := newView(&snap)
			nv.Version = b.view.Version + 1
			b.view = nv
			self := snap.Self()
			b.status.NodeName, b.status.NodeID = self.Name(), self.ID()
		} else {
			b.view = b.view.withRadio(&snap)
		}
		b.mu.Unlock()
		b.publish(&Event{Kind: EvConfig, At: ev.Time})
	case meshtastic.EventNotification:
		b.publish(&Event{Kind: EvAnnounce, At: ev.Time, Text: "radio: " + ev.Notification.GetMessage()})
	case meshtastic.EventRebooted:
		b.publish(&Event{Kind: EvAnnounce, At: ev.Time, Text: "the radio rebooted"})
	}
}
