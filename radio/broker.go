// Package radio holds one Broker per configured radio. The firmware serves
// a single API client and kicks the previous one when another connects, so
// every session that uses a radio goes through its Broker, which owns the
// only upstream connection: it dials when the first session subscribes,
// reconnects with jittered backoff, recognises a radio that another app is
// holding, fans events out to sessions through bounded queues, paces
// traceroutes and texts to the firmware's limits once for everyone, and
// serialises admin operations.
package radio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/transport"
	"github.com/meshgate/meshgate/store"
)

// Sentinel errors.
var (
	ErrNotConnected = errors.New("radio: not connected")
	ErrStopped      = errors.New("radio: broker stopped")
	ErrQueueFull    = errors.New("radio: too many requests waiting")
	ErrNoStore      = errors.New("radio: no history store configured")
)

// Dialer opens the link to the radio.
type Dialer func(ctx context.Context) (transport.Conn, error)

// Config describes one radio.
type Config struct {
	Name    string
	Address string // shown to users; the Dialer does the work
	Dial    Dialer
	// Grace keeps the link open this long after the last subscriber left,
	// so a user switching views or reconnecting does not cost a handshake.
	Grace time.Duration
	// AlwaysOn keeps the radio connected with no subscribers (history,
	// responders), taking it back from any other app (within the limits
	// of the contention policy below).
	AlwaysOn bool
	// Stay connects at once and keeps the link with nobody subscribed, so
	// the history has no gaps, but yields the radio to another app: when
	// the radio closes a TCP link while nobody here needs it (another app
	// connected, which makes the firmware drop us; or it rebooted), the
	// broker leaves it alone (Idle, ErrYielded) until someone does. A
	// serial link has no other app to yield to and is always reconnected.
	// The registry sets it for configured radios; see Registry.Add.
	Stay bool
	// Client options for each connection (heartbeat, handshake timeout).
	Client meshtastic.Options
	// BackoffMin/Max bound the jittered reconnect delay. The delay grows
	// with each failure; it returns to BackoffMin after a link has stayed
	// up for StableAfter, and on TCP after every completed handshake.
	BackoffMin, BackoffMax time.Duration
	// FirstRetry is how soon the first try comes after the radio closed a
	// TCP link, before the BackoffMin steps: a radio that is restarting
	// refuses it, and that refusal is what tells a restart from another
	// app taking the radio (see linkPolicy). Default 300 ms, at most
	// BackoffMin.
	FirstRetry time.Duration
	// StableAfter is how long a link must stay up to count as good: it
	// resets the backoff and forgets short links. A TCP link the radio
	// closes sooner is "short". Default 1 min.
	StableAfter time.Duration
	// ContendedAfter short links within ContendedWithin mark a TCP radio
	// contended (another app keeps taking it), whatever failed in between.
	// It is then retried only after ContendedRetry, doubling up to
	// ContendedRetryMax while it stays contended, so two auto-reconnecting
	// clients do not take the radio from each other forever, and the
	// other app is kicked rarely. Defaults: 3 within 10 min; 5 min, 30 min.
	// Serial links are never contended: a serial radio that keeps
	// dropping is reported as resetting (ErrUnstable).
	ContendedAfter    int
	ContendedWithin   time.Duration
	ContendedRetry    time.Duration
	ContendedRetryMax time.Duration
	// Silence is how long a link may bring nothing at all before it is
	// declared dead and reconnected. The radio answers each heartbeat
	// (Client.Heartbeat, default 60 s), so the default is three
	// heartbeats and 30 s more.
	Silence time.Duration
	// TracePace spaces traceroutes: the firmware allows one per 30 s from
	// its client, so we wait a little longer.
	TracePace time.Duration
	// TextPace spaces text messages for all users of the radio. The
	// firmware refuses a second text read within 2 s of the previous one
	// (PhoneAPI::handleToRadioPacket) and times it when it reads the
	// frame, which an idle TCP or USB link polls only every 250 ms
	// (StreamAPI::readStream), so two texts written 2.1 s apart can be
	// read 1.9 s apart. Default 3 s.
	TextPace time.Duration
	// TraceTimeout bounds the wait for one traceroute reply.
	TraceTimeout time.Duration
	// QueueLen is each subscriber's event queue; a subscriber that falls
	// further behind loses its oldest events (counted), never the broker's
	// time.
	QueueLen int
	// History is how many recent packets and messages the broker keeps.
	History int
	// Store, when set, receives the radio's history (messages, packet
	// summaries, delivery states) and supplies it back after a restart.
	Store *store.Store
	// Automation, when set, runs the responder rules, radio-wide filters
	// and beacons for this radio; a radio with enabled rules or a beacon
	// stays connected with nobody logged in.
	Automation *Automation
	// BeaconCheck is how often a due beacon is looked for. Default 30 s.
	BeaconCheck time.Duration
	Logger      *slog.Logger
	Now         func() time.Time

	// Unused, when set, is called from Run once nobody has needed the
	// radio for Grace with its link down, and again every Grace while
	// that lasts. The registry sets it for ad-hoc radios, to drop them by
	// ending Run's context (see Registry.Adhoc).
	Unused func()
}

