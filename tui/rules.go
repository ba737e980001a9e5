package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/responder"
)

// section is one part of the Rules tab.
type section int

const (
	secResponders section = iota
	secFilters
	secBeacon
	secCount
)

func (s section) String() string {
	return [...]string{"Responders", "Filters", "Beacon"}[s]
}

// rulesTab manages the bound radio's auto-responder rules, the user's
// filters and the radio-wide ones, and the radio's beacon, all through the
// core. The lists come from the core through Model.pf, loaded again only
// when its revision changes.
type rulesTab struct {
	sec     section
	cur     [secCount]int
	top     int
	form    *form           // the rule, filter or beacon being edited; nil when not
	testing bool            // the sample-message prompt has the keyboard
	input   textinput.Model // the form's text field or the sample message
	result  []string        // the last rule test: plain lines
	resFor  int64           // the rule the result is about
	sending bool            // a beacon test is on its way
}

func (t *rulesTab) typing() bool { return t.testing || (t.form != nil && t.form.inputOn) }

// move moves the selection, or the form's field.
func (t *rulesTab) move(n int, m *Model) {
	if t.form != nil {
		t.form.field = max(0, min(t.form.field+n, len(t.form.fields)-1))
		return
	}
	t.cur[t.sec] += n
	t.clamp(m)
}

// clamp keeps the selections within the lists.
func (t *rulesTab) clamp(m *Model) {
	t.cur[secResponders] = max(0, min(t.cur[secResponders], len(m.pf.rules)-1))
	t.cur[secFilters] = max(0, min(t.cur[secFilters], len(m.shownFilters())-1))
	t.cur[secBeacon] = 0
}

// form edits a rule, a filter or the beacon.
type form struct {
	kind    formKind
	title   string
	id      int64 // the rule edited; 0: a new one
	fields  []formField
	field   int
	inputOn bool
	saving  bool   // the core has it
	err     string // why the last save was refused
}

type formKind int

const (
	formRule formKind = iota
	formFilter
	formBeacon
)

// formField is a text field, or a switch when it has choices.
type formField struct {
	label   string
	value   string
	choices []string
	hint    string
	unset   string // shown, dim, while the value is empty
}

func (f *form) val(label string) string {
	for _, fl := range f.fields {
		if fl.label == label {
			return fl.value
		}
	}
	return ""
}

// step moves a switch to its next choice.
func (fl *formField) step() {
	i := slices.Index(fl.choices, fl.value)
	fl.value = fl.choices[(i+1)%len(fl.choices)]
}

// shownFilters are the filters the Filters section lists: the user's own
// for this radio or every radio, then the radio-wide ones of this radio.
func (m *Model) shownFilters() []filter.Filter {
	mine := filter.Personal(m.pf.filters, m.name, m.id.Fingerprint)
	return append(mine, filter.RadioWide(m.pf.filters, m.name)...)
}

func (m *Model) selectedRule() *backend.Rule {
	if i := m.rules.cur[secResponders]; i < len(m.pf.rules) {
		return &m.pf.rules[i]
	}
	return nil
}

func (m *Model) selectedFilter() *filter.Filter {
	fs := m.shownFilters()
	if i := m.rules.cur[secFilters]; i < len(fs) {
		return &fs[i]
	}
	return nil
}

// mayChangeRule asks the core whether the user may change r: their own,
// or anyone's for those who may change others'.
func (m *Model) mayChangeRule(r *backend.Rule) bool {
	return m.may(backend.OpRuleChange, r.Owner, r.OwnerName)
}

// mayChangeFilter asks the core whether the user may change f: their own
// filters; radio-wide ones take the right to set those.
func (m *Model) mayChangeFilter(f *filter.Filter) bool {
	if f.Scope == filter.ScopeRadio {
		return m.allowed(backend.OpRadioFilter)
	}
	return m.may(backend.OpFilterEdit, f.Owner, f.OwnerName)
}

