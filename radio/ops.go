package radio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
)

// Client returns the connected client, or ErrNotConnected.
func (b *Broker) Client() (*meshtastic.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == nil {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotConnected, b.cfg.Name, b.status.State)
	}
	return b.client, nil
}

// WaitConnected blocks until the radio is connected or ctx ends.
func (b *Broker) WaitConnected(ctx context.Context) error {
	for {
		b.mu.Lock()
		ok, ch, st := b.client != nil, b.links, b.status
		b.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			msg := st.State.String()
			if st.LastError != "" {
				msg += ": " + st.LastError
			}
			return fmt.Errorf("%w: %s is %s: %w", ErrNotConnected, b.cfg.Name, msg, ctx.Err())
		}
	}
}

// SendText sends a text for user who, spaced to the firmware's text rate
// limit across all users of the radio, and records it in the shared
// history. With WantAck the message's delivery state follows the ack.
//
// It returns once the radio has taken the text: a text the radio refuses
// for its rate limit (it may count from another app's text, or read our
// frames closer together than we wrote them) is sent again once, a pace
// later, and a second refusal is an error wrapping
// meshtastic.ErrRateLimited rather than a "sent" text that never left.
func (b *Broker) SendText(ctx context.Context, who string, t meshtastic.Text) (Message, error) {
	b.textMu.Lock()
	c, id, err := b.sendPacedText(ctx, "a text", func(c *meshtastic.Client) (uint32, error) { return c.SendText(t) })
	b.textMu.Unlock()
	if err != nil {
		return Message{}, err
	}
	b.packetsOut.Add(1)
	to := t.To
	if to == 0 {
		to = meshtastic.Broadcast
	}
	m := &Message{
		Radio: b.cfg.Name, At: b.cfg.Now(), ID: id, From: c.MyNodeNum(), To: to, Channel: t.Channel, Text: t.Text,
		ReplyID: t.ReplyID, Outgoing: true, SentBy: who, Delivery: Sent,
	}
	if t.WantAck {
		m.Delivery = Pending
	}
	b.mu.Lock()
	b.messages.push(m)
	cp := *m
	b.mu.Unlock()
	if b.cfg.Store != nil {
		b.cfg.Store.AddMessage(cp)
	}
	b.publish(&Event{Kind: EvMessage, At: m.At, Message: &cp})
	if t.WantAck {
		go b.trackAck(c, m)
	}
	return cp, nil
}

// sendPacedText sends a text (what: for the log) with send when the text
// pace allows and waits for the radio's verdict, retrying once after a
// rate-limit refusal. The caller holds textMu, so texts from every user of
// the radio, SSH and virtual node alike, go one by one.
func (b *Broker) sendPacedText(ctx context.Context, what string, send func(*meshtastic.Client) (uint32, error)) (*meshtastic.Client, uint32, error) {
	for attempt := 1; ; attempt++ {
		if wait := b.lastTxt.Add(b.cfg.TextPace).Sub(b.cfg.Now()); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return nil, 0, ctx.Err()
			}
		}
		c, err := b.Client()
		if err != nil {
			return nil, 0, err
		}
		id, err := send(c)
		b.lastTxt = b.cfg.Now()
		if err == nil {
			err = b.textQueued(ctx, c, id)
		}
		if errors.Is(err, meshtastic.ErrRateLimited) {
			if attempt == 1 {
				b.log.Info("the radio refused "+what+" for its rate limit; sending it again", "id", id, "after", b.cfg.TextPace)
				continue
			}
			err = fmt.Errorf("%s refused the text twice for its rate limit (is another app sending texts through it?): %w", b.cfg.Name, err)
		}
		return c, id, err
	}
}

// queuedTimeout bounds the wait for the radio to say it took a packet. It
// answers every packet it reads with a QueueStatus within a poll or two
// (PhoneAPI::handleToRadioPacket); one that never comes was most likely
// read by another client draining the same queue (see Status.Warnings).
const queuedTimeout = 3 * time.Second