func (c *Config) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Grace, 30*time.Second)
	def(&c.BackoffMin, time.Second)
	def(&c.BackoffMax, time.Minute)
	def(&c.FirstRetry, 300*time.Millisecond)
	c.FirstRetry = min(c.FirstRetry, c.BackoffMin)
	def(&c.StableAfter, time.Minute)
	def(&c.ContendedWithin, 10*time.Minute)
	def(&c.ContendedRetry, 5*time.Minute)
	def(&c.ContendedRetryMax, 30*time.Minute)
	c.ContendedRetryMax = max(c.ContendedRetryMax, c.ContendedRetry)
	hb := c.Client.Heartbeat
	if hb <= 0 {
		hb = 60 * time.Second
	}
	def(&c.Silence, 3*hb+30*time.Second)
	def(&c.TracePace, 32*time.Second)
	def(&c.TextPace, 3*time.Second)
	def(&c.TraceTimeout, 60*time.Second)
	def(&c.BeaconCheck, 30*time.Second)
	if c.ContendedAfter <= 0 {
		c.ContendedAfter = 3
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 256
	}
	if c.History <= 0 {
		c.History = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Client.Now = c.Now
}

// State of the upstream link.
type State int

// Link states.
const (
	// Idle: nobody needs the radio, so it is not connected; it connects
	// when someone uses it. LastError may still say why the last link
	// ended, but no retry is scheduled.
	Idle       State = iota
	Connecting       // dialling or handshaking
	Connected
	Backoff   // waiting to retry after a failure; RetryAt says until when
	Contended // another client keeps taking the radio; retrying slowly
	Stopped
)

func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Backoff:
		return "backoff"
	case Contended:
		return "contended"
	case Stopped:
		return "stopped"
	}
	return "unknown"
}

// MarshalText makes states render as words in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is a radio's link state as shown to users.
type Status struct {
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	State     State     `json:"state"`
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error,omitempty"` // the full error that ended the last link or attempt
	// Reason is LastError in a few words (at most ReasonMax runes, one
	// line) for a table column: "connection refused", "timed out".
	Reason string `json:"reason,omitempty"`
	// RetryAt is when the next attempt is due; set only while one is
	// scheduled (Backoff, Contended), never in the past.
	RetryAt     time.Time `json:"retry_at,omitzero"`
	Subscribers int       `json:"users"`
	NodeName    string    `json:"node_name,omitempty"`
	NodeID      string    `json:"node_id,omitempty"`
	LastPacket  time.Time `json:"last_packet,omitzero"`
	Reconnects  int       `json:"reconnects"`
	PacketsIn   uint64    `json:"packets_in"`
	PacketsOut  uint64    `json:"packets_out"`
	Drops       uint64    `json:"fanout_drops"`
	// Warnings are problems with the radio's setup that users should fix,
	// one sentence each, e.g. Bluetooth left on on a serial radio, or
	// answers going missing because another client reads the radio's
	// queue. Empty when all is well.
	Warnings []string `json:"warnings,omitempty"`
}

