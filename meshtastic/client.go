// Package meshtastic is a client for the Meshtastic device API over TCP or
// serial: it performs the config handshake, keeps a live copy of the radio's
// NodeDB and configuration, streams events, and sends text, traceroutes and
// admin requests with their answers matched by request id.
//
// It imports nothing else of meshgate's and can be used on its own.
package meshtastic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// Nonces the firmware gives special meaning to; a client must never pick
// them by chance (config-only and nodes-only handshakes).
const (
	NonceOnlyConfig uint32 = 69420
	NonceOnlyNodes  uint32 = 69421
)

// Options tune a Client. The zero value is usable.
type Options struct {
	// Heartbeat is how often to send a heartbeat; the radio drops an API
	// client after 15 minutes of silence. Default 60 s, at most
	// MaxHeartbeat.
	Heartbeat time.Duration
	// AnswerTimeout is how long a heartbeat may go without anything coming
	// back from the radio (firmware 2.7.5 and later answer every heartbeat
	// with a QueueStatus). Default 15 s.
	AnswerTimeout time.Duration
	// MissedHeartbeats unanswered heartbeats in a row fail the link with
	// ErrSilent; after a miss the next heartbeat goes out at once. Default
	// 3. Radios that have not answered a heartbeat on this link (older
	// firmware) are not held to it.
	MissedHeartbeats int
	// HandshakeTimeout bounds the config exchange. Default 30 s.
	HandshakeTimeout time.Duration
	// ContendedWindow: a link the radio drops within this long after the
	// handshake is reported as ErrContended. Default 10 s.
	ContendedWindow time.Duration
	// EventBuffer is the capacity of the Events channel. Default 256. Once
	// the handshake is done the reader waits for the consumer rather than
	// lose events, so a consumer must keep reading (or set NoEvents).
	EventBuffer int
	// NoEvents discards events, for callers that only want a snapshot.
	NoEvents bool
	// WakeDelay is the pause after the 32 wake-up bytes. Default 100 ms;
	// negative for none (a simulated radio needs no waking).
	WakeDelay time.Duration
	// Sent, when set, is called with each mesh packet written to the radio
	// (after its id and from are filled in), on the sender's goroutine. It
	// must not block or modify the packet.
	Sent func(*pb.MeshPacket)
	// Logger receives protocol diagnostics. Default: discard.
	Logger *slog.Logger
	// Nonce picks handshake nonces; default random, never 0, 69420, 69421.
	Nonce func() uint32
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnFrame, when set, sees every FromRadio the radio sends, in order,
	// before the client applies it: the handshake too, and variants the
	// client skips. It runs on the reader goroutine, so it must not block,
	// and must not modify msg (the client keeps parts of it).
	OnFrame func(msg *pb.FromRadio)
}

// MaxHeartbeat is the longest heartbeat interval Options accepts: the
// firmware drops an API client after 15 minutes without a frame
// (SERIAL_CONNECTION_TIMEOUT, ServerAPI TCP_IDLE_TIMEOUT_MS), and a
// heartbeat must beat that with room to spare.
const MaxHeartbeat = 10 * time.Minute

// Validate reports options the client cannot work with.
func (o Options) Validate() error {
	if o.Heartbeat > MaxHeartbeat {
		return fmt.Errorf("meshtastic: heartbeat interval %s is too long: the radio drops an API client after 15 minutes without a frame; use at most %s", o.Heartbeat, MaxHeartbeat)
	}
	if o.AnswerTimeout < 0 || o.MissedHeartbeats < 0 {
		return errors.New("meshtastic: negative AnswerTimeout or MissedHeartbeats")
	}
	return nil
}

