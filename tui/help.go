package tui

import "strings"

// helpView lists every key of the current view and the global ones, with
// the reason when the user's role may not use a key, in a box over the
// view.
func (m *Model) helpView(w, h int) []string {
	bw, bh := min(w-2, 84), h-2 // the box's border takes two lines and two columns
	lines := m.helpLines(bw-4, bh)
	for i := range lines {
		lines[i] = fit(lines[i], bw-4)
	}
	return overlay(m.baseView(w, h), m.st.box.Render(strings.Join(lines, "\n")), w, h)
}

// helpLines are the help's lines from helpTop, at most h of them.
func (m *Model) helpLines(w, h int) []string {
	st := m.st
	title, es := m.keys.helpFor(m.screen, m.pane(), m.id)
	var out []string
	section := func(name string, es []helpEntry) {
		out = append(out, "", " "+st.title.Render(name))
		for _, e := range es {
			hp := e.b.Help()
			line := "   " + st.key.Render(fit(hp.Key, 12)) + " " + hp.Desc
			if e.denied != "" {
				line = "   " + st.dim.Render(fit(hp.Key, 12)+" "+hp.Desc+" — "+e.denied)
			}
			out = append(out, cut(line, w))
		}
	}
	section(title, es)
	if m.screen == screenMain {
		section("Everywhere", m.keys.global())
	} else {
		section("Everywhere", []helpEntry{{b: m.keys.help}, {b: m.keys.quit}})
	}
	out = append(out, "", st.dim.Render(cut("   The mouse wheel scrolls lists. You are "+clean(m.id.Name)+" ("+m.id.Role.String()+").", w)))
	out = out[1:] // the box has room above
	m.helpTop = max(0, min(m.helpTop, len(out)-h))
	out = out[m.helpTop:]
	if len(out) > h {
		out = append(out[:h-1:h-1], st.dim.Render("   ↓ more: j or pgdn"))
	}
	return out
}
