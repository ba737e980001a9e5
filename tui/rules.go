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

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/store"
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
// filters and the radio-wide ones, and the radio's beacon. The lists come
// from the database through Model.pf, loaded again only when the store's
// revision changes.
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

func (m *Model) actor() store.Actor {
	return store.Actor{Name: m.id.Name, Fingerprint: m.id.Fingerprint}
}

func (m *Model) dbctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(m.ctx, storeTimeout)
}

// shownFilters are the filters the Filters section lists: the user's own
// for this radio or every radio, then the radio-wide ones of this radio.
func (m *Model) shownFilters() []filter.Filter {
	mine := filter.Personal(m.pf.filters, m.name, m.id.Fingerprint)
	return append(mine, filter.RadioWide(m.pf.filters, m.name)...)
}

func (m *Model) selectedRule() *responder.Rule {
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

// canChangeRule: rules are their owner's, or any admin's, to change.
func (m *Model) canChangeRule(r *responder.Rule) bool {
	if !m.can(auth.ManageRules, "changing responders") {
		return false
	}
	if r.Owner != m.id.Fingerprint && m.id.Role < auth.Admin {
		m.setFlash(fmt.Sprintf("rule #%d belongs to %s: changing it needs the admin role", r.ID, clean(r.OwnerName)), true)
		return false
	}
	return true
}

// canChangeFilter: users change their own filters; radio-wide ones are
// admins'.
func (m *Model) canChangeFilter(f *filter.Filter) bool {
	if !m.can(auth.ManageRules, "changing filters") {
		return false
	}
	if f.Scope == filter.ScopeRadio && m.id.Role < auth.Admin {
		m.setFlash("radio-wide filters are for admins (you are "+m.id.Role.String()+")", true)
		return false
	}
	return true
}

// done reports the outcome of a database change on the status line.
func (m *Model) done(what string, err error) {
	if err != nil {
		m.setFlash(what+" failed: "+err.Error(), true)
		return
	}
	m.setFlash(what, false)
}

func (m *Model) rulesKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.rules
	m.dirty |= dBody
	if m.cfg.Store == nil {
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
		m.rulesToggle()
	case key.Matches(msg, k.del):
		m.rulesDelete()
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
		if !m.can(auth.ManageRules, "adding a responder") {
			return nil
		}
		t.form = m.ruleForm(&responder.Rule{Match: responder.MatchContains, Enabled: true, Cooldown: time.Minute})
	case secFilters:
		if !m.can(auth.ManageRules, "adding a filter") {
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
		if !m.canChangeRule(r) {
			return nil
		}
		t.form = m.ruleForm(r)
	case secFilters:
		m.setFlash("filters are not edited: add the new one and delete the old", true)
		return nil
	case secBeacon:
		if !m.can(auth.ManageRules, "setting the beacon") {
			return nil
		}
		t.form = m.beaconForm(m.pf.beacon)
	}
	m.dirty |= dStatus
	return nil
}

func (m *Model) rulesToggle() {
	ctx, cancel := m.dbctx()
	defer cancel()
	st := m.cfg.Store
	switch m.rules.sec {
	case secResponders:
		if r := m.selectedRule(); r != nil && m.canChangeRule(r) {
			m.done(fmt.Sprintf("rule #%d %s", r.ID, pick(!r.Enabled, "enabled", "disabled")),
				st.SetRuleEnabled(ctx, m.actor(), r.ID, !r.Enabled))
		}
	case secFilters:
		if f := m.selectedFilter(); f != nil && m.canChangeFilter(f) {
			m.done(fmt.Sprintf("filter #%d %s", f.ID, pick(!f.Enabled, "enabled", "disabled")),
				st.SetFilterEnabled(ctx, m.actor(), f.ID, !f.Enabled))
		}
	case secBeacon:
		b := m.pf.beacon
		if b == nil {
			m.setFlash("no beacon on "+m.name+" (e sets one)", true)
			return
		}
		if m.can(auth.ManageRules, "starting or stopping the beacon") {
			m.done("beacon "+pick(!b.Enabled, "started", "stopped"), st.SetBeaconEnabled(ctx, m.actor(), m.name, !b.Enabled))
		}
	}
}

func (m *Model) rulesDelete() {
	st := m.cfg.Store
	switch m.rules.sec {
	case secResponders:
		r := m.selectedRule()
		if r == nil || !m.canChangeRule(r) {
			return
		}
		id := r.ID
		m.confirm(fmt.Sprintf("Delete responder #%d?", id), []string{
			fmt.Sprintf("%s %q → %q", r.Match, clean(r.Trigger), clean(r.Reply)),
		}, func() tea.Cmd {
			ctx, cancel := m.dbctx()
			defer cancel()
			m.done(fmt.Sprintf("rule #%d deleted", id), st.DeleteRule(ctx, m.actor(), id))
			return nil
		})
	case secFilters:
		f := m.selectedFilter()
		if f == nil || !m.canChangeFilter(f) {
			return
		}
		id, desc := f.ID, clean(f.String())
		m.confirm(fmt.Sprintf("Delete filter #%d?", id), []string{desc}, func() tea.Cmd {
			ctx, cancel := m.dbctx()
			defer cancel()
			m.done(fmt.Sprintf("filter #%d deleted", id), st.DeleteFilter(ctx, m.actor(), id))
			return nil
		})
	case secBeacon:
		if m.pf.beacon == nil || !m.can(auth.ManageRules, "removing the beacon") {
			return
		}
		m.confirm("Remove the beacon of "+m.name+"?", []string{"It stops and its settings are deleted."}, func() tea.Cmd {
			ctx, cancel := m.dbctx()
			defer cancel()
			m.done("beacon removed", st.DeleteBeacon(ctx, m.actor(), m.name))
			return nil
		})
	}
}

// beaconSentMsg is the outcome of a beacon test.
type beaconSentMsg struct {
	radio string
	msg   radio.Message
	err   error
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
		if !m.can(auth.ManageRules, "sending the beacon") || m.radio == nil {
			return nil
		}
		if t.sending {
			m.setFlash("the beacon test is still on its way", true)
			return nil
		}
		t.sending = true
		r, bc, name, ctx := m.radio, *b, m.name, m.ctx
		m.setFlash("sending the beacon…", false)
		return func() tea.Msg {
			msg, err := r.SendBeacon(ctx, bc)
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
	m.setFlash("beacon sent: "+msg.msg.Text, false)
}

// testKey reads the sample message of a rule test.
func (m *Model) testKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.rules
	m.dirty |= dBody | dStatus
	switch msg.String() {
	case "esc":
		t.testing = false
		return nil
	case "enter":
		t.testing = false
		if r := m.selectedRule(); r != nil {
			t.result, t.resFor = m.tryRule(r, t.input.Value()), r.ID
		}
		return nil
	}
	var cmd tea.Cmd
	t.input, cmd = t.input.Update(msg)
	return cmd
}

// sampleSender is the node a rule test pretends sent the sample: the
// lowest-numbered named node the radio knows, or a made-up one.
func (m *Model) sampleSender(v *radio.View) meshtastic.Node {
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

// tryRule runs a rule on a sample message, sent so that the rule's type,
// source and channel conditions hold: the test is about the trigger and
// the reply.
func (m *Model) tryRule(r *responder.Rule, text string) []string {
	v := m.view()
	self, _ := v.Self()
	sender := m.sampleSender(v)
	hops := uint32(1)
	in := responder.Incoming{Radio: m.name, PacketID: 1, From: sender.Num, To: meshtastic.Broadcast, MyNode: v.MyNodeNum,
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
	kind, via := "broadcast on channel "+itoa(int(in.Channel)), "RF"
	if in.Direct() {
		kind = "direct message"
	}
	if in.ViaMQTT {
		via = "MQTT"
	}
	out := []string{fmt.Sprintf("sample %q from %s (%s), %s via %s", clean(text), clean(sender.ShortName),
		meshtastic.NodeID(sender.Num), kind, via)}
	if !r.Matches(&in) {
		return append(out, "✗ rule #"+strconv.FormatInt(r.ID, 10)+" does not match: no reply")
	}
	reply := r.Render(&in, m.now(), meshtastic.MaxTextBytes(false, false))
	verb := "replies"
	switch {
	case r.DryRun:
		verb = "would reply (dry run)"
	case !r.Active(m.now()):
		verb = "matches but is off or expired; it would reply"
	}
	return append(out, fmt.Sprintf("✓ rule #%d %s: %s", r.ID, verb, clean(reply)))
}

// ---- forms ----

var channelChoices = []string{"any", "0", "1", "2", "3", "4", "5", "6", "7"}

func (m *Model) ruleForm(r *responder.Rule) *form {
	f := &form{kind: formRule, title: "New responder on " + m.name, id: r.ID}
	if r.ID != 0 {
		f.title = fmt.Sprintf("Edit responder #%d (by %s)", r.ID, clean(r.OwnerName))
	}
	ch := "any"
	if r.Channel != nil {
		ch = strconv.FormatUint(uint64(*r.Channel), 10)
	}
	exp := "never"
	if !r.Expires.IsZero() {
		exp = r.Expires.In(m.loc).Format("2006-01-02 15:04")
	}
	f.fields = []formField{
		{label: "trigger", value: r.Trigger, hint: "what to look for in a message (case-insensitive)"},
		{label: "match", value: r.Match.String(), choices: []string{"exact", "contains", "prefix", "regex"},
			hint: "exact: the whole message · contains · prefix: starts with · regex: RE2"},
		{label: "reply", value: r.Reply, hint: "{sender_name} {sender_short} {sender_id} {my_name} {my_id} {message} " +
			"{message_type} {source_type} {hops} {snr} {rssi} {time}"},
		{label: "type", value: r.Type.String(), choices: []string{"both", "broadcast", "direct"}, hint: "which messages it answers"},
		{label: "source", value: r.Source.String(), choices: []string{"both", "rf", "mqtt"}, hint: "heard over the air, through MQTT, or both"},
		{label: "channel", value: ch, choices: channelChoices, hint: "only messages on this channel index"},
		{label: "cooldown", value: durText(r.Cooldown), hint: "least time between two replies, e.g. 60s, 5m; 0 for none"},
		{label: "sender cooldown", value: durText(r.SenderCooldown), hint: "least time between two replies to one sender"},
		{label: "dry run", value: yesNo(r.DryRun), choices: []string{"no", "yes"}, hint: "log \"would reply\" and send nothing"},
		{label: "enabled", value: yesNo(r.Enabled), choices: []string{"yes", "no"}},
		{label: "expires", value: exp, hint: "never, a time from now (24h) or a date: 2006-01-02 15:04"},
	}
	return f
}

func (m *Model) filterForm() *form {
	val := ""
	if n := m.nodes.selected(); n != nil && n.Num != m.view().MyNodeNum {
		val = n.ID() // the node selected on the Nodes tab, the usual thing to hide
	}
	scopes := []string{"me, this radio", "me, every radio"}
	if m.id.Role >= auth.Admin {
		scopes = append(scopes, "radio-wide")
	}
	return &form{kind: formFilter, title: "New filter", fields: []formField{
		{label: "mode", value: "block", choices: []string{"block", "allow"}, hint: "block hides what matches; allow shows only what matches"},
		{label: "kind", value: "node", choices: []string{"node", "port", "channel", "text", "regex"}, hint: "what the value is"},
		{label: "value", value: val, hint: "node: !id or a name · port: TEXT_MESSAGE, POSITION, 67 · channel: 0-7 · text · regex"},
		{label: "applies to", value: scopes[0], choices: scopes,
			hint: "yours change only your views; radio-wide ones keep packets from the history and the responder (admins)"},
	}}
}

func (m *Model) beaconForm(b *responder.Beacon) *form {
	cur := responder.Beacon{Template: "{my_name} on the air · battery {battery}% · {nodes} nodes", Interval: time.Hour}
	title := "Set the beacon of " + m.name
	if b != nil {
		cur = *b
	}
	return &form{kind: formBeacon, title: title, fields: []formField{
		{label: "template", value: cur.Template, hint: "{my_name} {my_id} {battery} {voltage} {uptime} {time} {lat} {lon} {alt} {nodes}"},
		{label: "interval", value: durText(cur.Interval), hint: "how often, at least " + durText(responder.MinBeaconInterval) + " (airtime is shared)"},
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
		m.saveForm()
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
			m.saveForm()
		}
		return nil
	}
	var cmd tea.Cmd
	t.input, cmd = t.input.Update(msg)
	return cmd
}

// saveForm validates the form and saves it, or shows why not.
func (m *Model) saveForm() {
	t := &m.rules
	f := t.form
	m.dirty |= dBody | dStatus
	ctx, cancel := m.dbctx()
	defer cancel()
	st := m.cfg.Store
	var what string
	var err error
	switch f.kind {
	case formRule:
		var r responder.Rule
		if r, err = m.ruleFromForm(f); err == nil {
			if f.id == 0 {
				r, err = st.AddRule(ctx, m.actor(), r)
				what = fmt.Sprintf("rule #%d added", r.ID)
			} else {
				err = st.UpdateRule(ctx, m.actor(), r)
				what = fmt.Sprintf("rule #%d saved", r.ID)
			}
		}
	case formFilter:
		var fl filter.Filter
		if fl, err = m.filterFromForm(f); err == nil {
			fl, err = st.AddFilter(ctx, m.actor(), fl)
			what = fmt.Sprintf("filter #%d added: %s", fl.ID, clean(fl.String()))
		}
	case formBeacon:
		var b responder.Beacon
		if b, err = m.beaconFromForm(f); err == nil {
			_, err = st.PutBeacon(ctx, m.actor(), b)
			what = "beacon set" + pick(b.Enabled, "", " (space starts it)")
		}
	}
	if err != nil {
		f.err = strings.TrimPrefix(strings.TrimPrefix(err.Error(), "store: invalid: "), "responder: invalid: ")
		f.err = strings.TrimPrefix(f.err, "filter: invalid: ")
		return
	}
	t.form = nil
	m.setFlash(what, false)
}

func (m *Model) ruleFromForm(f *form) (responder.Rule, error) {
	r := responder.Rule{ID: f.id, Radio: m.name, Owner: m.id.Fingerprint, OwnerName: m.id.Name,
		Trigger: f.val("trigger"), Reply: f.val("reply"), DryRun: f.val("dry run") == "yes", Enabled: f.val("enabled") == "yes"}
	for _, old := range m.pf.rules {
		if old.ID == f.id {
			r.Radio, r.Owner, r.OwnerName = old.Radio, old.Owner, old.OwnerName
		}
	}
	var errs [6]error
	r.Match, errs[0] = responder.ParseMatchKind(f.val("match"))
	r.Type, errs[1] = responder.ParseMsgType(f.val("type"))
	r.Source, errs[2] = responder.ParseSource(f.val("source"))
	if ch := f.val("channel"); ch != "any" {
		n, _ := strconv.ParseUint(ch, 10, 32)
		c := uint32(n)
		r.Channel = &c
	}
	r.Cooldown, errs[3] = parseDur("cooldown", f.val("cooldown"))
	r.SenderCooldown, errs[4] = parseDur("sender cooldown", f.val("sender cooldown"))
	r.Expires, errs[5] = m.parseExpiry(f.val("expires"))
	for _, err := range errs {
		if err != nil {
			return r, err
		}
	}
	return r, r.Validate()
}

func (m *Model) filterFromForm(f *form) (filter.Filter, error) {
	fl := filter.Filter{Owner: m.id.Fingerprint, OwnerName: m.id.Name, Enabled: true, Value: f.val("value"), Radio: m.name}
	var errs [2]error
	fl.Mode, errs[0] = filter.ParseMode(f.val("mode"))
	fl.Kind, errs[1] = filter.ParseKind(f.val("kind"))
	if err := errors.Join(errs[:]...); err != nil {
		return fl, err
	}
	switch f.val("applies to") {
	case "me, every radio":
		fl.Radio = ""
	case "radio-wide":
		if m.id.Role < auth.Admin {
			return fl, errors.New("radio-wide filters are for admins")
		}
		fl.Scope = filter.ScopeRadio
	}
	if fl.Kind == filter.KindNode {
		if _, err := meshtastic.ParseNodeID(fl.Value); err != nil {
			if num, ok := m.nodeByName(fl.Value); ok {
				fl.Value = meshtastic.NodeID(num)
			}
		}
	}
	return fl, fl.Validate()
}

// nodeByName finds a node by its short or long name (any case).
func (m *Model) nodeByName(s string) (uint32, bool) {
	v := m.view()
	for _, n := range v.Nodes {
		if strings.EqualFold(n.ShortName, s) || strings.EqualFold(n.LongName, s) {
			return n.Num, true
		}
	}
	return 0, false
}

func (m *Model) beaconFromForm(f *form) (responder.Beacon, error) {
	b := responder.Beacon{Radio: m.name, Owner: m.id.Fingerprint, OwnerName: m.id.Name, Template: f.val("template")}
	if m.pf.beacon != nil {
		b.Enabled = m.pf.beacon.Enabled
	}
	ch, _ := strconv.ParseUint(f.val("channel"), 10, 32)
	b.Channel = uint32(ch)
	var err error
	if b.Interval, err = parseDur("interval", f.val("interval")); err != nil {
		return b, err
	}
	return b, b.Validate()
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

// parseExpiry reads "never", a duration from now or a local date.
func (m *Model) parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "never") {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("expires: give a time in the future")
		}
		return m.now().Add(d).Truncate(time.Minute), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, m.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expires: %q is not never, a duration (24h) or a date (2006-01-02 15:04)", s)
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