// textQueued waits for the radio's word on a text: nil once it took it,
// its refusal otherwise. No word at all counts as sent: the text was
// written and nothing more can be known.
func (b *Broker) textQueued(ctx context.Context, c *meshtastic.Client, id uint32) error {
	qctx, cancel := context.WithTimeout(ctx, queuedTimeout)
	defer cancel()
	err := b.awaitAnswer("the radio's queue status for a text", func() error { return c.WaitQueued(qctx, id) })
	if err != nil && qctx.Err() != nil && ctx.Err() == nil {
		b.log.Warn("the radio did not say whether it took a text", "id", id)
		return nil
	}
	if err != nil && ctx.Err() != nil {
		return nil // written; the caller stopped waiting for the verdict
	}
	return err
}

// trackAck waits for a sent message's ack and publishes the outcome. It
// ends with the link (the client fails pending waits when it closes).
func (b *Broker) trackAck(c *meshtastic.Client, m *Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ack, err := c.WaitAck(ctx, m.ID)
	b.mu.Lock()
	if err != nil {
		m.Delivery, m.Error = Failed, err.Error()
	} else {
		m.Delivery, m.AckFrom = Acked, meshtastic.NodeID(ack.From)
		if ack.Implicit {
			m.AckFrom = "relay"
		}
	}
	cp := *m
	b.mu.Unlock()
	if b.cfg.Store != nil {
		b.cfg.Store.UpdateDelivery(b.cfg.Name, cp.ID, cp.Delivery, cp.Error, cp.AckFrom)
	}
	b.publish(&Event{Kind: EvMessage, At: b.cfg.Now(), Message: &cp})
}

// Message returns the current state of a message by packet id.
func (b *Broker) Message(id uint32) (Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var found *Message
	b.messages.each(func(m *Message) bool {
		if m.ID == id {
			found = m
			return false
		}
		return true
	})
	if found == nil {
		return Message{}, false
	}
	return *found, true
}

// Admin runs f with the client, one admin operation at a time per radio
// so that edit transactions from two users never interleave.
func (b *Broker) Admin(ctx context.Context, f func(context.Context, *meshtastic.Client) error) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	c, err := b.Client()
	if err != nil {
		return err
	}
	b.packetsOut.Add(1)
	return b.awaitAnswer("an admin answer", func() error { return f(ctx, c) })
}

// Position reports where a traceroute waits: 0 means it is running now.
type Position struct {
	Ahead int       // requests in front of this one
	ETA   time.Time // when it should start
}

type traceReq struct {
	ctx      context.Context
	dest     uint32
	opts     meshtastic.TraceOptions
	onPos    func(Position)
	who      Requester
	done     chan traceResult
	started  bool
	sentAt   time.Time
	finished sync.Once
}

type traceResult struct {
	route *meshtastic.Route
	err   error
}

// traceQueue runs traceroutes one after another, spaced by the firmware's
// limit, for every user of the radio.
type traceQueue struct {
	b    *Broker
	mu   sync.Mutex
	q    []*traceReq
	kick chan struct{}
	last time.Time // when the last traceroute was sent
	max  int
}

func newTraceQueue(b *Broker) *traceQueue {
	return &traceQueue{b: b, kick: make(chan struct{}, 1), max: 256}
}

// Traceroute queues a traceroute to dest and waits for its result. onPos
// (may be nil) is told the request's place in the queue whenever it
// changes; it must not block. Every traceroute sent to the radio is
// written to the store's traceroute history (see TraceHistory) with its
// outcome, its route and who asked (see WithRequester).
func (b *Broker) Traceroute(ctx context.Context, dest uint32, o meshtastic.TraceOptions, onPos func(Position)) (*meshtastic.Route, error) {
	r := &traceReq{ctx: ctx, dest: dest, opts: o, onPos: onPos, who: requesterOf(ctx), done: make(chan traceResult, 1)}
	tq := b.traces
	tq.mu.Lock()
	if len(tq.q) >= tq.max {
		tq.mu.Unlock()
		return nil, fmt.Errorf("%w: %d traceroutes queued", ErrQueueFull, tq.max)
	}
	tq.q = append(tq.q, r)
	tq.mu.Unlock()
	tq.notify()
	tq.poke()
	select {
	case res := <-r.done:
		return res.route, res.err
	case <-ctx.Done():
		tq.remove(r)
		select {
		case res := <-r.done: // finished while we were giving up
			return res.route, res.err
		default:
		}
		return nil, ctx.Err()
	}
}

