package tui

// helpView lists every key of the current view and the global ones, with
// the reason when the user's role may not use a key.
func (m *Model) helpView(w, h int) []string {
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
	m.helpTop = max(0, min(m.helpTop, len(out)-h))
	out = out[m.helpTop:]
	return out
}
