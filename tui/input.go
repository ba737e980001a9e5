package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
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

// nodePrompt is a one-line field that asks for a node: an !id, a name or
// the start of one, resolved by the core as the exec commands resolve
// theirs. The DM and traceroute prompts are one each.
type nodePrompt struct {
	input textinput.Model
	open  bool
}

func newNodePrompt(label string) nodePrompt {
	return nodePrompt{input: newInput(label, 40)}
}

// start opens the prompt, holding value (may be empty) ready to edit.
func (p *nodePrompt) start(value string) tea.Cmd {
	p.open = true
	p.input.Reset()
	if value != "" {
		p.input.SetValue(value)
		p.input.CursorEnd()
	}
	return p.input.Focus()
}

func (p *nodePrompt) close() {
	p.open = false
	p.input.Blur()
}

// promptKey handles a key for open prompt p: esc closes it; enter
// resolves the text, asks check (when set) whether the node will do, and
// only then closes the prompt and hands the node to use. A text that names
// no node, or one check refuses, is flashed and stays to be corrected.
func (m *Model) promptKey(p *nodePrompt, msg tea.KeyPressMsg, check func(num uint32) error, use func(num uint32) tea.Cmd) tea.Cmd {
	m.dirty |= dBody
	switch msg.String() {
	case "esc":
		p.close()
		m.dirty |= dStatus
		return nil
	case "enter":
		num, err := backend.ResolveNode(m.view(), p.input.Value())
		if err == nil && check != nil {
			err = check(num)
		}
		if err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		p.close()
		m.dirty |= dStatus
		return use(num)
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return cmd
}