func (m *Model) rulesKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.rules
	m.dirty |= dBody
	if m.pf.noDB {
		return nil
	}
	if t.form != nil {
		return m.formKey(msg)
	}
	switch {
	case key.Matches(msg, k.prevSection):
		t.sec = (t.sec + secCount - 1) % secCount
		m.dirty |= dStatus
	case key.Matches(msg, k.nextSection):
		t.sec = (t.sec + 1) % secCount
		m.dirty |= dStatus
	case key.Matches(msg, k.up):
		t.move(-1, m)
	case key.Matches(msg, k.down):
		t.move(1, m)
	case key.Matches(msg, k.add):
		return m.rulesAdd()
	case key.Matches(msg, k.change):
		return m.rulesEdit()
	case key.Matches(msg, k.enable):
		return m.rulesToggle()
	case key.Matches(msg, k.del):
		return m.rulesDelete()
	case key.Matches(msg, k.test):
		return m.rulesTest()
	case key.Matches(msg, k.back):
		t.result = nil
		m.clearNotice()
	}
	return nil
}

func (m *Model) rulesAdd() tea.Cmd {
	t := &m.rules
	switch t.sec {
	case secResponders:
		if !m.allowed(backend.OpRuleAdd) {
			return nil
		}
		t.form = m.ruleForm(nil)
	case secFilters:
		if !m.allowed(backend.OpFilterAdd) {
			return nil
		}
		t.form = m.filterForm()
	case secBeacon:
		return m.rulesEdit()
	}
	m.dirty |= dStatus
	return nil
}

func (m *Model) rulesEdit() tea.Cmd {
	t := &m.rules
	switch t.sec {
	case secResponders:
		r := m.selectedRule()
		if r == nil {
			m.setFlash("no responder to edit (a adds one)", true)
			return nil
		}
		if !m.mayChangeRule(r) {
			return nil
		}
		t.form = m.ruleForm(r)
	case secFilters:
		m.setFlash("filters are not edited: add the new one and delete the old", true)
		return nil
	case secBeacon:
		if !m.allowed(backend.OpBeaconSet) {
			return nil
		}
		t.form = m.beaconForm(m.pf.beacon)
	}
	m.dirty |= dStatus
	return nil
}

func (m *Model) rulesToggle() tea.Cmd {
	core, c, name := m.core, m.caller, m.name
	switch m.rules.sec {
	case secResponders:
		if r := m.selectedRule(); r != nil && m.mayChangeRule(r) {
			id, on := r.ID, !r.Enabled
			return m.call(func(ctx context.Context) (string, error) {
				_, err := core.SetRuleEnabled(ctx, c, id, on)
				return fmt.Sprintf("rule #%d %s", id, pick(on, "enabled", "disabled")), err
			})
		}
	case secFilters:
		if f := m.selectedFilter(); f != nil && m.mayChangeFilter(f) {
			id, on := f.ID, !f.Enabled
			return m.call(func(ctx context.Context) (string, error) {
				_, err := core.SetFilterEnabled(ctx, c, id, on)
				return fmt.Sprintf("filter #%d %s", id, pick(on, "enabled", "disabled")), err
			})
		}
	case secBeacon:
		b := m.pf.beacon
		if b == nil {
			m.setFlash("no beacon on "+m.name+" (e sets one)", true)
			return nil
		}
		if m.allowed(backend.OpBeaconStart) {
			on := !b.Enabled
			return m.call(func(ctx context.Context) (string, error) {
				_, err := core.SetBeaconEnabled(ctx, c, name, on)
				return "beacon " + pick(on, "started", "stopped"), err
			})
		}
	}
	return nil
}

