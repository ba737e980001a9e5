package radio

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/store"
)

// Automation is what the gateway does on a radio's behalf whether or not
// anyone is logged in: it writes history to the store, answers messages
// with the operators' responder rules, hides what radio-wide filters
// block from the history and the responder, and sends beacons. One
// Automation serves every broker; the rules, filters and beacons it
// follows live in the store and are re-read when they change.
type Automation struct {
	store  *store.Store
	engine *responder.Engine
	log    *slog.Logger

	mu      sync.Mutex
	rev     uint64
	loaded  bool
	rules   map[string][]responder.Rule
	filters []filter.Filter
	sets    map[string]*filter.Set
	beacons map[string]responder.Beacon
	counter map[string]*filter.Counter
	paused  map[string]time.Time // radio -> when its users were last told the budget is spent
	// telemetry is when each node's metrics were last stored; a few
	// entries per node heard, like the NodeDB.
	telemetry map[telemetryKey]time.Time

	replies, dryRuns, skipped, budgetRefused atomic.Uint64
}

// AutomationConfig tunes an Automation. Zero fields take the defaults.
type AutomationConfig struct {
	// Responder tunes the rule engine. Its Budget and BudgetWindow cap the
	// automatic replies of each radio across all rules: by default
	// responder.DefaultBudget (10) per responder.DefaultBudgetWindow (10
	// minutes).
	Responder responder.Config
	Logger    *slog.Logger
}

// NewAutomation returns the automation over st (which must not be nil)
// with the default settings.
func NewAutomation(st *store.Store, logger *slog.Logger) *Automation {
	return NewAutomationWith(st, AutomationConfig{Logger: logger})
}

// NewAutomationWith returns the automation over st (which must not be
// nil) with cfg's settings.
func NewAutomationWith(st *store.Store, cfg AutomationConfig) *Automation {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Automation{store: st, engine: responder.NewEngine(cfg.Responder), log: cfg.Logger,
		counter: map[string]*filter.Counter{}, paused: map[string]time.Time{}}
}

// AutomationStats counts what the automation did.
type AutomationStats struct {
	Replies       uint64 `json:"replies"`        // automatic replies sent
	DryRuns       uint64 `json:"dry_runs"`       // replies a dry-run rule would have sent
	BudgetRefused uint64 `json:"budget_refused"` // replies held back by a radio's reply budget, all radios
	Filtered      uint64 `json:"filtered"`       // packets radio-wide filters kept out of history and the responder
	Dropped       uint64 `json:"db_dropped"`     // history records the store could not queue
}

// Stats returns the counters.
func (a *Automation) Stats() AutomationStats {
	st := AutomationStats{Replies: a.replies.Load(), DryRuns: a.dryRuns.Load(), BudgetRefused: a.budgetRefused.Load(),
		Dropped: a.store.Stats().Dropped}
	a.mu.Lock()
	for _, c := range a.counter {
		st.Filtered += c.Snapshot().Hidden
	}
	a.mu.Unlock()
	return st
}

// BudgetStatus is a radio's reply budget: replies used in the sliding
// window, the limit, the window, replies refused so far and when the next
// one becomes possible.
type BudgetStatus = responder.BudgetStatus

// Budget returns radio's reply budget now.
func (a *Automation) Budget(radio string) BudgetStatus {
	return a.engine.Budget(radio, time.Now())
}

