package meshtastic

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// MaxPayload is the largest Data.payload the firmware accepts.
const MaxPayload = 233

// MaxTextBytes is the longest text (in UTF-8 bytes) that fits one packet:
// the encoded Data must stay within 239 bytes (227 when PKI-encrypted), and
// a text costs 7 bytes of Data overhead, 5 more with a reply id. See the
// protocol notes §6.
func MaxTextBytes(pkiDM, reply bool) int {
	n := 232
	if pkiDM {
		n = 220
	}
	if reply {
		n -= 5
	}
	return n
}

// pending is a request waiting for the radio's answer. Its result channel
// holds one answer; later answers for the same id are ignored.
type pending struct {
	id       uint32
	port     pb.PortNum // the reply port that completes it (ROUTING_APP for acks)
	sent     time.Time
	waited   bool          // someone is waiting; never pruned
	accepted bool          // the radio queued it (QueueStatus res 0)
	wantAck  bool          // the radio retransmits it until acked or out of retries
	text     bool          // TEXT_MESSAGE_APP: a refusal may follow a res-0 QueueStatus
	queued   chan struct{} // closed with accepted
	once     sync.Once
	ch       chan result
}

type result struct {
	packet *pb.MeshPacket
	err    error
}

func (p *pending) finish(r result) {
	p.once.Do(func() { p.ch <- r })
}

// nextID returns a fresh packet id in the reference client's shape: a
// 10-bit counter under 22 random bits, so ids do not repeat among the
// radio's last 20 (a repeated id is silently dropped).
func (c *Client) nextID() uint32 {
	for {
		n := (c.idCounter.Add(1) & 0x3FF) | (randUint32() << 10)
		if n != 0 {
			return n
		}
	}
}

// Send writes a packet to the radio, filling in a fresh id when it has
// none, and returns the id. The answer (ack, reply or refusal) can be
// awaited with Wait. Most callers want SendText, Traceroute or the admin
// methods instead.
//
// A packet without from gets our own node number there, as the web client
// does: the firmware addresses its rate-limit refusal of a text to the from
// the client sent (PhoneAPI::handleToRadioPacket, then
// MeshService::sendRoutingErrorResponse), so with from 0 the refusal goes
// out over the air to node 0 and never comes back. The firmware replaces
// from with 0 before routing the packet, so it changes nothing else.
func (c *Client) Send(p *pb.MeshPacket, reply pb.PortNum) (uint32, error) {
	if p.GetId() == 0 {
		p.Id = c.nextID()
	}
	if p.GetFrom() == 0 {
		p.From = c.MyNodeNum()
	}
	pd := &pending{id: p.GetId(), port: reply, sent: c.opts.Now(), ch: make(chan result, 1),
		wantAck: p.GetWantAck(), text: p.GetDecoded().GetPortnum() == pb.PortNum_TEXT_MESSAGE_APP,
		queued: make(chan struct{})}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return 0, c.err
	default:
	}
	c.pending[pd.id] = pd
	c.lastSent = pd.id
	c.mu.Unlock()
	if err := c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}}); err != nil {
		c.mu.Lock()
		delete(c.pending, pd.id)
		c.mu.Unlock()
		return 0, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if c.opts.Sent != nil {
		c.opts.Sent(p)
	}
	return pd.id, nil
}

// Wait blocks until the radio answers packet id (ack, reply or refusal),
// the link goes down, or ctx ends. It returns the answering packet.
func (c *Client) Wait(ctx context.Context, id uint32) (*pb.MeshPacket, error) {
	c.mu.Lock()
	pd := c.pending[id]
	if pd != nil {
		pd.waited = true
	}
	c.mu.Unlock()
	if pd == nil {
		select {
		case <-c.done:
			return nil, c.err
		default:
		}
		return nil, fmt.Errorf("meshtastic: no request %#08x is waiting for an answer", id)
	}
	select {
	case r := <-pd.ch:
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return r.packet, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("meshtastic: waiting for %#08x: %w", id, ctx.Err())
	}
}

// refusalGrace is how long after a text's res-0 QueueStatus its refusal
// may still come. The firmware sends the same QueueStatus for a text it
// refuses for the rate limit and queues the refusal right behind it, behind
// only the packets already waiting for the client.
const refusalGrace = 500 * time.Millisecond

// refused reports whether err says our radio did not take a packet (its
// rate limit, its queue, a notice, a routing error it raised itself), as
// opposed to a packet that went out and was not delivered (a routing
// error from elsewhere, MAX_RETRANSMIT from our own retries).
func (c *Client) refused(err error) bool {
	var qe *QueueError
	var ne *NotificationError
	var re *RoutingError
	switch {
	case errors.Is(err, ErrRateLimited), errors.As(err, &qe), errors.As(err, &ne):
		return true
	case errors.As(err, &re):
		return re.From == c.MyNodeNum() && re.Reason != pb.Routing_MAX_RETRANSMIT && re.Reason != pb.Routing_NO_RESPONSE
	}
	return false
}

