package tui

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/responder"
)

func (m *Model) rulesView(w, h int) []string {
	st, t := m.st, &m.rules
	if m.pf.noDB {
		return []string{"", " " + st.title.Render("Rules"), "",
			"   This gateway runs without a database: responders, filters and",
			"   beacons need one (start the gateway with a data directory)."}
	}
	var bar strings.Builder
	bar.WriteString(" ")
	for s := range secCount {
		if s == t.sec {
			bar.WriteString(st.tabActive.Render("[" + s.String() + "]"))
		} else {
			bar.WriteString(st.tab.Render(" " + s.String() + " "))
		}
		bar.WriteString(" ")
	}
	note := "←→ section"
	if !backend.Can(m.id, backend.OpRuleAdd) {
		note = "read-only: changes need the " + backend.MinRole(backend.OpRuleAdd).String() + " role"
	}
	out := []string{spread(bar.String(), st.dim.Render(note+" "), w)}
	if m.pf.err != "" {
		out = append(out, st.bad.Render(cut(" "+clean(m.pf.err), w)))
	}
	var body []string
	switch {
	case t.form != nil:
		body = m.formView(t.form, w)
		if avail := h - len(out); len(body) > avail { // keep the field being edited in view
			top := scrollWindow(0, 1+t.form.field, avail, len(body))
			body = body[top:]
		}
	case t.sec == secResponders:
		body = m.respondersView(w, h-len(out))
	case t.sec == secFilters:
		body = m.filtersView(w, h-len(out))
	case t.sec == secBeacon:
		body = m.beaconView(w)
	}
	out = append(out, body...)
	for i := range out {
		out[i] = cut(out[i], w)
	}
	if len(out) > h {
		out = out[:h]
	}
	return out
}

// ruleState is the core's state of a rule in a few words.
func ruleState(r *backend.Rule) string {
	var s []string
	switch {
	case !r.Enabled:
		s = append(s, "off")
	case r.State == "expired":
		s = append(s, "expired")
	default:
		s = append(s, "on")
	}
	if r.DryRun {
		s = append(s, "dry run")
	}
	return strings.Join(s, ", ")
}

func channelText(c *uint32) string {
	if c == nil {
		return "any"
	}
	return itoa(int(*c))
}

func (m *Model) respondersView(w, h int) []string {
	st, t := m.st, &m.rules
	rules := m.pf.rules
	wide := w >= 120
	const idW, ownW, matchW, stateW = 4, 10, 8, 12
	extra := 0
	if wide {
		extra = 9 + 1 + 5 + 1 + 3 + 1 + 8 + 1 + 8 + 1
	}
	rest := max(16, w-2-idW-ownW-matchW-stateW-5-extra)
	trigW := rest * 2 / 5
	replyW := rest - trigW - 1
	head := "  " + right("ID", idW) + " " + fit("OWNER", ownW) + " " + fit("MATCH", matchW) + " " + fit("TRIGGER", trigW) + " " +
		fit("REPLY", replyW) + " "
	if wide {
		head += fit("TYPE", 9) + " " + fit("SRC", 5) + " " + fit("CH", 3) + " " + fit("COOLDOWN", 8) + " " + fit("SENDER", 8) + " "
	}
	head += fit("STATE", stateW)
	out := []string{"", st.colHead.Render(fit(head, w))}
	// Below the list: the selected rule's other settings and the test.
	var below []string
	if r := m.selectedRule(); r != nil {
		exp := "never"
		if r.Expires != nil {
			exp = stamp(*r.Expires, m.loc)
		}
		below = append(below, "")
		below = append(below, m.note(fmt.Sprintf("#%d on %s by %s · type %s · source %s · channel %s · cooldown %s · per sender %s · expires %s",
			r.ID, clean(r.Radio), clean(r.OwnerName), r.Type, r.Source, channelText(r.Channel), format.Typed(seconds(r.Cooldown)),
			format.Typed(seconds(r.SenderCooldown)), exp), w)...)
		switch {
		case t.testing:
			below = append(below, " "+t.input.View())
		case t.result != nil && t.resFor == r.ID:
			for _, l := range t.result {
				below = append(below, plainNote(l, w)...)
			}
		}
	}
	if len(below) > h/2 { // a small window: the list first, then the test
		below = below[len(below)-h/2:]
	}
	rows := max(1, h-len(out)-len(below))
	if len(rules) == 0 {
		out = append(out, "", st.dim.Render("  no responders on "+clean(m.name)+" yet"+pick(backend.Can(m.id, backend.OpRuleAdd), " (a adds one)", "")))
		return out
	}
	cur := t.cur[secResponders]
	t.top = scrollWindow(t.top, cur, rows, len(rules))
	for i := t.top; i < len(rules) && i < t.top+rows; i++ {
		r := &rules[i]
		line := "  " + right(itoa(int(r.ID)), idW) + " " + fit(clean(r.OwnerName), ownW) + " " + fit(r.Match, matchW) + " " +
			fit(clean(r.Trigger), trigW) + " " + fit(clean(r.Reply), replyW) + " "
		if wide {
			line += fit(r.Type, 9) + " " + fit(r.Source, 5) + " " + fit(channelText(r.Channel), 3) + " " +
				fit(format.Typed(seconds(r.Cooldown)), 8) + " " + fit(format.Typed(seconds(r.SenderCooldown)), 8) + " "
		}
		line += fit(ruleState(r), stateW)
		if i == cur {
			line = st.sel.Render(fit(">"+line[1:], w))
		}
		out = append(out, line)
	}
	return append(padLines(out, max(0, h-len(below))), below...)
}