// QueueLen is the number of traceroutes waiting or running.
func (b *Broker) QueueLen() int {
	b.traces.mu.Lock()
	defer b.traces.mu.Unlock()
	return len(b.traces.q)
}

func (tq *traceQueue) poke() {
	select {
	case tq.kick <- struct{}{}:
	default:
	}
}

func (tq *traceQueue) remove(r *traceReq) {
	tq.mu.Lock()
	i := slices.Index(tq.q, r)
	if i >= 0 && !r.started {
		tq.q = slices.Delete(tq.q, i, i+1)
	}
	tq.mu.Unlock()
	tq.notify()
}

// notify tells every waiting request its position.
func (tq *traceQueue) notify() {
	tq.mu.Lock()
	pace := tq.b.cfg.TracePace
	next := tq.last.Add(pace)
	if now := tq.b.cfg.Now(); next.Before(now) {
		next = now
	}
	type upd struct {
		f func(Position)
		p Position
	}
	var ups []upd
	waiting := 0 // requests not yet sent ahead of this one
	for i, r := range tq.q {
		p := Position{Ahead: i, ETA: next.Add(time.Duration(waiting) * pace)}
		if r.started {
			// Running: it started when it was sent. (Counting it as
			// waiting told a user on an idle queue to wait one pace for
			// a traceroute that was already out.)
			p = Position{Ahead: 0, ETA: r.sentAt}
		} else {
			waiting++
		}
		if r.onPos != nil {
			ups = append(ups, upd{r.onPos, p})
		}
	}
	tq.mu.Unlock()
	for _, u := range ups {
		u.f(u.p)
	}
}

// linkDown fails the running request promptly; waiting ones stay queued
// until the link returns or their callers give up.
func (tq *traceQueue) linkDown() { tq.poke() }

func (tq *traceQueue) run(ctx context.Context) {
	for {
		tq.mu.Lock()
		var head *traceReq
		if len(tq.q) > 0 {
			head = tq.q[0]
		}
		wait := time.Until(tq.last.Add(tq.b.cfg.TracePace))
		tq.mu.Unlock()
		if head == nil || wait > 0 {
			var t *time.Timer
			var timer <-chan time.Time
			if head != nil {
				t = time.NewTimer(wait)
				timer = t.C
			}
			select {
			case <-ctx.Done():
				tq.failAll(ErrStopped)
				return
			case <-tq.kick:
			case <-timer:
			}
			if t != nil {
				t.Stop()
			}
			continue
		}
		if head.ctx.Err() != nil {
			tq.remove(head)
			continue
		}
		c, err := tq.b.Client()
		if err != nil {
			// Wait for the link rather than failing everyone at once.
			wctx, cancel := context.WithTimeout(head.ctx, 5*time.Second)
			werr := tq.b.WaitConnected(wctx)
			cancel()
			if werr != nil && head.ctx.Err() == nil && ctx.Err() == nil {
				tq.finish(head, traceResult{err: err})
			}
			continue
		}
		tq.mu.Lock()
		head.started = true
		tq.last = tq.b.cfg.Now()
		head.sentAt = tq.last
		tq.mu.Unlock()
		tq.notify()
		tctx, cancel := context.WithTimeout(head.ctx, tq.b.cfg.TraceTimeout)
		tq.b.packetsOut.Add(1)
		route, err := c.Traceroute(tctx, head.dest, head.opts)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && head.ctx.Err() == nil {
			err = fmt.Errorf("%w: no reply from %s within %s", meshtastic.ErrNoResponse, meshtastic.NodeID(head.dest), tq.b.cfg.TraceTimeout)
		}
		tq.b.recordTrace(head, route, err)
		tq.finish(head, traceResult{route: route, err: err})
	}
}

func (tq *traceQueue) finish(r *traceReq, res traceResult) {
	tq.mu.Lock()
	if i := slices.Index(tq.q, r); i >= 0 {
		tq.q = slices.Delete(tq.q, i, i+1)
	}
	tq.mu.Unlock()
	r.finished.Do(func() { r.done <- res })
	tq.notify()
}

func (tq *traceQueue) failAll(err error) {
	tq.mu.Lock()
	q := tq.q
	tq.q = nil
	tq.mu.Unlock()
	for _, r := range q {
		r.finished.Do(func() { r.done <- traceResult{err: err} })
	}
}
