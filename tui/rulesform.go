package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/responder"
)

// The Rules tab's forms: a responder rule, a filter and the beacon, each
// read into the core's request when saved. The core validates and fills
// in defaults; only what the UI cannot even read (a duration, a date) is
// refused here.

// formKind is what a form edits.
type formKind int

const (
	formRule formKind = iota
	formFilter
	formBeacon
)

var channelChoices = []string{"any", "0", "1", "2", "3", "4", "5", "6", "7"}

// ruleForm edits r, or a new rule when r is nil. A new rule's cooldowns
// start empty: the core fills in its defaults, as it does for a rule made
// with the exec commands.
func (m *Model) ruleForm(r *backend.Rule) *form {
	f := m.rulesForm(&form{kind: formRule, title: "New responder on " + m.name, submit: m.submitRule})
	cur := backend.Rule{Match: "contains", Type: "both", Source: "both", Enabled: true}
	cooldown, senderCooldown := "", ""
	if r != nil {
		cur = *r
		f.id = r.ID
		f.title = fmt.Sprintf("Edit responder #%d (by %s)", r.ID, clean(r.OwnerName))
		cooldown, senderCooldown = format.Typed(seconds(r.Cooldown)), format.Typed(seconds(r.SenderCooldown))
	}
	ch := "any"
	if cur.Channel != nil {
		ch = strconv.FormatUint(uint64(*cur.Channel), 10)
	}
	exp := "never"
	if cur.Expires != nil {
		exp = cur.Expires.In(m.loc).Format("2006-01-02 15:04")
	}
	f.fields = []formField{
		{label: "trigger", value: cur.Trigger, hint: "what to look for in a message (case-insensitive)"},
		{label: "match", value: cur.Match, choices: []string{"exact", "contains", "prefix", "regex"},
			hint: "exact: the whole message · contains · prefix: starts with · regex: RE2"},
		{label: "reply", value: cur.Reply, hint: "{sender_name} {sender_short} {sender_id} {my_name} {my_id} {message} " +
			"{message_type} {source_type} {hops} {snr} {rssi} {time}"},
		{label: "type", value: cur.Type, choices: []string{"both", "broadcast", "direct"}, hint: "which messages it answers"},
		{label: "source", value: cur.Source, choices: []string{"both", "rf", "mqtt"}, hint: "heard over the air, through MQTT, or both"},
		{label: "channel", value: ch, choices: channelChoices, hint: "only messages on this channel index"},
		{label: "cooldown", value: cooldown, unset: "default (" + format.Typed(backend.DefaultRuleCooldown) + ")",
			hint: "least time between two replies, e.g. 60s, 5m (at least " + format.Typed(backend.MinRuleCooldown) +
				"); empty: the default, " + format.Typed(backend.DefaultRuleCooldown)},
		{label: "sender cooldown", value: senderCooldown, unset: "default (" + format.Typed(backend.DefaultRuleSenderCooldown) + ")",
			hint: "least time between two replies to one sender; 0: the cooldown alone; empty: the default, " +
				format.Typed(backend.DefaultRuleSenderCooldown)},
		{label: "dry run", value: yesNo(cur.DryRun), choices: []string{"no", "yes"}, hint: "log \"would reply\" and send nothing"},
		{label: "enabled", value: yesNo(cur.Enabled), choices: []string{"yes", "no"}},
		{label: "expires", value: exp, hint: "never, a time from now (24h) or a date: 2006-01-02 15:04"},
	}
	return f
}

// seconds is a duration the core gave in seconds.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (m *Model) filterForm() *form {
	val := ""
	if n := m.nodes.selected(); n != nil && n.Num != m.view().MyNodeNum {
		val = n.ID() // the node selected on the Nodes tab, the usual thing to hide
	}
	scopes := []string{"me, this radio", "me, every radio"}
	if backend.Can(m.id, backend.OpRadioFilter) {
		scopes = append(scopes, "radio-wide")
	}
	return m.rulesForm(&form{kind: formFilter, title: "New filter", submit: m.submitFilter, fields: []formField{
		{label: "mode", value: "block", choices: []string{"block", "allow"}, hint: "block hides what matches; allow shows only what matches"},
		{label: "kind", value: "node", choices: []string{"node", "port", "channel", "text", "regex"}, hint: "what the value is"},
		{label: "value", value: val, hint: "node: !id or a name · port: TEXT_MESSAGE, POSITION, 67 · channel: 0-7 · text · regex"},
		{label: "applies to", value: scopes[0], choices: scopes,
			hint: "yours change only your views; radio-wide ones keep packets from the history and the responder (" +
				backend.MinRole(backend.OpRadioFilter).String() + "s)"},
	}})
}

func (m *Model) beaconForm(b *backend.Beacon) *form {
	cur := backend.Beacon{Template: "{my_name} on the air · battery {battery}% · {nodes} nodes", Interval: time.Hour.Seconds()}
	title := "Set the beacon of " + m.name
	if b != nil {
		cur = *b
	}
	return m.rulesForm(&form{kind: formBeacon, title: title, submit: m.submitBeacon, fields: []formField{
		{label: "template", value: cur.Template, hint: "{my_name} {my_id} {battery} {voltage} {uptime} {time} {lat} {lon} {alt} {nodes}"},
		{label: "interval", value: format.Typed(seconds(cur.Interval)), hint: "how often, at least " + format.Typed(responder.MinBeaconInterval) + " (airtime is shared)"},
		{label: "channel", value: strconv.FormatUint(uint64(cur.Channel), 10), choices: channelChoices[1:], hint: "channel index to broadcast on"},
	}})
}