// note is dim text wrapped to w columns, indented by one.
func (m *Model) note(text string, w int) []string {
	var out []string
	for _, l := range wrap(text, max(10, w-2)) {
		out = append(out, " "+m.st.dim.Render(l))
	}
	return out
}

// plainNote is note without the style, for results that must stand out.
func plainNote(text string, w int) []string {
	var out []string
	for _, l := range wrap(text, max(10, w-2)) {
		out = append(out, " "+l)
	}
	return out
}

func filterWhose(f *filter.Filter) string {
	switch {
	case f.Scope == filter.ScopeRadio:
		return "radio-wide"
	case f.Radio == "":
		return "mine, every radio"
	}
	return "mine, this radio"
}

func (m *Model) filtersView(w, h int) []string {
	st, t := m.st, &m.rules
	fs := m.shownFilters()
	const idW, whoseW, modeW, kindW, stateW = 4, 17, 6, 8, 4
	valW := max(10, w-2-idW-whoseW-modeW-kindW-stateW-5)
	if w >= 120 {
		valW -= 13
	}
	head := "  " + right("ID", idW) + " " + fit("WHOSE", whoseW) + " " + fit("MODE", modeW) + " " + fit("KIND", kindW) + " " +
		fit("VALUE", valW) + " " + fit("ON", stateW)
	if w >= 120 {
		head += " " + fit("SET BY", 12)
	}
	below := append([]string{""}, m.note("Your filters change only your own Nodes, Chat and Packets views; what they hide is counted there."+
		" Radio-wide filters keep packets out of the history and the responder for everyone (admins).", w)...)
	if len(below) > h/2 { // a small window: the list first
		below = below[len(below)-h/2:]
	}
	out := []string{"", st.colHead.Render(fit(head, w))}
	if len(fs) == 0 {
		out = append(out, "", st.dim.Render("  no filters for "+clean(m.name)+pick(backend.Can(m.id, backend.OpFilterAdd), " (a adds one)", "")))
		return append(padLines(out, max(0, h-len(below))), below...)
	}
	rows := max(1, h-len(out)-len(below))
	cur := t.cur[secFilters]
	t.top = scrollWindow(t.top, cur, rows, len(fs))
	for i := t.top; i < len(fs) && i < t.top+rows; i++ {
		f := &fs[i]
		shown := f.Value
		if s := strings.SplitN(f.String(), " ", 3); len(s) == 3 {
			shown = s[2]
		}
		line := "  " + right(itoa(int(f.ID)), idW) + " " + fit(filterWhose(f), whoseW) + " " + fit(f.Mode.String(), modeW) + " " +
			fit(f.Kind.String(), kindW) + " " + fit(clean(shown), valW) + " " + fit(pick(f.Enabled, "yes", "no"), stateW)
		if w >= 120 {
			line += " " + fit(clean(f.OwnerName), 12)
		}
		if i == cur {
			line = st.sel.Render(fit(">"+line[1:], w))
		}
		out = append(out, line)
	}
	return append(padLines(out, max(0, h-len(below))), below...)
}

func (m *Model) beaconView(w int) []string {
	st := m.st
	b := m.pf.beacon
	out := []string{"", " " + st.title.Render("Beacon of "+clean(m.name))}
	row := func(k, v string) { out = append(out, "   "+st.dim.Render(fit(k, 10))+" "+v) }
	if b == nil {
		out = append(out, "", st.dim.Render("   no beacon"+pick(backend.Can(m.id, backend.OpBeaconSet), " (e sets one)", "")))
	} else {
		row("template", clean(b.Template))
		row("interval", "every "+format.Typed(seconds(b.Interval)))
		row("channel", itoa(int(b.Channel))+" ("+clean(channelName(m.view(), b.Channel))+")")
		row("state", pick(b.Enabled, st.ok.Render("running"), st.warn.Render("stopped")))
		row("set by", clean(b.OwnerName))
		self, _ := m.view().Self()
		preview := responder.RenderBeacon(b.Template, responder.BeaconVarsFor(self, len(m.view().Nodes), m.now()))
		out = append(out, "")
		row("preview", "")
		for _, l := range wrap(clean(preview), max(10, w-6)) {
			out = append(out, "     "+l)
		}
	}
	out = append(out, "")
	return append(out, m.note("A beacon is a broadcast every router in range repeats: the interval is at least "+
		format.Typed(responder.MinBeaconInterval)+". e sets it, space starts or stops it, t sends it now, d removes it.", w)...)
}
