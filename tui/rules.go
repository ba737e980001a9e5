package tui

import (
	"context"
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/filter"
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
	input   textinput.Model // the sample message
	result  []string        // the last rule test: plain lines
	resFor  int64           // the rule the result is about
	sending bool            // a beacon test is on its way
}

func (t *rulesTab) typing() bool { return t.testing || (t.form != nil && t.form.inputOn) }

// move moves the selection, or the form's field.
func (t *rulesTab) move(n int, m *Model) {
	if t.form != nil {
		t.form.move(n)
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
		return m.formKey(t.form, msg)
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

// The Rules tab as a pane.

func (t *rulesTab) name() string { return "Rules" }

func (t *rulesTab) help(k *keys) []paneKey {
	return []paneKey{{b: k.prevSection}, {b: k.nextSection}, {b: k.up}, {b: k.down},
		{k.add, backend.OpRuleAdd}, {k.change, backend.OpRuleChange}, {k.enable, backend.OpRuleChange},
		{k.del, backend.OpRuleChange}, {b: k.test}, {k.field, backend.OpRuleAdd}, {k.save, backend.OpRuleAdd}}
}

func (t *rulesTab) hints(m *Model) string {
	switch {
	case t.testing:
		return "type a sample message · enter test · esc cancel"
	case t.form != nil && t.form.inputOn:
		return "enter keep · ctrl+s keep and save · esc undo"
	case t.form != nil:
		return "↑↓ field · enter edit/switch · ctrl+s save · esc cancel"
	case m.pf.noDB:
		return "? help"
	case t.sec == secBeacon:
		return "←→ section · e set · space start/stop · t send now · d remove · ? help"
	case t.sec == secFilters:
		return "←→ section · a add · space on/off · d delete · ? help"
	}
	return "←→ section · a add · e edit · space on/off · d delete · t test · ? help"
}

func (t *rulesTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case t.testing:
		return m.testKey(msg)
	}
	return m.rulesKey(msg)
}

func (t *rulesTab) view(m *Model, w, h int) []string { return m.rulesView(w, h) }

func (t *rulesTab) textField() *textinput.Model {
	if t.form != nil && t.form.inputOn {
		return &t.form.input
	}
	return &t.input
}
func (t *rulesTab) edited(*Model) {}

func (t *rulesTab) scroll(m *Model, n int) tea.Cmd {
	t.move(n, m)
	return nil
}
