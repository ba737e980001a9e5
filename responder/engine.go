package responder

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
)

// Config tunes an Engine. Zero fields take the defaults documented on each.
type Config struct {
	// MaxReplyBytes clamps rendered replies. Default
	// meshtastic.MaxTextBytes(true, true): a PKI-encrypted direct reply
	// carrying a reply id, the smallest budget a reply can have, so the
	// reply always fits whatever path it takes.
	MaxReplyBytes int
	// DedupWindow is how long a packet id is remembered, so a packet heard
	// twice (over RF and again from MQTT, or replayed after a reconnect)
	// is answered once. Default 10 minutes: far longer than any mesh
	// delivers a rebroadcast, far shorter than a sender takes to reuse a
	// random 32-bit id.
	DedupWindow time.Duration
	// The loop guard mutes a sender for LoopMute once it triggers rules
	// more than LoopTriggers times within LoopWindow. Defaults 5 triggers,
	// 2 minutes, 30 minutes: a person rarely pings a bot six times in two
	// minutes; another bot replying to our replies does so quickly.
	LoopTriggers int
	LoopWindow   time.Duration
	LoopMute     time.Duration
	// MaxTracked bounds the remembered packets (oldest forgotten first) so
	// a flood cannot grow the engine without limit. Default 10000.
	MaxTracked int
	// Budget caps the automatic replies of one radio, across all its rules
	// and owners: at most Budget within any BudgetWindow. Cooldowns are
	// per rule, so many rules (or many operators' rules) could together
	// still keep a radio talking; the budget cannot be outgrown by adding
	// rules. Defaults DefaultBudget and DefaultBudgetWindow.
	Budget       int
	BudgetWindow time.Duration
	// Logger hears about rules that never fire: invalid ones and those
	// over MaxRulesPerRadio, once each time a radio's rules change.
	// Default slog.Default().
	Logger *slog.Logger
}

// Reply budget defaults: 10 automatic replies per 10 minutes per radio.
// That is one a minute on average, the pace of a busy human operator, and
// a burst of 10 answers a room of people all saying "ping" at once.
const (
	DefaultBudget       = 10
	DefaultBudgetWindow = 10 * time.Minute
)