func (o *Options) fill() {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 60 * time.Second
	}
	if o.AnswerTimeout <= 0 {
		o.AnswerTimeout = 15 * time.Second
	}
	if o.MissedHeartbeats <= 0 {
		o.MissedHeartbeats = 3
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 30 * time.Second
	}
	if o.ContendedWindow <= 0 {
		o.ContendedWindow = 10 * time.Second
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 256
	}
	if o.WakeDelay == 0 {
		o.WakeDelay = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Nonce == nil {
		o.Nonce = randomNonce
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func randomNonce() uint32 {
	for {
		n := rand.Uint32()
		if n != 0 && n != NonceOnlyConfig && n != NonceOnlyNodes {
			return n
		}
	}
}

// Stats counts what crossed the link.
type Stats struct {
	FramesIn, FramesOut uint64
	Malformed           uint64 // frames that did not decode; skipped
	Skipped             uint64 // variants this client does not use
	LogLines            uint64
	Reader              frame.Stats
}

// Client is one API connection to a radio.
type Client struct {
	opts   Options
	conn   transport.Conn
	w      *frame.Writer
	log    *slog.Logger
	events chan Event

	evMu     sync.RWMutex // held to send on events; exclusively to close it
	evClosed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	err    error // set before done closes

	closing     atomic.Bool
	bytesSeen   atomic.Bool
	proxyWarned atomic.Bool  // the MQTT client proxy warning went out
	lastRx      atomic.Int64 // when anything last came from the radio (unix ns)
	hbAnswers   atomic.Bool  // the radio answers heartbeats (QueueStatus id 0)

	mu          sync.Mutex
	state       *radioState // live state, nil until the first handshake completes
	staging     *radioState // being filled by a handshake
	nonce       uint32
	handshaken  chan struct{} // closed when the current handshake completes
	ready       chan struct{} // closed when the first handshake completes
	restarted   chan struct{} // a handshake began; the monitor times it
	handshakeAt time.Time
	pending     map[uint32]*pending
	passkey     []byte
	lastSent    uint32

	adminMu sync.Mutex // admin edits must not interleave

	idCounter atomic.Uint32
	stats     struct {
		framesIn, framesOut, malformed, skipped, logLines atomic.Uint64
	}
	fr *frame.Reader
}

// Dial parses a radio address ("host[:port]", "tcp://host:port",
// "serial:///dev/ttyUSB0"), opens it and completes the handshake.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	a, err := transport.Parse(addr)
	if err != nil {
		return nil, err
	}
	conn, err := transport.Dial(ctx, a)
	if err != nil {
		return nil, err
	}
	return Connect(ctx, conn, opts)
}

// Connect runs the client over an open link and completes the handshake.
// On error the link is closed.
func Connect(ctx context.Context, conn transport.Conn, opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	opts.fill()
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts:      opts,
		conn:      conn,
		w:         frame.NewWriter(conn),
		log:       opts.Logger.With("radio", conn.Remote()),
		events:    make(chan Event, opts.EventBuffer),
		ctx:       cctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		ready:     make(chan struct{}),
		restarted: make(chan struct{}, 1),
		pending:   make(map[uint32]*pending),
	}
	c.idCounter.Store(rand.Uint32() & 0x3FF)
	c.fr = frame.NewReader(conn)
	c.wg.Add(1)
	go c.readLoop()

	// Wake a sleeping device and push its parser back to hunting for the
	// magic: 0xC3 is not START1, so the firmware just discards these.
	if err := c.w.WriteRaw(bytes.Repeat([]byte{frame.Start2}, 32)); err != nil {
		c.shutdown(fmt.Errorf("%w: write: %w", ErrUnreachable, err))
		return nil, c.err
	}
	if opts.WakeDelay > 0 {
		select {
		case <-time.After(opts.WakeDelay):
		case <-ctx.Done():
		}
	}
	hctx, hcancel := context.WithTimeout(ctx, opts.HandshakeTimeout)
	defer hcancel()
	if err := c.handshake(hctx); err != nil {
		c.shutdown(err)
		<-c.done
		return nil, c.err
	}
	c.wg.Add(1)
	go c.monitorLoop()
	return c, nil
}

// handshake sends want_config_id and waits until a handshake completes.
// It waits for the first completed one, not for this nonce: a `rebooted`
// frame during the exchange (native-USB boards send one right after the
// port opens) makes the client start over with a new nonce.
func (c *Client) handshake(ctx context.Context) error {
	c.startHandshake()
	select {
	case <-c.ready:
		return nil
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("%w: no config_complete_id: %w", ErrHandshake, ctx.Err())
	}
}

