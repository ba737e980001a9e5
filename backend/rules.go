package backend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/responder"
)

// Rule is an auto-responder rule.
type Rule struct {
	ID        int64  `json:"id"`
	Radio     string `json:"radio"`
	Owner     string `json:"owner"` // key fingerprint
	OwnerName string `json:"owner_name"`
	Trigger   string `json:"trigger"`
	// Match is exact, contains, prefix or regex (always case-insensitive).
	Match string `json:"match"`
	Reply string `json:"reply"`
	// Type is broadcast, direct or both; Source rf, mqtt or both.
	Type    string  `json:"type"`
	Source  string  `json:"source"`
	Channel *uint32 `json:"channel"` // null: any channel
	// Cooldowns in seconds: between two replies of the rule, and between
	// two replies to the same sender.
	Cooldown       float64    `json:"cooldown_seconds"`
	SenderCooldown float64    `json:"sender_cooldown_seconds"`
	Enabled        bool       `json:"enabled"`
	DryRun         bool       `json:"dry_run"`
	Expires        *time.Time `json:"expires"`
	// State is enabled, disabled, dry_run or expired.
	State string `json:"state"`
}

func (b *Backend) ruleOf(r responder.Rule) Rule {
	out := Rule{ID: r.ID, Radio: r.Radio, Owner: r.Owner, OwnerName: r.OwnerName, Trigger: r.Trigger,
		Match: r.Match.String(), Reply: r.Reply, Type: r.Type.String(), Source: r.Source.String(), Channel: r.Channel,
		Cooldown: r.Cooldown.Seconds(), SenderCooldown: r.SenderCooldown.Seconds(), Enabled: r.Enabled, DryRun: r.DryRun,
		State: "enabled"}
	if !r.Expires.IsZero() {
		e := r.Expires.UTC()
		out.Expires = &e
	}
	switch {
	case !r.Enabled:
		out.State = "disabled"
	case !r.Active(b.now()):
		out.State = "expired"
	case r.DryRun:
		out.State = "dry_run"
	}
	return out
}

// Defaults every front end gets for a new rule.
const (
	DefaultRuleCooldown       = responder.DefaultCooldown
	DefaultRuleSenderCooldown = responder.DefaultSenderCooldown
)

// RuleSpec describes a rule to add or the new state of one to update.
// Empty fields take the defaults: match contains, type both, source both,
// any channel, the default cooldowns, enabled, no expiry.
type RuleSpec struct {
	Radio          string
	Trigger        string
	Reply          string
	Match          string
	Type           string
	Source         string
	Channel        *uint32
	Cooldown       *time.Duration
	SenderCooldown *time.Duration
	DryRun         bool
	Disabled       bool
	// ExpiresIn, when positive, disables the rule that long from now;
	// ExpiresAt sets the time itself.
	ExpiresIn time.Duration
	ExpiresAt time.Time
}

func (b *Backend) ruleFromSpec(s RuleSpec, r *responder.Rule) error {
	var err error
	if r.Match, err = responder.ParseMatchKind(or(s.Match, "contains")); err != nil {
		return invalid("%v", trimPkg(err))
	}
	if r.Type, err = responder.ParseMsgType(or(s.Type, "both")); err != nil {
		return invalid("%v", trimPkg(err))
	}
	if r.Source, err = responder.ParseSource(or(s.Source, "both")); err != nil {
		return invalid("%v", trimPkg(err))
	}
	if s.Channel != nil && *s.Channel > 7 {
		return invalid("channel %d: want 0-7", *s.Channel)
	}
	r.Trigger, r.Reply, r.Channel, r.DryRun, r.Enabled = s.Trigger, s.Reply, s.Channel, s.DryRun, !s.Disabled
	r.Cooldown, r.SenderCooldown = DefaultRuleCooldown, DefaultRuleSenderCooldown
	if s.Cooldown != nil {
		r.Cooldown = *s.Cooldown
	}
	if s.SenderCooldown != nil {
		r.SenderCooldown = *s.SenderCooldown
	}
	if r.Cooldown < MinRuleCooldown {
		return invalid("cooldown %s is below the minimum of %s (the mesh is shared)", r.Cooldown, MinRuleCooldown)
	}
	if r.SenderCooldown != 0 && r.SenderCooldown < MinRuleCooldown {
		return invalid("sender cooldown %s is below the minimum of %s", r.SenderCooldown, MinRuleCooldown)
	}
	r.Expires = time.Time{}
	switch {
	case s.ExpiresIn < 0:
		return invalid("expiry %s must be in the future", s.ExpiresIn)
	case s.ExpiresIn > 0:
		r.Expires = b.now().Add(s.ExpiresIn)
	case !s.ExpiresAt.IsZero():
		r.Expires = s.ExpiresAt
	}
	if strings.TrimSpace(r.Reply) == "" {
		return invalid("the reply is empty")
	}
	if err := r.Validate(); err != nil {
		return invalid("%v", trimPkg(err))
	}
	return nil
}