func (c *Config) fill() {
	if c.MaxReplyBytes <= 0 {
		c.MaxReplyBytes = meshtastic.MaxTextBytes(true, true)
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = 10 * time.Minute
	}
	if c.LoopTriggers <= 0 {
		c.LoopTriggers = 5
	}
	if c.LoopWindow <= 0 {
		c.LoopWindow = 2 * time.Minute
	}
	if c.LoopMute <= 0 {
		c.LoopMute = 30 * time.Minute
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = 10000
	}
	if c.Budget <= 0 {
		c.Budget = DefaultBudget
	}
	if c.BudgetWindow <= 0 {
		c.BudgetWindow = DefaultBudgetWindow
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Action is what the caller should do with a Decision.
type Action uint8

// Actions.
const (
	Skip      Action = iota // send nothing; Reason says why
	Send                    // send Text to To on Channel, as a reply to ReplyID
	WouldSend               // a dry-run rule fired: log "would reply" with Text, send nothing
)

func (a Action) String() string {
	switch a {
	case Skip:
		return "skip"
	case Send:
		return "send"
	case WouldSend:
		return "would send"
	}
	return "invalid"
}

// Reason explains a Skip. The words are meant for logs and the packet view.
type Reason string

// Reasons, in the order the engine checks them.
const (
	ReasonEmptyText      Reason = "empty text"
	ReasonOwnNode        Reason = "sent by our own node"
	ReasonNotForUs       Reason = "direct message to another node"
	ReasonUnknownSender  Reason = "unknown sender (no NodeInfo)"
	ReasonDuplicate      Reason = "packet already handled"
	ReasonNoMatch        Reason = "no rule matched"
	ReasonMuted          Reason = "sender muted by the loop guard"
	ReasonLoop           Reason = "loop guard tripped: sender muted"
	ReasonCooldown       Reason = "rule cooling down"
	ReasonSenderCooldown Reason = "rule cooling down for this sender"
	ReasonBudget         Reason = "reply budget of the radio spent"
)

// Decision is the engine's answer for one received message.
type Decision struct {
	Action Action
	Reason Reason // set when Action is Skip

	// Rule is the rule that fired (Send, WouldSend), or the rule held back
	// by a cooldown (ReasonCooldown, ReasonSenderCooldown) or by the
	// radio's reply budget (ReasonBudget); zero otherwise.
	Rule Rule
	// Matched lists the IDs of every active rule that matched, lowest
	// first, whatever the outcome: a log can say "rules 3, 7 matched".
	Matched []int64

	Text    string // the rendered reply, clamped to Config.MaxReplyBytes
	To      uint32 // the sender for a direct message, meshtastic.Broadcast otherwise
	Channel uint32 // the channel the message came on
	ReplyID uint32 // the packet answered (Data.reply_id)

	// MutedUntil is when the loop guard lets the sender be answered again
	// (ReasonMuted, ReasonLoop).
	MutedUntil time.Time
}

// Engine decides replies. It remembers the packets it has seen, the
// cooldowns and the loop guard's counts; the rules themselves are passed
// to each Decide, so edits take effect at once. The engine prepares each
// radio's rules (validates them, compiles their triggers, applies
// MaxRulesPerRadio) when they change, that is when the rules Decide gets
// differ from the last ones, and reuses that for every message until the
// next change: a message costs no compilation, and what the engine keeps
// is one prepared copy of each radio's current rules, however many
// messages or changes go by. One Engine may serve several radios:
// everything it remembers is keyed by radio. It is safe for concurrent
// use.
type Engine struct {
	cfg Config

	mu          sync.Mutex
	seen        map[packetKey]time.Time
	seenQueue   []seenEntry // packets in the order seen, for expiry
	seenHead    int
	ruleUntil   map[int64]time.Time      // rule -> end of its cooldown
	senderUntil map[ruleSender]time.Time // (rule, sender) -> end of its cooldown
	senders     map[senderKey]*loopState
	prepared    map[string]*radioRules // radio -> its rules as last prepared
	budgets     map[string]*budget     // radio -> its reply budget
	nextSweep   time.Time
}

// budget is one radio's reply budget: when its recent replies went out.
type budget struct {
	sent    []time.Time // within the window, oldest first; at most Config.Budget
	refused uint64
}

type packetKey struct {
	radio    string
	from, id uint32
}

type seenEntry struct {
	key packetKey
	at  time.Time
}

type senderKey struct {
	radio string
	node  uint32
}

type ruleSender struct {
	rule   int64
	sender senderKey
}

type loopState struct {
	hits       []time.Time // triggers within the loop window, oldest first
	mutedUntil time.Time
}

// NewEngine returns an engine with cfg's settings.
func NewEngine(cfg Config) *Engine {
	cfg.fill()
	return &Engine{
		cfg:         cfg,
		seen:        make(map[packetKey]time.Time),
		ruleUntil:   make(map[int64]time.Time),
		senderUntil: make(map[ruleSender]time.Time),
		senders:     make(map[senderKey]*loopState),
		prepared:    make(map[string]*radioRules),
		budgets:     make(map[string]*budget),
	}
}

// Decide says whether and how to answer in, given the radio's rules, at
// now. The caller acts on the result: Send goes through the radio's text
// queue (which enforces the firmware's rate limit), WouldSend is logged.
//
// Checks, in order: empty text, our own node, a direct message to someone
// else, an unknown sender, a packet already decided (deduplicated by radio,
// sender and packet id, however many times Decide is called), then the
// rules: enabled, unexpired rules of in.Radio that pass validation and
// whose trigger, type, source and channel match. If any match, the sender's
// trigger counts towards the loop guard (a muted sender is not answered),
// then cooldowns leave the eligible rules. One of them answers: a live rule
// before a dry-run one (a rule being tried out must not silence a working
// one), then the lowest ID. A live answer needs room in the radio's reply
// budget (Config.Budget); without it nothing is sent (ReasonBudget), no
// cooldown starts and the refusal is counted (see Budget). Otherwise every
// eligible rule starts its cooldowns, not only the one that answered, so
// overlapping rules of several operators behave as one: the sender got an
// answer. Dry-run answers send nothing and take nothing from the budget.
func (e *Engine) Decide(in Incoming, rules []Rule, now time.Time) Decision {
	switch {
	case strings.TrimSpace(in.Text) == "":
		return Decision{Reason: ReasonEmptyText}
	case in.From == in.MyNode || in.From == 0:
		// From 0 is how the firmware marks a packet generated locally.
		return Decision{Reason: ReasonOwnNode}
	case in.Direct() && in.To != in.MyNode:
		return Decision{Reason: ReasonNotForUs}
	case !in.SenderKnown:
		return Decision{Reason: ReasonUnknownSender}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweep(now)
	if e.checkSeen(packetKey{in.Radio, in.From, in.PacketID}, now) {
		return Decision{Reason: ReasonDuplicate}
	}

	matched := e.match(&in, rules, now)
	if len(matched) == 0 {
		return Decision{Reason: ReasonNoMatch}
	}
	d := Decision{Matched: make([]int64, len(matched))}
	for i, r := range matched {
		d.Matched[i] = r.ID
	}

	sender := senderKey{in.Radio, in.From}
	if until, reason := e.loopGuard(sender, now); reason != "" {
		d.Reason, d.MutedUntil = reason, until
		return d
	}

	// Live rules first, then by ID: the order both the choice and the
	// reported reason follow.
	slices.SortStableFunc(matched, func(a, b *Rule) int {
		if a.DryRun != b.DryRun {
			if a.DryRun {
				return 1
			}
			return -1
		}
		return 0
	})
	var eligible []*Rule
	for _, r := range matched {
		reason := e.cooling(r, sender, now)
		if reason != "" {
			if len(eligible) == 0 && d.Reason == "" {
				d.Reason, d.Rule = reason, *r
			}
			continue
		}
		eligible = append(eligible, r)
	}
	if len(eligible) == 0 {
		return d
	}
	chosen := eligible[0]
	if !chosen.DryRun && !e.spend(in.Radio, now) {
		d.Reason, d.Rule = ReasonBudget, *chosen
		return d
	}
	for _, r := range eligible {
		e.startCooldowns(r, sender, now)
	}

	d.Reason, d.Rule = "", *chosen
	d.Action = Send
	if chosen.DryRun {
		d.Action = WouldSend
	}
	d.Text = chosen.Render(&in, now, e.cfg.MaxReplyBytes)
	d.To, d.Channel, d.ReplyID = meshtastic.Broadcast, in.Channel, in.PacketID
	if in.Direct() {
		d.To = in.From
	}
	return d
}

// BudgetStatus is one radio's reply budget at a moment.
type BudgetStatus struct {
	Used   int           // automatic replies sent within the last Window
	Limit  int           // at most this many per Window
	Window time.Duration // the sliding window
	// Refused counts the replies the budget held back on this radio since
	// the engine started.
	Refused uint64
	// ResetAt is when the oldest reply counted in Used leaves the window,
	// freeing room for one more; zero when Used is 0.
	ResetAt time.Time
}

// Spent reports whether the budget has no room left.
func (b BudgetStatus) Spent() bool { return b.Used >= b.Limit }

// MarshalJSON writes the status with snake_case names, the window in
// seconds and the reset time in RFC 3339 UTC (left out when zero).
func (b BudgetStatus) MarshalJSON() ([]byte, error) {
	j := struct {
		Used    int        `json:"used"`
		Limit   int        `json:"limit"`
		Window  float64    `json:"window"`
		Refused uint64     `json:"refused"`
		ResetAt *time.Time `json:"reset_at,omitempty"`
	}{Used: b.Used, Limit: b.Limit, Window: b.Window.Seconds(), Refused: b.Refused}
	if !b.ResetAt.IsZero() {
		r := b.ResetAt.UTC()
		j.ResetAt = &r
	}
	return json.Marshal(j)
}

// Budget returns radio's reply budget at now.
func (e *Engine) Budget(radio string, now time.Time) BudgetStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := BudgetStatus{Limit: e.cfg.Budget, Window: e.cfg.BudgetWindow}
	b := e.budgets[radio]
	if b == nil {
		return st
	}
	b.trim(now, e.cfg.BudgetWindow)
	st.Used, st.Refused = len(b.sent), b.refused
	if len(b.sent) > 0 {
		st.ResetAt = b.sent[0].Add(e.cfg.BudgetWindow)
	}
	return st
}

// spend takes one reply from radio's budget at now, or counts a refusal
// and reports false when there is no room.
func (e *Engine) spend(radio string, now time.Time) bool {
	b := e.budgets[radio]
	if b == nil {
		b = &budget{}
		e.budgets[radio] = b
	}
	b.trim(now, e.cfg.BudgetWindow)
	if len(b.sent) >= e.cfg.Budget {
		b.refused++
		return false
	}
	b.sent = append(b.sent, now)
	return true
}

// trim forgets the replies that left the window.
func (b *budget) trim(now time.Time, window time.Duration) {
	i := 0
	for i < len(b.sent) && now.Sub(b.sent[i]) >= window {
		i++
	}
	if i > 0 {
		b.sent = append(b.sent[:0], b.sent[i:]...)
	}
}

// Unmute lifts the loop guard's mute on node and forgets its recent
// triggers, for an operator who has dealt with the other bot.
func (e *Engine) Unmute(radio string, node uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.senders, senderKey{radio, node})
}

// match returns the rules that may answer in, sorted by ID.
func (e *Engine) match(in *Incoming, rules []Rule, now time.Time) []*Rule {
	var out []*Rule
	for _, p := range e.rulesOf(in.Radio, rules) {
		r := &p.rule
		if r.Active(now) && r.accepts(in) && matchText(r.Match, r.Trigger, in.Text, p.re) {
			out = append(out, r)
		}
	}
	return out
}

// prepared is one rule as the engine applies it: a copy of the rule as it
// was passed, with its validity decided and its trigger compiled once.
type prepared struct {
	rule     Rule
	compiled bool
	re       *regexp.Regexp // the trigger, for MatchRegex
	err      error          // why the rule never fires
}

// radioRules is one radio's rules as the engine last prepared them.
type radioRules struct {
	seen    []*prepared // the radio's rules in the order last passed, to notice a change
	inForce []*prepared // enabled, valid and within MaxRulesPerRadio, by ID
}

// rulesOf returns radio's rules in force, preparing them again only when
// rules (the radio's among them) differ from the last ones. Checking costs
// a comparison per rule and allocates nothing. Caller holds e.mu.
func (e *Engine) rulesOf(radio string, rules []Rule) []*prepared {
	rr := e.prepared[radio]
	if rr == nil || !rr.same(radio, rules) {
		rr = e.prepare(radio, rules, rr)
		e.prepared[radio] = rr
	}
	return rr.inForce
}

// same reports whether radio's rules in rules are the ones rr was
// prepared from.
func (rr *radioRules) same(radio string, rules []Rule) bool {
	k := 0
	for i := range rules {
		r := &rules[i]
		if r.Radio != radio {
			continue
		}
		if k >= len(rr.seen) || !sameRule(&rr.seen[k].rule, r) {
			return false
		}
		k++
	}
	return k == len(rr.seen)
}

// prepare makes radio's rules ready, reusing what old already prepared
// for the rules that did not change.
//
// Rules over MaxRulesPerRadio can only come from a database written
// before the limit (the core refuses them): the enabled rules with the
// lowest IDs, up to the limit, are in force and the rest are skipped,
// neither compiled nor tried, with one log line per change naming them.
// An invalid rule (one saved before a check existed, or edited by hand,
// such as a trigger over the regex size limits) is logged the same way
// and never fires.
func (e *Engine) prepare(radio string, rules []Rule, old *radioRules) *radioRules {
	reuse := map[int64]*prepared{}
	if old != nil {
		for _, p := range old.seen {
			reuse[p.rule.ID] = p
		}
	}
	rr := &radioRules{}
	for i := range rules {
		r := &rules[i]
		if r.Radio != radio {
			continue
		}
		p := reuse[r.ID]
		if p != nil && sameRule(&p.rule, r) {
			delete(reuse, r.ID) // a duplicate ID gets its own copy
		} else {
			p = &prepared{rule: *r}
		}
		rr.seen = append(rr.seen, p)
	}
	byID := slices.Clone(rr.seen)
	slices.SortStableFunc(byID, func(a, b *prepared) int {
		switch {
		case a.rule.ID < b.rule.ID:
			return -1
		case a.rule.ID > b.rule.ID:
			return 1
		}
		return 0
	})
	var skipped []int64
	enabled := 0
	for _, p := range byID {
		if !p.rule.Enabled {
			continue
		}
		if enabled >= MaxRulesPerRadio {
			skipped = append(skipped, p.rule.ID)
			continue
		}
		enabled++
		if !p.compiled {
			p.re, p.err = p.rule.compile()
			p.compiled = true
			if p.err != nil {
				e.cfg.Logger.Warn("responder rule is invalid and never fires", "radio", radio, "rule", p.rule.ID,
					"err", p.err)
			}
		}
		if p.err == nil {
			rr.inForce = append(rr.inForce, p)
		}
	}
	if len(skipped) > 0 {
		const listed = 20
		e.cfg.Logger.Warn(fmt.Sprintf("radio has more than %d enabled responder rules; the ones with the highest IDs are skipped", MaxRulesPerRadio),
			"radio", radio, "skipped", len(skipped), "rules", skipped[:min(len(skipped), listed)])
	}
	return rr
}

// sameRule reports whether a and b are the same rule with the same
// settings.
func sameRule(a, b *Rule) bool {
	return a.ID == b.ID && a.Radio == b.Radio && a.Owner == b.Owner && a.OwnerName == b.OwnerName &&
		a.Trigger == b.Trigger && a.Match == b.Match && a.Reply == b.Reply && a.Type == b.Type &&
		a.Source == b.Source && (a.Channel == nil) == (b.Channel == nil) && (a.Channel == nil || *a.Channel == *b.Channel) &&
		a.Cooldown == b.Cooldown && a.SenderCooldown == b.SenderCooldown && a.Enabled == b.Enabled &&
		a.DryRun == b.DryRun && a.Expires.Equal(b.Expires)
}

// checkSeen records a packet and reports whether it was seen already
// within the dedup window.
func (e *Engine) checkSeen(k packetKey, now time.Time) bool {
	if at, ok := e.seen[k]; ok && now.Sub(at) < e.cfg.DedupWindow {
		return true
	}
	e.seen[k] = now
	e.seenQueue = append(e.seenQueue, seenEntry{k, now})
	return false
}

// loopGuard counts a trigger from sender and says whether it is muted:
// ReasonMuted if it already was, ReasonLoop if this trigger muted it.
func (e *Engine) loopGuard(k senderKey, now time.Time) (time.Time, Reason) {
	s := e.senders[k]
	if s == nil {
		s = &loopState{}
		e.senders[k] = s
	}
	if now.Before(s.mutedUntil) {
		return s.mutedUntil, ReasonMuted
	}
	keep := s.hits[:0]
	for _, t := range s.hits {
		if now.Sub(t) < e.cfg.LoopWindow {
			keep = append(keep, t)
		}
	}
	s.hits = append(keep, now)
	if len(s.hits) > e.cfg.LoopTriggers {
		s.hits = s.hits[:0]
		s.mutedUntil = now.Add(e.cfg.LoopMute)
		return s.mutedUntil, ReasonLoop
	}
	return time.Time{}, ""
}

// cooling says which cooldown holds r back from answering sender, if any.
func (e *Engine) cooling(r *Rule, sender senderKey, now time.Time) Reason {
	if now.Before(e.ruleUntil[r.ID]) {
		return ReasonCooldown
	}
	if now.Before(e.senderUntil[ruleSender{r.ID, sender}]) {
		return ReasonSenderCooldown
	}
	return ""
}

func (e *Engine) startCooldowns(r *Rule, sender senderKey, now time.Time) {
	if r.Cooldown > 0 {
		e.ruleUntil[r.ID] = now.Add(r.Cooldown)
	}
	if r.SenderCooldown > 0 {
		e.senderUntil[ruleSender{r.ID, sender}] = now.Add(r.SenderCooldown)
	}
}

// sweep forgets what can no longer matter: expired packets on every call
// (cheap: the queue is in arrival order), ended cooldowns and idle senders
// once a minute.
func (e *Engine) sweep(now time.Time) {
	for e.seenHead < len(e.seenQueue) {
		old := e.seenQueue[e.seenHead]
		if now.Sub(old.at) < e.cfg.DedupWindow && len(e.seenQueue)-e.seenHead < e.cfg.MaxTracked {
			break
		}
		if at, ok := e.seen[old.key]; ok && at.Equal(old.at) {
			delete(e.seen, old.key)
		}
		e.seenQueue[e.seenHead] = seenEntry{}
		e.seenHead++
	}
	if e.seenHead > len(e.seenQueue)/2 {
		e.seenQueue = append(e.seenQueue[:0], e.seenQueue[e.seenHead:]...)
		e.seenHead = 0
	}

	if now.Before(e.nextSweep) {
		return
	}
	e.nextSweep = now.Add(time.Minute)
	for k, until := range e.ruleUntil {
		if !now.Before(until) {
			delete(e.ruleUntil, k)
		}
	}
	for k, until := range e.senderUntil {
		if !now.Before(until) {
			delete(e.senderUntil, k)
		}
	}
	for k, s := range e.senders {
		if !now.Before(s.mutedUntil) && (len(s.hits) == 0 || now.Sub(s.hits[len(s.hits)-1]) >= e.cfg.LoopWindow) {
			delete(e.senders, k)
		}
	}
}