// rulesForm makes f the Rules tab's open form: leaving it or saving it
// closes it.
func (m *Model) rulesForm(f *form) *form {
	f.closed = func() {
		if m.rules.form == f {
			m.rules.form = nil
		}
	}
	return f
}

// submitRule reads the rule form into the core's add or update.
func (m *Model) submitRule(f *form) (func(ctx context.Context) (string, error), error) {
	spec, err := m.ruleSpec(f)
	if err != nil {
		return nil, err
	}
	core, c, id := m.core, m.caller, f.id
	return func(ctx context.Context) (string, error) {
		if id == 0 {
			r, err := core.AddRule(ctx, c, spec)
			return fmt.Sprintf("rule #%d added", r.ID), err
		}
		r, err := core.UpdateRule(ctx, c, id, spec)
		return fmt.Sprintf("rule #%d saved", r.ID), err
	}, nil
}

// submitFilter reads the filter form into the core's add.
func (m *Model) submitFilter(f *form) (func(ctx context.Context) (string, error), error) {
	spec := m.filterSpec(f)
	core, c := m.core, m.caller
	return func(ctx context.Context) (string, error) {
		fl, err := core.AddFilter(ctx, c, spec)
		return fmt.Sprintf("filter #%d added: %s", fl.ID, clean(filterOf(fl).String())), err
	}, nil
}

// submitBeacon reads the beacon form into the core's set.
func (m *Model) submitBeacon(f *form) (func(ctx context.Context) (string, error), error) {
	spec, err := m.beaconSpec(f)
	if err != nil {
		return nil, err
	}
	core, c := m.core, m.caller
	return func(ctx context.Context) (string, error) {
		b, err := core.SetBeacon(ctx, c, spec)
		return "beacon set" + pick(b.Enabled, "", " (space starts it)"), err
	}, nil
}

// ruleSpec reads the rule form. Empty cooldowns stay unset so that the
// core's defaults apply.
func (m *Model) ruleSpec(f *form) (backend.RuleSpec, error) {
	s := backend.RuleSpec{Radio: m.name, Trigger: f.val("trigger"), Reply: f.val("reply"), Match: f.val("match"),
		Type: f.val("type"), Source: f.val("source"), DryRun: f.val("dry run") == "yes", Disabled: f.val("enabled") != "yes"}
	if ch := f.val("channel"); ch != "any" {
		n, err := strconv.ParseUint(ch, 10, 32)
		if err != nil {
			return s, fmt.Errorf("channel: %q is not a channel index", ch)
		}
		c := uint32(n)
		s.Channel = &c
	}
	var err error
	if s.Cooldown, err = optDur("cooldown", f.val("cooldown")); err != nil {
		return s, err
	}
	if s.SenderCooldown, err = optDur("sender cooldown", f.val("sender cooldown")); err != nil {
		return s, err
	}
	s.ExpiresIn, s.ExpiresAt, err = m.parseExpiry(f.val("expires"))
	return s, err
}

func (m *Model) filterSpec(f *form) backend.FilterSpec {
	s := backend.FilterSpec{Radio: m.name, Allow: f.val("mode") == "allow", Kind: f.val("kind"), Value: f.val("value")}
	switch f.val("applies to") {
	case "me, every radio":
		s.Radio = ""
	case "radio-wide":
		s.RadioWide = true
	}
	return s
}

func (m *Model) beaconSpec(f *form) (backend.BeaconSpec, error) {
	s := backend.BeaconSpec{Radio: m.name, Template: f.val("template")}
	ch, err := strconv.ParseUint(f.val("channel"), 10, 32)
	if err != nil {
		return s, fmt.Errorf("channel: %q is not a channel index", f.val("channel"))
	}
	s.Channel = uint32(ch)
	if d, err := optDur("interval", f.val("interval")); err != nil {
		return s, err
	} else if d != nil {
		s.Interval = *d
	}
	return s, nil
}

// optDur reads an optional duration: nil when s is empty.
func optDur(what, s string) (*time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	d, err := parseDur(what, s)
	return &d, err
}

// parseDur reads a duration; "" and "0" are zero.
func parseDur(what, s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like 90s, 5m or 1h", what, s)
	}
	return d, nil
}

// parseExpiry reads "never", a duration from now or a local date. Whether
// it lies in the future is the core's to say.
func (m *Model) parseExpiry(s string) (in time.Duration, at time.Time, err error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "never") {
		return 0, time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d == 0 {
			return 0, time.Time{}, errors.New("expires: give a time in the future, or never")
		}
		return d, time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, m.loc); err == nil {
			return 0, t, nil
		}
	}
	return 0, time.Time{}, fmt.Errorf("expires: %q is not never, a duration (24h) or a date (2006-01-02 15:04)", s)
}

func pick(c bool, yes, no string) string {
	if c {
		return yes
	}
	return no
}