// startHandshake begins a config exchange with a fresh nonce.
func (c *Client) startHandshake() <-chan struct{} {
	c.mu.Lock()
	c.nonce = c.opts.Nonce()
	c.staging = newRadioState()
	c.handshaken = make(chan struct{})
	ch, nonce := c.handshaken, c.nonce
	c.mu.Unlock()
	select {
	case c.restarted <- struct{}{}:
	default:
	}
	if err := c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: nonce}}); err != nil {
		c.shutdown(fmt.Errorf("%w: %w", ErrClosed, err))
	}
	return ch
}

// Events streams what the radio reports. The channel closes after the
// EventLinkDown event.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the link is down.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the link went down (nil while it is up).
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Snapshot returns a consistent copy of the radio's state.
func (c *Client) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		return newRadioState().snapshot()
	}
	return c.state.snapshot()
}

// MyNodeNum is our radio's node number.
func (c *Client) MyNodeNum() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		return 0
	}
	return c.state.myNum
}

// Stats returns link counters.
func (c *Client) Stats() Stats {
	return Stats{
		FramesIn: c.stats.framesIn.Load(), FramesOut: c.stats.framesOut.Load(),
		Malformed: c.stats.malformed.Load(), Skipped: c.stats.skipped.Load(),
		LogLines: c.stats.logLines.Load(),
	}
}

// Close says goodbye to the radio and closes the link: disconnect, then a
// half close so the last command is not lost to a reset, a short wait for
// the radio to finish, then the full close.
func (c *Client) Close() error {
	if c.closing.Swap(true) {
		<-c.done
		return nil
	}
	select {
	case <-c.done:
	default:
		_ = c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Disconnect{Disconnect: true}})
		_ = c.conn.CloseWrite()
		select {
		case <-c.done:
		case <-time.After(250 * time.Millisecond):
		}
		c.shutdown(ErrClosed)
	}
	c.wg.Wait()
	return nil
}

// shutdown records why the link ended (first reason wins) and tears down.
func (c *Client) shutdown(reason error) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return
	default:
	}
	c.err = reason
	pend := c.pending
	c.pending = map[uint32]*pending{}
	close(c.done)
	c.mu.Unlock()
	c.cancel()
	_ = c.conn.Close()
	for _, p := range pend {
		p.finish(result{err: reason})
	}
}

func (c *Client) send(msg *pb.ToRadio) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	if err := c.w.WriteFrame(b); err != nil {
		if errors.Is(err, frame.ErrTooLarge) {
			return fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return err
	}
	c.stats.framesOut.Add(1)
	return nil
}

// monitorLoop keeps the link honest. It sends a heartbeat at once and then
// every Heartbeat, and expects something from the radio within
// AnswerTimeout of each: a radio that lost power or its Wi-Fi leaves a TCP
// connection that looks open for many minutes, so MissedHeartbeats
// unanswered ones in a row fail the link with ErrSilent (after a miss the
// next heartbeat goes out at once). It also times every handshake after
// the first (Connect times that one): a re-handshake whose want_config_id
// was lost would leave a link that looks connected and receives nothing,
// so it fails the link with ErrHandshake and lets the owner reconnect.
func (c *Client) monitorLoop() {
	defer c.wg.Done()
	hb := time.NewTimer(0)
	defer hb.Stop()
	answer := time.NewTimer(time.Hour)
	answer.Stop()
	defer answer.Stop()
	hs := time.NewTimer(time.Hour)
	hs.Stop()
	defer hs.Stop()
	var probeAt time.Time // the heartbeat the armed answer timer checks
	probing := false
	misses := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.restarted:
			hs.Reset(c.opts.HandshakeTimeout)
		case <-hs.C:
			c.mu.Lock()
			stuck := c.staging != nil
			c.mu.Unlock()
			if stuck {
				c.log.Warn("the radio did not answer the handshake after its reboot", "timeout", c.opts.HandshakeTimeout)
				c.shutdown(fmt.Errorf("%w: no config_complete_id %s after the radio rebooted", ErrHandshake, c.opts.HandshakeTimeout))
				return
			}
		case <-hb.C:
			now := time.Now()
			if err := c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}}); err != nil {
				c.shutdown(fmt.Errorf("%w: heartbeat: %w", ErrClosed, err))
				return
			}
			c.prunePending()
			if !probing {
				probing, probeAt = true, now
				answer.Reset(c.opts.AnswerTimeout)
			}
			hb.Reset(c.opts.Heartbeat)
		case <-answer.C:
			probing = false
			switch {
			case c.lastRx.Load() >= probeAt.UnixNano():
				misses = 0
			case !c.hbAnswers.Load():
				// Older firmware does not answer heartbeats: its silence
				// on a quiet mesh proves nothing.
			default:
				misses++
				c.log.Warn("the radio did not answer a heartbeat", "missed", misses, "of", c.opts.MissedHeartbeats)
				if misses >= c.opts.MissedHeartbeats {
					c.shutdown(fmt.Errorf("%w: %w: nothing from it in %s, %d heartbeats unanswered",
						ErrClosed, ErrSilent, time.Since(time.Unix(0, c.lastRx.Load())).Round(time.Second), misses))
					return
				}
				hb.Reset(0) // ask again at once
			}
		}
	}
}