// refresh re-reads rules, filters and beacons when the store says they
// changed. It is cheap when nothing did: one atomic load.
func (a *Automation) refresh() {
	rev := a.store.Revision()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded && rev == a.rev {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rules, err1 := a.store.Rules(ctx, "")
	filters, err2 := a.store.Filters(ctx)
	beacons, err3 := a.store.Beacons(ctx)
	if err1 != nil || err2 != nil || err3 != nil {
		a.log.Error("reading automation settings", "rules", err1, "filters", err2, "beacons", err3)
		return
	}
	a.rules = map[string][]responder.Rule{}
	for _, r := range rules {
		a.rules[r.Radio] = append(a.rules[r.Radio], r)
	}
	a.filters = filters
	a.sets = map[string]*filter.Set{}
	a.beacons = map[string]responder.Beacon{}
	for _, b := range beacons {
		a.beacons[b.Radio] = b
	}
	a.rev, a.loaded = rev, true
}

// radioSet returns the radio-wide filter set for radio. Caller holds a.mu.
func (a *Automation) radioSet(radio string) *filter.Set {
	if s, ok := a.sets[radio]; ok {
		return s
	}
	s, err := filter.NewSet(filter.RadioWide(a.filters, radio))
	if err != nil {
		a.log.Warn("some radio-wide filters are invalid and ignored", "radio", radio, "err", err)
	}
	a.sets[radio] = s
	return s
}

// Active reports whether radio has enabled rules or a beacon, which keeps
// it connected with nobody logged in.
func (a *Automation) Active(radio string, now time.Time) bool {
	a.refresh()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.rules[radio] {
		if r.Active(now) {
			return true
		}
	}
	b, ok := a.beacons[radio]
	return ok && b.Enabled
}

// Beacon returns radio's beacon, if one is set.
func (a *Automation) Beacon(radio string) (responder.Beacon, bool) {
	a.refresh()
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.beacons[radio]
	return b, ok
}

// observe handles one received packet for broker b: filters, history and
// the responder. It never blocks the broker: the store queues writes and
// replies go out from their own goroutine.
func (a *Automation) observe(b *Broker, p *Packet, msg *Message) {
	a.refresh()
	text := ""
	if msg != nil {
		text = msg.Text
	}
	a.mu.Lock()
	set := a.radioSet(b.cfg.Name)
	c := a.counter[b.cfg.Name]
	if c == nil {
		c = &filter.Counter{}
		a.counter[b.cfg.Name] = c
	}
	rules := a.rules[b.cfg.Name]
	a.mu.Unlock()
	ok, reason := set.Allows(p.P, text)
	if !c.Count(ok, reason) {
		return
	}
	j := p.JSON()
	a.store.AddPacket(store.PacketSummary{Radio: b.cfg.Name, At: p.At, ID: j.ID, From: p.P.GetFrom(), To: p.P.GetTo(),
		Channel: j.Channel, PortNum: uint32(p.P.GetDecoded().GetPortnum()), Port: j.Port, Summary: j.Summary,
		SNR: j.SNR, RSSI: j.RSSI, Hops: j.Hops, ViaMQTT: j.ViaMQTT})
	a.recordTelemetry(b.cfg.Name, p)
	if msg == nil {
		return
	}
	a.store.AddMessage(*msg)
	if len(rules) == 0 {
		return
	}
	v := b.View()
	self, _ := v.Self()
	var sender *meshtastic.Node
	if n, ok := v.Nodes[p.P.GetFrom()]; ok && (n.LongName != "" || n.ShortName != "") {
		sender = n
	}
	now := time.Now()
	d := a.engine.Decide(responder.NewIncoming(b.cfg.Name, p.P, self, sender), rules, now)
	switch d.Action {
	case responder.Send:
		a.replies.Add(1)
		b.log.Info("responder reply", "rule", d.Rule.ID, "owner", d.Rule.OwnerName, "to", meshtastic.NodeID(d.To))
		go b.autoReply(d)
	case responder.WouldSend:
		a.dryRuns.Add(1)
		b.publish(&Event{Kind: EvAnnounce, At: time.Now(), Text: fmt.Sprintf("responder rule %d (dry run) would reply to %s: %s",
			d.Rule.ID, meshtastic.NodeID(p.P.GetFrom()), d.Text)})
	default:
		a.skipped.Add(1)
		if d.Reason == responder.ReasonBudget {
			a.budgetRefused.Add(1)
			a.budgetSpent(b, d, now)
		}
	}
}

// budgetSpent tells the radio's users that the reply budget held a reply
// back: once per budget window, so a busy channel does not turn into a
// stream of notices. The refusal itself is counted by the engine.
func (a *Automation) budgetSpent(b *Broker, d responder.Decision, now time.Time) {
	st := a.engine.Budget(b.cfg.Name, now)
	a.mu.Lock()
	last, told := a.paused[b.cfg.Name]
	tell := !told || now.Sub(last) >= st.Window
	if tell {
		a.paused[b.cfg.Name] = now
	}
	a.mu.Unlock()
	b.log.Info("responder reply held back by the budget", "rule", d.Rule.ID, "used", st.Used, "limit", st.Limit,
		"window", st.Window, "refused", st.Refused, "next_at", st.ResetAt)
	if tell {
		b.Announce(budgetNotice(b.cfg.Name, st))
	}
}

// budgetNotice is what a radio's users are told when its reply budget
// holds replies back, e.g. "auto-replies paused on base: 10 sent in the
// last 10m (budget)".
func budgetNotice(radio string, st BudgetStatus) string {
	return fmt.Sprintf("auto-replies paused on %s: %d sent in the last %s (budget)", radio, st.Used, format.Typed(st.Window))
}

// autoReply sends a responder's reply through the broker's normal text
// path, so it respects the radio's text rate limit like any user's text.
func (b *Broker) autoReply(d responder.Decision) {
	ctx, cancel := context.WithTimeout(b.runCtx(), time.Minute)
	defer cancel()
	who := fmt.Sprintf("responder rule %d (%s)", d.Rule.ID, d.Rule.OwnerName)
	if _, err := b.SendText(ctx, who, meshtastic.Text{To: d.To, Channel: d.Channel, Text: d.Text, ReplyID: d.ReplyID,
		WantAck: d.To != meshtastic.Broadcast}); err != nil {
		b.log.Warn("responder reply not sent", "rule", d.Rule.ID, "err", err)
	}
}

// beaconLoop sends the radio's beacon when it is due, while the radio is
// connected. It checks twice a minute; beacons are at least 15 min apart.
//
// Beacons do not count against the reply budget, and the budget does not
// stop them. The budget exists because replies are provoked: their number
// follows other people's traffic, and many rules can answer. A beacon is
// one per radio, set by an operator, and its interval (at least
// responder.MinBeaconInterval) already bounds it to less than one message
// per budget window. Counting it would only let a chatty channel silence
// the one scheduled message the team relies on to see the gateway alive,
// or let the beacon take a reply's place.
func (b *Broker) beaconLoop(ctx context.Context) {
	a := b.cfg.Automation
	t := time.NewTicker(b.cfg.BeaconCheck)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		bc, ok := a.Beacon(b.cfg.Name)
		now := time.Now()
		if !ok || !bc.Enabled || now.Before(bc.Next(last, now)) {
			continue
		}
		if _, err := b.Client(); err != nil {
			continue
		}
		if _, err := b.SendBeacon(ctx, bc); err != nil {
			b.log.Warn("beacon not sent", "err", err)
			continue
		}
		last = now
	}
}

// SendBeacon renders and sends a beacon now (also "beacon test").
func (b *Broker) SendBeacon(ctx context.Context, bc responder.Beacon) (Message, error) {
	v := b.View()
	self, _ := v.Self()
	text := responder.RenderBeacon(bc.Template, responder.BeaconVarsFor(self, len(v.Nodes), time.Now()))
	return b.SendText(ctx, "beacon ("+bc.OwnerName+")", meshtastic.Text{Channel: bc.Channel, Text: text})
}

// History returns up to limit stored messages of the radio, from before
// this process started too, oldest first.
func (b *Broker) History(ctx context.Context, limit int) ([]store.Message, error) {
	if b.cfg.Store == nil {
		return nil, ErrNoStore
	}
	return b.cfg.Store.Messages(ctx, b.cfg.Name, store.Page{Limit: limit})
}

// loadHistory fills the broker's message ring from the store, so a login
// sees the chat from before the gateway (re)started.
func (b *Broker) loadHistory() {
	if b.cfg.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := b.cfg.Store.Messages(ctx, b.cfg.Name, store.Page{Limit: b.cfg.History})
	if err != nil {
		b.log.Warn("loading message history", "err", err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		b.messages.push(&m)
	}
}