// Broker owns one radio's upstream connection.
type Broker struct {
	cfg Config
	log *slog.Logger

	subs   atomic.Pointer[[]*Subscription] // copy-on-write, read on every packet
	subsMu sync.Mutex
	wake   chan struct{} // a subscriber arrived or left
	retry  chan struct{} // RetryNow: end the wait after a failure

	mu            sync.Mutex
	status        Status
	client        *meshtastic.Client
	view          *View // immutable; replaced on change
	packets       *ring[*Packet]
	messages      *ring[*Message]
	links         chan struct{} // closed and replaced whenever a link comes up
	connectedOnce bool
	kind          transport.Kind // of the last link opened
	missing       []time.Time    // answers that went missing (see awaitAnswer)

	packetsIn, packetsOut, drops atomic.Uint64

	alwaysOn atomic.Bool
	yielded  atomic.Bool // Stay: left to another app until someone needs the radio
	// retryAsked: RetryNow was called; Run resets its link policy.
	retryAsked atomic.Bool

	adminMu sync.Mutex
	textMu  sync.Mutex
	lastTxt time.Time
	traces  *traceQueue

	vn vnodeHub // virtual node clients (vnode.go)

	ctx  context.Context
	done chan struct{}
}

// New returns a broker; call Run to start it.
func New(cfg Config) *Broker {
	cfg.fill()
	b := &Broker{
		cfg:      cfg,
		log:      cfg.Logger.With("radio", cfg.Name),
		wake:     make(chan struct{}, 1),
		retry:    make(chan struct{}, 1),
		packets:  newRing[*Packet](cfg.History),
		messages: newRing[*Message](cfg.History),
		links:    make(chan struct{}),
		done:     make(chan struct{}),
		view:     emptyView(),
	}
	b.subs.Store(&[]*Subscription{})
	b.status = Status{Name: cfg.Name, Address: cfg.Address, State: Idle, Since: cfg.Now()}
	b.traces = newTraceQueue(b)
	return b
}

// Name is the radio's configured name.
func (b *Broker) Name() string { return b.cfg.Name }

// Status returns the current link status.
func (b *Broker) Status() Status {
	now := b.cfg.Now()
	b.mu.Lock()
	s := b.status
	s.Warnings = b.warningsLocked(now)
	b.mu.Unlock()
	if !s.RetryAt.IsZero() && !s.RetryAt.After(now) {
		s.RetryAt = time.Time{} // due: the attempt is starting
	}
	s.Subscribers = len(*b.subs.Load())
	s.PacketsIn, s.PacketsOut, s.Drops = b.packetsIn.Load(), b.packetsOut.Load(), b.drops.Load()
	return s
}

// View returns the shared, immutable picture of the radio (NodeDB, config).
// Every session reads the same one; nobody may modify it.
func (b *Broker) View() *View {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.view
}

// RecentPackets returns up to n of the newest packets, oldest first.
func (b *Broker) RecentPackets(n int) []*Packet {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.packets.last(n)
}

// Messages returns up to n of the newest text messages, oldest first.
func (b *Broker) Messages(n int) []*Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.messages.last(n)
}

