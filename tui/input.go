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
		return m.typingKey(msg)
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
		return m.setTab((m.tab + 1) % tabCount)
	case key.Matches(msg, k.prev):
		return m.setTab((m.tab + tabCount - 1) % tabCount)
	case key.Matches(msg, k.lobby):
		return m.enterLobby()
	}
	switch m.tab {
	case tabNodes:
		return m.nodesKey(msg)
	case tabChat:
		return m.chatKey(msg)
	case tabPackets:
		return m.packetsKey(msg)
	case tabTrace:
		return m.traceKey(msg)
	case tabMQTT:
		return m.mqttKey(msg)
	case tabDevice:
		return m.deviceKey(msg)
	case tabRules:
		return m.rulesKey(msg)
	}
	return nil
}

// typing reports whether a text field has the keyboard.
func (m *Model) typing() bool {
	if m.screen != screenMain {
		return false
	}
	switch m.tab {
	case tabNodes:
		return m.nodes.searching
	case tabChat:
		return m.chat.composing
	case tabPackets:
		return m.pkts.searching
	case tabTrace:
		return m.trace.prompting
	case tabMQTT:
		return m.mqtt.editing()
	case tabRules:
		return m.rules.typing()
	}
	return false
}

func (m *Model) typingKey(msg tea.KeyPressMsg) tea.Cmd {
	switch m.tab {
	case tabNodes:
		return m.nodesSearchKey(msg)
	case tabChat:
		return m.composeKey(msg)
	case tabPackets:
		return m.packetsSearchKey(msg)
	case tabTrace:
		return m.promptKey(msg)
	case tabMQTT:
		return m.mqttFieldKey(msg)
	case tabRules:
		if m.rules.testing {
			return m.testKey(msg)
		}
		return m.formFieldKey(msg)
	}
	return nil
}

// onPaste gives pasted text to the focused field, if any.
func (m *Model) onPaste(msg tea.PasteMsg) tea.Cmd {
	var in *textinput.Model
	switch {
	case m.dialog != nil && m.dialog.typed != "":
		in = &m.dialog.input
	case !m.typing():
		return nil
	case m.tab == tabNodes:
		in = &m.nodes.search
	case m.tab == tabChat:
		in = &m.chat.input
	case m.tab == tabPackets:
		in = &m.pkts.search
	case m.tab == tabTrace:
		in = &m.trace.prompt
	case m.tab == tabMQTT:
		in = &m.mqtt.input
	case m.tab == tabRules:
		in = &m.rules.input
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
	switch {
	case m.tab == tabNodes && m.nodes.searching:
		m.nodes.setQuery(m.nodes.search.Value())
	case m.tab == tabPackets && m.pkts.searching:
		m.pkts.setSearch(m.pkts.search.Value(), m.rec)
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
		m.scroll(step)
		if m.tab == tabNodes {
			return m.loadHistory()
		}
	}
	return nil
}

// scroll moves the current view's selection or pane by n lines.
func (m *Model) scroll(n int) {
	switch m.tab {
	case tabNodes:
		m.nodes.move(n)
	case tabChat:
		m.chat.move(n)
	case tabPackets:
		m.movePackets(n)
	case tabTrace:
		m.trace.move(n)
	case tabMQTT:
		m.mqtt.move(n)
	case tabDevice:
		m.device.top = max(0, m.device.top+n)
	case tabRules:
		m.rules.move(n, m)
	}
}

// onClick switches tabs from the tab bar.
func (m *Model) onClick(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft || ms.Y != 1 || m.screen != screenMain || m.dialog != nil {
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
	if t < 0 || t >= tabCount {
		return nil
	}
	m.tab = t
	m.dirty = dAll
	switch t {
	case tabChat:
		m.chat.markRead()
	case tabPackets:
		m.pkts.stale = true
	case tabTrace:
		m.trace.reload(m.rec)
		return m.traceTick()
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
