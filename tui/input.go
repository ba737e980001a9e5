package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// onKey routes a key press: an open dialog or help gets it first, then a
// focused text field, then the global keys, then the current view.
func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.dialog != nil {
		return m.dialogKey(msg)
	}
	if msg.String() == "ctrl+c" || (key.Matches(msg, k.quit) && !m.typing()) {
		return m.quit()
	}
	if m.help {
		return m.helpKey(msg)
	}
	if m.typing() {
		return m.pane().key(m, msg)
	}
	if key.Matches(msg, k.help) {
		m.help, m.helpTop = true, 0
		m.dirty |= dBody | dStatus
		return nil
	}
	if m.screen == screenLobby {
		return m.lobbyKey(msg)
	}
	switch {
	case key.Matches(msg, k.tabs):
		return m.setTab(tab(msg.String()[0] - '1'))
	case key.Matches(msg, k.next):
		return m.setTab((m.tab + 1) % tab(len(m.panes)))
	case key.Matches(msg, k.prev):
		return m.setTab((m.tab + tab(len(m.panes)) - 1) % tab(len(m.panes)))
	case key.Matches(msg, k.lobby):
		return m.enterLobby()
	}
	return m.pane().key(m, msg)
}

// onPaste gives pasted text to the focused field, if any.
func (m *Model) onPaste(msg tea.PasteMsg) tea.Cmd {
	var in *textinput.Model
	switch {
	case m.dialog != nil && m.dialog.typed != "":
		in = &m.dialog.input
	case m.typing():
		in = m.pane().(typer).textField()
	default:
		return nil
	}
	var cmd tea.Cmd
	*in, cmd = in.Update(msg)
	m.afterEdit()
	return cmd
}

// afterEdit applies what typing changed (search as you type, the byte
// counter) and redraws.
func (m *Model) afterEdit() {
	m.dirty |= dBody
	if m.typing() {
		m.pane().(typer).edited(m)
	}
}

// onWheel scrolls whatever list or pane is under the wheel.
func (m *Model) onWheel(ms tea.Mouse) tea.Cmd {
	step := 3
	switch ms.Button {
	case tea.MouseWheelUp:
		step = -step
	case tea.MouseWheelDown:
	default:
		return nil
	}
	m.dirty |= dBody
	switch {
	case m.dialog != nil:
	case m.help:
		m.helpTop = max(0, m.helpTop+step)
	case m.screen == screenLobby:
		m.lobby.move(step)
	default:
		if sc, ok := m.pane().(scroller); ok {
			return sc.scroll(m, step)
		}
	}
	return nil
}

// onClick switches tabs from the tab bar.
func (m *Model) onClick(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft || m.screen != screenMain || m.dialog != nil {
		return nil
	}
	// The body starts on line 2; the node table's heading is its second line.
	if ms.Y == 3 && m.on(&m.nodes) && !m.nodes.picking {
		m.clickHeading(ms.X)
		return nil
	}
	if ms.Y != 1 {
		return nil
	}
	for t, end := range m.tabX {
		if ms.X < end {
			return m.setTab(tab(t))
		}
	}
	return nil
}

// setTab shows another tab.
func (m *Model) setTab(t tab) tea.Cmd {
	if t < 0 || int(t) >= len(m.panes) {
		return nil
	}
	m.tab = t
	m.dirty = dAll
	if s, ok := m.pane().(shower); ok {
		return s.shown(m)
	}
	return nil
}

// quit leaves, asking first if a sweep would be cut short.
func (m *Model) quit() tea.Cmd {
	if m.trace.sweepRunning() {
		st := m.rec.Sweep()
		m.confirm("Quit?", []string{
			"A traceroute sweep is running (" + itoa(st.Done) + "/" + itoa(st.Total) + " nodes).",
			"Quitting cancels it.",
		}, func() tea.Cmd {
			m.trace.stopSweep()
			return tea.Quit
		})
		return nil
	}
	return tea.Quit
}

// helpKey scrolls or closes help.
func (m *Model) helpKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.help, k.back):
		m.help = false
		m.dirty |= dBody | dStatus
	case key.Matches(msg, k.up):
		m.helpTop = max(0, m.helpTop-1)
	case key.Matches(msg, k.down):
		m.helpTop++
	case key.Matches(msg, k.pgUp):
		m.helpTop = max(0, m.helpTop-10)
	case key.Matches(msg, k.pgDown):
		m.helpTop += 10
	}
	m.dirty |= dBody
	return nil
}

// newInput is a one-line text field. Its cursor does not blink: a blinking
// cursor is a timer that redraws an idle screen twice a second.
func newInput(prompt string, limit int) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.CharLimit = limit
	s := in.Styles()
	s.Cursor.Blink = false
	in.SetStyles(s)
	return in
}