// Run manages the link until ctx ends. It is the only goroutine that
// dials or closes the client.
func (b *Broker) Run(ctx context.Context) {
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	defer close(b.done)
	b.loadHistory()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.traces.run(ctx) }()
	if b.cfg.Automation != nil {
		wg.Add(1)
		go func() { defer wg.Done(); b.beaconLoop(ctx) }()
	}
	defer wg.Wait()
	defer b.setState(Stopped, nil, time.Time{})

	policy := newLinkPolicy(&b.cfg)
	var idle time.Duration // how long nobody has needed the radio already
	for {
		if !b.waitWanted(ctx, idle) {
			return
		}
		idle = 0
		b.setState(Connecting, nil, time.Time{})
		c, kind, err := b.connect(ctx)
		if ctx.Err() != nil {
			if c != nil {
				_ = c.Close()
			}
			return
		}
		var up time.Duration
		if err == nil {
			start := b.cfg.Now()
			err = b.serve(ctx, c)
			up = b.cfg.Now().Sub(start)
			if err == nil { // closed on purpose: nobody needs it
				policy.closedOnPurpose(up)
				b.setState(Idle, nil, time.Time{})
				idle = b.cfg.Grace // serve waited that long with nobody
				continue
			}
			if ctx.Err() != nil {
				return
			}
		}
		out := policy.failed(kind, c != nil, up, err, b.cfg.Now())
		if b.cfg.Stay && kind == transport.TCP && closedByRadio(err) && !b.needed() {
			b.yielded.Store(true)
			out.err = fmt.Errorf("%w: %w", ErrYielded, out.err)
		}
		if !b.wanted() {
			// Nobody needs the radio (it rebooted or went away while
			// idle in the grace period): schedule nothing; it is dialled
			// again when someone uses it.
			b.log.Info("radio link lost with nobody using it", "err", out.err)
			b.setState(Idle, out.err, time.Time{})
			continue
		}
		b.log.Warn("radio link failed", "err", out.err, "state", out.state, "retry_in", out.wait.Round(time.Millisecond))
		b.setState(out.state, out.err, b.cfg.Now().Add(out.wait))
		if !b.sleep(ctx, out.wait) {
			return
		}
		if b.retryAsked.Swap(false) {
			// Someone says the other app is gone (or the radio is
			// back): try at once, with no history of short links.
			policy.reset()
		}
		if !b.wanted() { // the last user left while we waited
			b.setState(Idle, nil, time.Time{})
		}
	}
}

// jitter spreads d by ±20 % so gateways restarted together do not dial in
// lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits d, ending early (true) when the last subscriber leaves and
// the radio is not always-on, or (false) when ctx ends.
func (b *Broker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-b.wake:
			if !b.wanted() {
				return true
			}
		case <-b.retry:
			return true
		}
	}
}

// RetryNow ends the wait after a failed link (backoff, or contended) at
// once and forgets the short links that made the radio contended: for a
// user who knows the other app has gone. If it has not, the radio takes
// the link from it, and three quick drops make it contended again. It
// reports whether the broker was waiting.
func (b *Broker) RetryNow() bool {
	if st := b.Status().State; st != Backoff && st != Contended {
		return false
	}
	b.retryAsked.Store(true)
	select {
	case b.retry <- struct{}{}:
	default:
	}
	return true
}

// SetAlwaysOn keeps the radio connected with nobody subscribed (or stops
// doing so), e.g. for a radio whose history should always be recorded.
func (b *Broker) SetAlwaysOn(on bool) {
	b.alwaysOn.Store(on)
	b.poke()
}

func (b *Broker) wanted() bool {
	return b.needed() || b.cfg.Stay && !b.yielded.Load()
}

// needed: a user, an always-on setting, or an enabled rule or beacon
// needs the radio (Stay aside).
func (b *Broker) needed() bool {
	return b.cfg.AlwaysOn || b.alwaysOn.Load() || len(*b.subs.Load()) > 0 ||
		(b.cfg.Automation != nil && b.cfg.Automation.Active(b.cfg.Name, b.cfg.Now()))
}

// runCtx is the context Run was started with (background before that).
func (b *Broker) runCtx() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// waitWanted blocks until somebody (or an enabled rule or beacon) needs
// the radio. Rules change in the store without waking us, so with
// automation the question is asked again every few seconds. With
// cfg.Unused set, it reports the radio unused once nobody has needed it
// for Grace, counting idle (how long nobody had needed it already); a
// subscriber coming and going starts the count again.
func (b *Broker) waitWanted(ctx context.Context, idle time.Duration) bool {
	var poll <-chan time.Time
	if b.cfg.Automation != nil {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		poll = t.C
	}
	var unused *time.Timer
	var unusedC <-chan time.Time
	if b.cfg.Unused != nil {
		unused = time.NewTimer(max(b.cfg.Grace-idle, 0))
		defer unused.Stop()
		unusedC = unused.C
	}
	for !b.wanted() {
		select {
		case <-ctx.Done():
			return false
		case <-b.wake:
			if unused != nil {
				unused.Reset(b.cfg.Grace)
			}
		case <-poll:
		case <-unusedC:
			b.cfg.Unused() // may end ctx
			unused.Reset(b.cfg.Grace)
		}
	}
	return ctx.Err() == nil
}