// Limits on rules, checked when one is added: every text a radio hears
// goes through its rules (see responder.MaxRulesPerRadio for how they were
// chosen). Disabled rules count too: enabling one must not go past a
// limit.
const (
	// MaxRulesPerRadio is how many rules one radio may have, all owners'.
	MaxRulesPerRadio = responder.MaxRulesPerRadio
	// MaxRulesPerOwner is how many rules of one owner one radio may have.
	MaxRulesPerOwner = responder.MaxRulesPerOwner
)

// ruleRoom refuses r when its radio, or its owner on that radio, already
// has as many rules as allowed; existing are the radio's rules.
func ruleRoom(existing []responder.Rule, r responder.Rule) error {
	mine := 0
	for _, e := range existing {
		if e.Owner == r.Owner {
			mine++
		}
	}
	switch {
	case len(existing) >= MaxRulesPerRadio:
		return invalid("at most %d rules on %s; remove one first (rules rm ID)", MaxRulesPerRadio, r.Radio)
	case mine >= MaxRulesPerOwner:
		return invalid("at most %d rules of yours on %s; remove one first (rules rm ID)", MaxRulesPerOwner, r.Radio)
	}
	return nil
}

// MinRuleCooldown is the least time between two replies of one rule: a
// rule answering every message floods a shared channel.
const MinRuleCooldown = responder.MinCooldown

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// trimPkg drops a package prefix ("responder: invalid: ") from an error
// meant for users.
func trimPkg(err error) string {
	s := err.Error()
	for _, p := range []string{"responder: invalid: ", "filter: invalid: ", "store: invalid: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// Rules lists the responder rules on the radios the caller may use (one
// radio when radioName is set).
func (b *Backend) Rules(ctx context.Context, c Caller, radioName string) ([]Rule, error) {
	if err := Allowed(c.Identity, OpRules, "", ""); err != nil {
		return nil, err
	}
	db, err := b.db()
	if err != nil {
		return nil, err
	}
	if radioName != "" {
		if radioName, err = b.Resolve(c, radioName); err != nil {
			return nil, err
		}
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	rules, err := db.Rules(dctx, radioName)
	if err != nil {
		return nil, failed(err)
	}
	out := []Rule{}
	for _, r := range rules {
		if c.MayUse(r.Radio) {
			out = append(out, b.ruleOf(r))
		}
	}
	return out, nil
}

// AddRule adds a responder rule owned by the caller.
func (b *Backend) AddRule(ctx context.Context, c Caller, s RuleSpec) (Rule, error) {
	if err := Allowed(c.Identity, OpRuleAdd, "", ""); err != nil {
		return Rule{}, err
	}
	db, err := b.db()
	if err != nil {
		return Rule{}, err
	}
	br, err := b.radio(c, s.Radio)
	if err != nil {
		return Rule{}, err
	}
	r := responder.Rule{Radio: br.Name(), Owner: c.Fingerprint, OwnerName: c.Name}
	if err := b.ruleFromSpec(s, &r); err != nil {
		return Rule{}, err
	}
	b.addMu.Lock() // the count and the insert as one, so concurrent adds cannot pass a limit together
	defer b.addMu.Unlock()
	dctx, cancel := dbctx(ctx)
	defer cancel()
	existing, err := db.Rules(dctx, r.Radio)
	if err != nil {
		return Rule{}, failed(err)
	}
	if err := ruleRoom(existing, r); err != nil {
		return Rule{}, err
	}
	saved, err := db.AddRule(dctx, actor(c), r)
	if err != nil {
		return Rule{}, failed(err)
	}
	b.log.Info("rule added", "user", c.Name, "radio", saved.Radio, "rule", saved.ID, "via", c.Via)
	return b.ruleOf(saved), nil
}

// rule loads a rule the caller may change (op decides: their own, or any
// for admins).
func (b *Backend) rule(ctx context.Context, c Caller, op Op, id int64) (responder.Rule, error) {
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return responder.Rule{}, err
	}
	db, err := b.db()
	if err != nil {
		return responder.Rule{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	r, err := db.Rule(dctx, id)
	if err != nil {
		return r, notFound("no rule %d (see: rules)", id)
	}
	if !c.MayUse(r.Radio) {
		return r, notFound("no rule %d (see: rules)", id)
	}
	if err := Allowed(c.Identity, op, r.Owner, r.OwnerName); err != nil {
		return r, denied("rule %d belongs to %s", id, r.OwnerName)
	}
	return r, nil
}

// UpdateRule replaces a rule's settings (its radio and owner stay).
func (b *Backend) UpdateRule(ctx context.Context, c Caller, id int64, s RuleSpec) (Rule, error) {
	r, err := b.rule(ctx, c, OpRuleChange, id)
	if err != nil {
		return Rule{}, err
	}
	if err := b.ruleFromSpec(s, &r); err != nil {
		return Rule{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.UpdateRule(dctx, actor(c), r); err != nil {
		return Rule{}, failed(err)
	}
	return b.ruleOf(r), nil
}

// SetRuleEnabled turns a rule on or off.
func (b *Backend) SetRuleEnabled(ctx context.Context, c Caller, id int64, on bool) (Rule, error) {
	r, err := b.rule(ctx, c, OpRuleChange, id)
	if err != nil {
		return Rule{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.SetRuleEnabled(dctx, actor(c), id, on); err != nil {
		return Rule{}, failed(err)
	}
	r.Enabled = on
	return b.ruleOf(r), nil
}

// DeleteRule removes a rule.
func (b *Backend) DeleteRule(ctx context.Context, c Caller, id int64) (Rule, error) {
	r, err := b.rule(ctx, c, OpRuleChange, id)
	if err != nil {
		return Rule{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.DeleteRule(dctx, actor(c), id); err != nil {
		return Rule{}, failed(err)
	}
	return b.ruleOf(r), nil
}

// RuleTest is a rule tried on a sample message.
type RuleTest struct {
	Rule int64 `json:"rule"`
	// The sample: Text from Sender, sent so that the rule's type, source
	// and channel conditions hold (the test is about trigger and reply).
	Text       string  `json:"text"`
	Sender     NodeRef `json:"sender"`
	SenderName string  `json:"sender_name"`
	Kind       string  `json:"kind"` // broadcast or direct
	Channel    uint32  `json:"channel"`
	ViaMQTT    bool    `json:"via_mqtt"`
	Matches    bool    `json:"matches"`
	// Reply is the rendered reply when it matches.
	Reply string `json:"reply,omitempty"`
	// State is the rule's state: a disabled, expired or dry-run rule
	// matches in a test but would not send.
	State string `json:"state"`
}

// TestRule tries a rule on a sample message from a node the radio knows.
func (b *Backend) TestRule(ctx context.Context, c Caller, id int64, text string) (RuleTest, error) {
	if strings.TrimSpace(text) == "" {
		return RuleTest{}, invalid("give a sample message after the rule id")
	}
	r, err := b.rule(ctx, c, OpRuleTest, id)
	if err != nil {
		return RuleTest{}, err
	}
	v := emptyView()
	if br, err := b.radios.Get(r.Radio); err == nil {
		v = br.View()
	}
	self, _ := v.Self()
	sender := sampleSender(v)
	hops := uint32(1)
	in := responder.Incoming{Radio: r.Radio, PacketID: 1, From: sender.Num, To: meshtastic.Broadcast, MyNode: v.MyNodeNum,
		Text: text, Hops: &hops, SNR: 6.5, RSSI: -90, SenderKnown: true, SenderLong: sender.LongName,
		SenderShort: sender.ShortName, MyLong: self.LongName, MyShort: self.ShortName}
	if r.Type == responder.TypeDirect {
		in.To = v.MyNodeNum
	}
	if r.Source == responder.SourceMQTT {
		in.ViaMQTT = true
	}
	if r.Channel != nil {
		in.Channel = *r.Channel
	}
	res := RuleTest{Rule: r.ID, Text: text, Sender: nodeRef(sender.Num), SenderName: sender.ShortName, Kind: "broadcast",
		Channel: in.Channel, ViaMQTT: in.ViaMQTT, State: b.ruleOf(r).State}
	if in.To != meshtastic.Broadcast {
		res.Kind = "direct"
	}
	if r.Matches(&in) {
		res.Matches = true
		res.Reply = r.Render(&in, b.now(), meshtastic.MaxTextBytes(false, false))
	}
	return res, nil
}

func emptyView() *radio.View {
	return &radio.View{Radio: &meshtastic.Snapshot{}, Nodes: map[uint32]*meshtastic.Node{}}
}

// sampleSender is the node a rule test pretends sent the sample: the
// lowest-numbered named node the radio knows, or a made-up one.
func sampleSender(v *radio.View) meshtastic.Node {
	var best *meshtastic.Node
	for _, n := range v.Nodes {
		if n.Num != v.MyNodeNum && n.ShortName != "" && (best == nil || n.Num < best.Num) {
			best = n
		}
	}
	if best == nil {
		return meshtastic.Node{Num: 0x5a3e1e57, LongName: "Sample Sender", ShortName: "SMPL"}
	}
	return *best
}

var _ = fmt.Sprint