func (m *Model) rulesDelete() tea.Cmd {
	core, c, name := m.core, m.caller, m.name
	switch m.rules.sec {
	case secResponders:
		r := m.selectedRule()
		if r == nil || !m.mayChangeRule(r) {
			return nil
		}
		id := r.ID
		m.confirm(fmt.Sprintf("Delete responder #%d?", id), []string{
			fmt.Sprintf("%s %q → %q", r.Match, clean(r.Trigger), clean(r.Reply)),
		}, func() tea.Cmd {
			return m.call(func(ctx context.Context) (string, error) {
				_, err := core.DeleteRule(ctx, c, id)
				return fmt.Sprintf("rule #%d deleted", id), err
			})
		})
	case secFilters:
		f := m.selectedFilter()
		if f == nil || !m.mayChangeFilter(f) {
			return nil
		}
		id, desc := f.ID, clean(f.String())
		m.confirm(fmt.Sprintf("Delete filter #%d?", id), []string{desc}, func() tea.Cmd {
			return m.call(func(ctx context.Context) (string, error) {
				_, err := core.DeleteFilter(ctx, c, id)
				return fmt.Sprintf("filter #%d deleted", id), err
			})
		})
	case secBeacon:
		if m.pf.beacon == nil || !m.allowed(backend.OpBeaconRm) {
			return nil
		}
		m.confirm("Remove the beacon of "+m.name+"?", []string{"It stops and its settings are deleted."}, func() tea.Cmd {
			return m.call(func(ctx context.Context) (string, error) {
				_, err := core.DeleteBeacon(ctx, c, name)
				return "beacon removed", err
			})
		})
	}
	return nil
}

// beaconSentMsg is the outcome of a beacon test.
type beaconSentMsg struct {
	radio string
	msg   backend.Message
	err   error
}

// ruleTestedMsg is the core's test of a rule on a sample message.
type ruleTestedMsg struct {
	rule int64
	res  backend.RuleTest
	err  error
}

func (m *Model) rulesTest() tea.Cmd {
	t := &m.rules
	switch t.sec {
	case secResponders:
		if m.selectedRule() == nil {
			m.setFlash("no responder to test (a adds one)", true)
			return nil
		}
		t.testing = true
		t.input = newInput("sample message: ", 200)
		m.dirty |= dStatus
		return t.input.Focus()
	case secBeacon:
		b := m.pf.beacon
		if b == nil {
			m.setFlash("no beacon on "+m.name+" (e sets one)", true)
			return nil
		}
		if !m.allowed(backend.OpBeaconTest) || m.radio == nil {
			return nil
		}
		if t.sending {
			m.setFlash("the beacon test is still on its way", true)
			return nil
		}
		t.sending = true
		core, c, name, ctx := m.core, m.caller, m.name, m.ctx
		m.setFlash("sending the beacon…", false)
		return func() tea.Msg {
			msg, err := core.TestBeacon(ctx, c, name)
			return beaconSentMsg{radio: name, msg: msg, err: err}
		}
	}
	m.setFlash("t tests responders and the beacon", true)
	return nil
}

func (m *Model) onBeaconSent(msg beaconSentMsg) {
	m.rules.sending = false
	if msg.radio != m.name {
		return
	}
	if msg.err != nil {
		m.setFlash("beacon test failed: "+msg.err.Error(), true)
		return
	}
	m.setFlash("beacon sent: "+clean(msg.msg.Text), false)
}

// testKey reads the sample message of a rule test, which the core runs.
func (m *Model) testKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.rules
	m.dirty |= dBody | dStatus
	switch msg.String() {
	case "esc":
		t.testing = false
		return nil
	case "enter":
		t.testing = false
		r := m.selectedRule()
		if r == nil {
			return nil
		}
		core, ctx, c, id, text := m.core, m.ctx, m.caller, r.ID, t.input.Value()
		return func() tea.Msg {
			res, err := core.TestRule(ctx, c, id, text)
			return ruleTestedMsg{rule: id, res: res, err: err}
		}
	}
	var cmd tea.Cmd
	t.input, cmd = t.input.Update(msg)
	return cmd
}

func (m *Model) onRuleTested(msg ruleTestedMsg) {
	if msg.err != nil {
		m.setFlash(msg.err.Error(), true)
		return
	}
	m.rules.result, m.rules.resFor = testLines(msg.res), msg.rule
	m.dirty |= dBody
}