// readLoop owns the read side; it ends when the link does.
func (c *Client) readLoop() {
	defer c.wg.Done()
	for {
		it, err := c.fr.Next()
		if err != nil {
			c.shutdown(c.classify(err))
			c.closeEvents(Event{Kind: EventLinkDown, Time: c.opts.Now(), Err: c.err})
			return
		}
		c.bytesSeen.Store(true)
		c.lastRx.Store(time.Now().UnixNano())
		switch it.Kind {
		case frame.KindLog:
			c.stats.logLines.Add(1)
			c.emit(Event{Kind: EventLog, Time: c.opts.Now(), Log: it.Text})
		case frame.KindFrame:
			c.stats.framesIn.Add(1)
			msg := &pb.FromRadio{}
			if err := pb.Unmarshal(it.Payload, msg); err != nil {
				c.stats.malformed.Add(1)
				c.log.Warn("skipping malformed frame", "len", len(it.Payload), "err", err)
				continue
			}
			if c.opts.OnFrame != nil {
				c.opts.OnFrame(msg)
			}
			c.handle(msg)
		}
	}
}

// classify turns a read error into the reason the link went down.
func (c *Client) classify(err error) error {
	if c.closing.Load() {
		return ErrClosed
	}
	c.mu.Lock()
	state, at := c.state, c.handshakeAt
	c.mu.Unlock()
	peerClosed := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err)
	switch {
	case !peerClosed:
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case !c.bytesSeen.Load():
		return fmt.Errorf("%w: the radio closed the connection without answering", ErrUnreachable)
	case state == nil:
		return fmt.Errorf("%w (during the handshake)", ErrContended)
	case c.opts.Now().Sub(at) < c.opts.ContendedWindow:
		return fmt.Errorf("%w (%s after the handshake)", ErrContended, c.opts.Now().Sub(at).Round(time.Millisecond))
	}
	return fmt.Errorf("%w: the radio closed the connection: %w", ErrClosed, err)
}

// emit delivers an event. Before the first handshake completes nobody can
// be reading yet, so events that do not fit are dropped then rather than
// stalling the handshake.
func (c *Client) emit(ev Event) {
	if c.opts.NoEvents {
		return
	}
	// Admin calls emit from their callers' goroutines: the read lock keeps
	// the channel open until they are done (they give up once ctx ends).
	c.evMu.RLock()
	defer c.evMu.RUnlock()
	if c.evClosed {
		return
	}
	c.mu.Lock()
	ready := c.state != nil
	c.mu.Unlock()
	if !ready {
		select {
		case c.events <- ev:
		default:
		}
		return
	}
	select {
	case c.events <- ev:
	case <-c.ctx.Done():
	}
}

// closeEvents delivers the link-down event even though ctx is cancelled,
// and closes the channel: nothing is emitted after it.
func (c *Client) closeEvents(ev Event) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if !c.opts.NoEvents {
		select {
		case c.events <- ev:
		default:
			// A full buffer means a stalled consumer; it learns from Done().
		}
	}
	c.evClosed = true
	close(c.events)
}