// connect dials and handshakes. It returns the link's kind even when the
// handshake fails, "" when the dial did.
func (b *Broker) connect(ctx context.Context) (*meshtastic.Client, transport.Kind, error) {
	dctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	conn, err := b.cfg.Dial(dctx)
	if err != nil {
		return nil, "", err
	}
	kind := conn.Kind()
	b.mu.Lock()
	b.kind = kind
	b.mu.Unlock()
	opts := b.cfg.Client
	opts.Logger = b.log
	opts.OnFrame = b.onFrame
	opts.Sent = b.sent
	c, err := meshtastic.Connect(dctx, conn, opts)
	return c, kind, err
}

// sent shows the packets the gateway sends over the mesh to every user of
// the radio (the packet logs mark them outgoing). Admin packets to our own
// node never leave the radio and are left out.
func (b *Broker) sent(p *pb.MeshPacket) {
	var my uint32
	b.mu.Lock()
	if b.view != nil {
		my = b.view.MyNodeNum
	}
	b.mu.Unlock()
	if my == 0 || p.GetTo() == my {
		return
	}
	now := b.cfg.Now()
	b.publish(&Event{Kind: EvSent, At: now, Packet: &Packet{At: now, P: proto.Clone(p).(*pb.MeshPacket)}})
}

// serve runs one connected client: it folds events into the shared state
// and fans them out, and closes the link after the grace period once
// nobody needs it (returning nil). Otherwise it returns the link error.
func (b *Broker) serve(ctx context.Context, c *meshtastic.Client) error {
	snap := c.Snapshot()
	b.mu.Lock()
	b.client = c
	b.view = newView(&snap)
	self := snap.Self()
	b.status.NodeName, b.status.NodeID = self.Name(), self.ID()
	if b.connectedOnce {
		b.status.Reconnects++
	}
	b.connectedOnce = true
	b.yielded.Store(false) // someone needed it back; keep it again
	close(b.links)
	b.links = make(chan struct{})
	b.mu.Unlock()
	b.setState(Connected, nil, time.Time{})
	b.log.Info("radio connected", "node", self.ID(), "name", self.Name(), "nodes", len(snap.Nodes))
	defer func() {
		b.mu.Lock()
		b.client = nil
		b.mu.Unlock()
		b.traces.linkDown()
	}()

	var idle *time.Timer
	var idleC <-chan time.Time
	if !b.wanted() { // everyone left while we were connecting
		idle = time.NewTimer(b.cfg.Grace)
		idleC = idle.C
	}
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	// The radio answers every heartbeat, so a link that brings nothing
	// for Silence is dead even if the socket or port still looks open
	// (a radio that lost power behind a Wi-Fi access point sends no
	// reset; a hung board keeps its USB port).
	heard := time.Now()
	watch := time.NewTicker(b.cfg.Silence / 4)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.Close()
			return ctx.Err()
		case <-watch.C:
			if quiet := time.Since(heard); quiet >= b.cfg.Silence {
				_ = c.Close()
				return fmt.Errorf("%w: nothing from it for %s, not even a heartbeat answer", ErrSilent, quiet.Round(time.Millisecond))
			}
		case <-b.wake:
			if b.wanted() {
				if idle != nil {
					idle.Stop()
					idle, idleC = nil, nil
				}
			} else if idle == nil {
				idle = time.NewTimer(b.cfg.Grace)
				idleC = idle.C
			}
		case <-idleC:
			if !b.wanted() {
				b.log.Info("closing radio link: no users", "grace", b.cfg.Grace)
				_ = c.Close()
				return nil
			}
			idle, idleC = nil, nil
		case ev, ok := <-c.Events():
			heard = time.Now()
			if !ok || ev.Kind == meshtastic.EventLinkDown {
				err := c.Err()
				if err == nil {
					err = ev.Err
				}
				_ = c.Close()
				return err
			}
			b.handle(c, ev)
		}
	}
}