// testLines says what a rule test found: the sample the core made up, and
// whether and how the rule answers it.
func testLines(r backend.RuleTest) []string {
	kind, via := "broadcast on channel "+itoa(int(r.Channel)), "RF"
	if r.Kind == "direct" {
		kind = "direct message"
	}
	if r.ViaMQTT {
		via = "MQTT"
	}
	sender := r.SenderName + " (" + r.Sender.ID + ")"
	out := []string{fmt.Sprintf("sample %q from %s, %s via %s", clean(r.Text), clean(sender), kind, via)}
	if !r.Matches {
		return append(out, "✗ rule #"+strconv.FormatInt(r.Rule, 10)+" does not match: no reply")
	}
	verb := "replies"
	switch r.State {
	case "dry_run":
		verb = "would reply (dry run)"
	case "disabled", "expired":
		verb = "matches but is " + pick(r.State == "expired", "expired", "off") + "; it would reply"
	}
	return append(out, fmt.Sprintf("✓ rule #%d %s: %s", r.Rule, verb, clean(r.Reply)))
}

// ---- forms ----

var channelChoices = []string{"any", "0", "1", "2", "3", "4", "5", "6", "7"}

// ruleForm edits r, or a new rule when r is nil. A new rule's cooldowns
// start empty: the core fills in its defaults, as it does for a rule made
// with the exec commands.
func (m *Model) ruleForm(r *backend.Rule) *form {
	f := &form{kind: formRule, title: "New responder on " + m.name}
	cur := backend.Rule{Match: "contains", Type: "both", Source: "both", Enabled: true}
	cooldown, senderCooldown := "", ""
	if r != nil {
		cur = *r
		f.id = r.ID
		f.title = fmt.Sprintf("Edit responder #%d (by %s)", r.ID, clean(r.OwnerName))
		cooldown, senderCooldown = durText(seconds(r.Cooldown)), durText(seconds(r.SenderCooldown))
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
		{label: "cooldown", value: cooldown, unset: "default (" + durText(backend.DefaultRuleCooldown) + ")",
			hint: "least time between two replies, e.g. 60s, 5m (at least " + durText(backend.MinRuleCooldown) +
				"); empty: the default, " + durText(backend.DefaultRuleCooldown)},
		{label: "sender cooldown", value: senderCooldown, unset: "default (" + durText(backend.DefaultRuleSenderCooldown) + ")",
			hint: "least time between two replies to one sender; 0: the cooldown alone; empty: the default, " +
				durText(backend.DefaultRuleSenderCooldown)},
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
	return &form{kind: formFilter, title: "New filter", fields: []formField{
		{label: "mode", value: "block", choices: []string{"block", "allow"}, hint: "block hides what matches; allow shows only what matches"},
		{label: "kind", value: "node", choices: []string{"node", "port", "channel", "text", "regex"}, hint: "what the value is"},
		{label: "value", value: val, hint: "node: !id or a name · port: TEXT_MESSAGE, POSITION, 67 · channel: 0-7 · text · regex"},
		{label: "applies to", value: scopes[0], choices: scopes,
			hint: "yours change only your views; radio-wide ones keep packets from the history and the responder (" +
				backend.MinRole(backend.OpRadioFilter).String() + "s)"},
	}}
}

func (m *Model) beaconForm(b *backend.Beacon) *form {
	cur := backend.Beacon{Template: "{my_name} on the air · battery {battery}% · {nodes} nodes", Interval: time.Hour.Seconds()}
	title := "Set the beacon of " + m.name
	if b != nil {
		cur = *b
	}
	return &form{kind: formBeacon, title: title, fields: []formField{
		{label: "template", value: cur.Template, hint: "{my_name} {my_id} {battery} {voltage} {uptime} {time} {lat} {lon} {alt} {nodes}"},
		{label: "interval", value: durText(seconds(cur.Interval)), hint: "how often, at least " + durText(responder.MinBeaconInterval) + " (airtime is shared)"},
		{label: "channel", value: strconv.FormatUint(uint64(cur.Channel), 10), choices: channelChoices[1:], hint: "channel index to broadcast on"},
	}}
}

func (m *Model) formKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.rules
	f := t.form
	switch {
	case key.Matches(msg, k.up):
		t.move(-1, m)
	case key.Matches(msg, k.down):
		t.move(1, m)
	case key.Matches(msg, k.field):
		fl := &f.fields[f.field]
		if fl.choices != nil {
			fl.step()
			return nil
		}
		t.input = newInput(fl.label+": ", 400)
		t.input.SetValue(fl.value)
		t.input.CursorEnd()
		f.inputOn = true
		m.dirty |= dStatus
		return t.input.Focus()
	case key.Matches(msg, k.save):
		return m.saveForm()
	case key.Matches(msg, k.back):
		t.form = nil
		m.dirty |= dStatus
	}
	return nil
}