// WaitQueued waits until the radio has taken packet id for transmission
// and returns nil, or returns the radio's refusal: the text rate limit
// (errors.Is ErrRateLimited), a full queue, a packet too large, a missing
// channel. It does not wait for delivery; WaitAck does that for packets
// sent with WantAck, and may still be called afterwards.
//
// For a text the radio's QueueStatus is the same whether it sent it or
// refused it for the rate limit, so WaitQueued also waits refusalGrace
// after it for a refusal.
func (c *Client) WaitQueued(ctx context.Context, id uint32) error {
	c.mu.Lock()
	pd := c.pending[id]
	if pd != nil {
		pd.waited = true
	}
	c.mu.Unlock()
	if pd == nil {
		select {
		case <-c.done:
			return c.err
		default:
		}
		return fmt.Errorf("meshtastic: no request %#08x is waiting for an answer", id)
	}
	var grace <-chan time.Time
	queued := pd.queued
	for {
		select {
		case r := <-pd.ch:
			if r.err == nil || !c.refused(r.err) {
				// An answer (an ack, a reply, or a delivery failure such
				// as MAX_RETRANSMIT) proves it was sent; keep it for a
				// later Wait, which reports the failure.
				pd.ch <- r
				return nil
			}
			c.mu.Lock()
			delete(c.pending, id)
			c.mu.Unlock()
			return r.err
		case <-queued:
			if !pd.text {
				return nil
			}
			queued = nil
			t := time.NewTimer(refusalGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("meshtastic: waiting for %#08x to be queued: %w", id, ctx.Err())
		}
	}
}

// resolve matches a received packet to a waiting request.
func (c *Client) resolve(p *pb.MeshPacket) {
	d := p.GetDecoded()
	if d == nil || d.GetRequestId() == 0 {
		return
	}
	id := d.GetRequestId()
	c.mu.Lock()
	pd := c.pending[id]
	if pd == nil {
		c.mu.Unlock()
		return
	}
	var r result
	switch {
	case d.GetPortnum() == pb.PortNum_ROUTING_APP:
		rt := &pb.Routing{}
		if err := unmarshal(d.GetPayload(), rt); err != nil {
			c.mu.Unlock()
			return
		}
		reason := rt.GetErrorReason()
		if reason == pb.Routing_NONE && pd.port != pb.PortNum_ROUTING_APP {
			// A delivery ack for a request whose real answer is still to
			// come (a traceroute's or a getter's reply): keep waiting.
			c.mu.Unlock()
			return
		}
		if reason != pb.Routing_NONE {
			r.err = &RoutingError{Reason: reason, RequestID: id, From: p.GetFrom()}
		}
		r.packet = p
	case d.GetPortnum() == pd.port:
		r.packet = p
	default:
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	// The entry stays until Wait collects the answer (or the pruner drops
	// it), so an answer that beats the Wait call is not lost.
	pd.finish(r)
}

// prunePending forgets fire-and-forget requests nobody waits for.
func (c *Client) prunePending() {
	cutoff := c.opts.Now().Add(-10 * time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range c.pending {
		if p.sent.Before(cutoff) && (!p.waited || len(p.ch) > 0) {
			delete(c.pending, id)
		}
	}
}

// Text is a text message to send.
type Text struct {
	To       uint32 // node number; 0 or Broadcast for the channel
	Channel  uint32 // local channel index 0..7
	Text     string
	WantAck  bool
	ReplyID  uint32 // the message this answers, 0 for none
	HopLimit uint32 // 0: the radio's configured hop limit
}

// Ack is the radio's confirmation that a packet got through.
type Ack struct {
	From uint32
	// Implicit is true when the only evidence is our own radio hearing a
	// neighbour rebroadcast it (broadcasts), not the destination's ack.
	Implicit bool
	RTT      time.Duration
}

// SendText sends a text message and returns its packet id; use WaitAck to
// learn whether it was delivered.
func (c *Client) SendText(t Text) (uint32, error) {
	if t.Text == "" {
		return 0, fmt.Errorf("meshtastic: empty text")
	}
	if !utf8.ValidString(t.Text) {
		return 0, fmt.Errorf("meshtastic: text is not valid UTF-8")
	}
	if t.Channel > 7 {
		return 0, fmt.Errorf("meshtastic: channel %d out of range 0-7", t.Channel)
	}
	to := t.To
	if to == 0 {
		to = Broadcast
	}
	if limit := MaxTextBytes(false, t.ReplyID != 0); len(t.Text) > limit {
		return 0, fmt.Errorf("%w: text is %d bytes, at most %d fit", ErrTooLarge, len(t.Text), limit)
	}
	p := &pb.MeshPacket{
		To:       to,
		Channel:  t.Channel,
		WantAck:  t.WantAck,
		HopLimit: c.hopLimit(t.HopLimit),
		Priority: pb.MeshPacket_RELIABLE,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum: pb.PortNum_TEXT_MESSAGE_APP,
			Payload: []byte(t.Text),
			ReplyId: t.ReplyID,
		}},
	}
	return c.Send(p, pb.PortNum_ROUTING_APP)
}

// WaitAck waits for the ack of a packet sent with WantAck.
func (c *Client) WaitAck(ctx context.Context, id uint32) (Ack, error) {
	c.mu.Lock()
	var sent time.Time
	if pd := c.pending[id]; pd != nil {
		sent = pd.sent
	}
	my := uint32(0)
	if c.state != nil {
		my = c.state.myNum
	}
	c.mu.Unlock()
	p, err := c.Wait(ctx, id)
	if err != nil {
		return Ack{}, err
	}
	return Ack{From: p.GetFrom(), Implicit: p.GetFrom() == my, RTT: c.opts.Now().Sub(sent)}, nil
}

// hopLimit returns h, or the radio's configured hop limit (3 by default).
func (c *Client) hopLimit(h uint32) uint32 {
	if h > 0 {
		return min(h, 7)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != nil {
		if l := c.state.config[pb.AdminMessage_LORA_CONFIG].GetLora(); l != nil && l.GetHopLimit() > 0 && l.GetHopLimit() <= 7 {
			return l.GetHopLimit()
		}
	}
	return 3
}