// formFieldKey edits one text field of the form.
func (m *Model) formFieldKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.rules
	f := t.form
	m.dirty |= dBody | dStatus
	switch msg.String() {
	case "esc":
		f.inputOn = false
		return nil
	case "enter", "ctrl+s":
		f.fields[f.field].value = strings.TrimSpace(t.input.Value())
		f.inputOn = false
		if msg.String() == "ctrl+s" {
			return m.saveForm()
		}
		return nil
	}
	var cmd tea.Cmd
	t.input, cmd = t.input.Update(msg)
	return cmd
}

// formSavedMsg is the core's answer to a saved form.
type formSavedMsg struct {
	form *form
	ok   string
	err  error
}

// saveForm reads the form and hands it to the core, which validates it,
// fills in its defaults and saves it. What the core refuses shows in the
// form.
func (m *Model) saveForm() tea.Cmd {
	f := m.rules.form
	m.dirty |= dBody | dStatus
	if f.saving {
		return nil
	}
	core, c := m.core, m.caller
	var save func(ctx context.Context) (string, error)
	switch f.kind {
	case formRule:
		spec, err := m.ruleSpec(f)
		if err != nil {
			f.err = err.Error()
			return nil
		}
		id := f.id
		save = func(ctx context.Context) (string, error) {
			if id == 0 {
				r, err := core.AddRule(ctx, c, spec)
				return fmt.Sprintf("rule #%d added", r.ID), err
			}
			r, err := core.UpdateRule(ctx, c, id, spec)
			return fmt.Sprintf("rule #%d saved", r.ID), err
		}
	case formFilter:
		spec := m.filterSpec(f)
		save = func(ctx context.Context) (string, error) {
			fl, err := core.AddFilter(ctx, c, spec)
			return fmt.Sprintf("filter #%d added: %s", fl.ID, clean(filterOf(fl).String())), err
		}
	case formBeacon:
		spec, err := m.beaconSpec(f)
		if err != nil {
			f.err = err.Error()
			return nil
		}
		save = func(ctx context.Context) (string, error) {
			b, err := core.SetBeacon(ctx, c, spec)
			return "beacon set" + pick(b.Enabled, "", " (space starts it)"), err
		}
	}
	f.saving = true
	ctx := m.ctx
	return func() tea.Msg {
		ok, err := save(ctx)
		return formSavedMsg{form: f, ok: ok, err: err}
	}
}

func (m *Model) onFormSaved(msg formSavedMsg) {
	msg.form.saving = false
	t := &m.rules
	m.dirty |= dBody | dStatus
	if msg.err != nil {
		if t.form == msg.form {
			msg.form.err = msg.err.Error()
		} else {
			m.setFlash(msg.err.Error(), true)
		}
		return
	}
	if t.form == msg.form {
		t.form = nil
	}
	m.setFlash(msg.ok, false)
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

// durText shows a duration without trailing zero units: "1m", "1h30m".
func durText(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func pick(c bool, yes, no string) string {
	if c {
		return yes
	}
	return no
}
