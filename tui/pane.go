package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
)

// pane is one tab of a radio's screen. A tab is one file: its state, the
// methods below, and one line in New's registration. The model routes
// keys, drawing, help and hints to the current pane and knows nothing
// else about it.
type pane interface {
	// name labels the tab bar and titles the help.
	name() string
	// help lists the tab's keys, each with the operation it needs (empty
	// when anyone may use it); help greys out what the user may not do.
	help(k *keys) []paneKey
	// hints are the few keys worth showing on the status line.
	hints(m *Model) string
	// key handles a key press (while the tab is typing too, see typer).
	key(m *Model, msg tea.KeyPressMsg) tea.Cmd
	// view draws the body: h lines of at most w columns.
	view(m *Model, w, h int) []string
}

// paneKey is one help entry of a pane.
type paneKey struct {
	b  key.Binding
	op backend.Op // "" when anyone may
}

// keysOf lists bindings anyone may use.
func keysOf(bs ...key.Binding) []paneKey {
	out := make([]paneKey, len(bs))
	for i, b := range bs {
		out[i] = paneKey{b: b}
	}
	return out
}

// The optional parts of a pane, found by type assertion as io.WriterTo is.

// typer is a pane with a text field. While typing it gets every key but
// ctrl+c, and pasted text goes to its field.
type typer interface {
	typing() bool
	textField() *textinput.Model
	// edited applies what typing changed (search as you type).
	edited(m *Model)
}

// scroller is a pane the mouse wheel scrolls by n lines.
type scroller interface {
	scroll(m *Model, n int) tea.Cmd
}

// shower is a pane that does something when it is shown.
type shower interface {
	shown(m *Model) tea.Cmd
}

// badger is a pane whose tab label carries a count, as Chat's unread.
type badger interface {
	badge(m *Model) string
}

// tabs are the radio's tabs in tab-bar order. Adding one is its file and
// a line here; the numbers of the existing ones stay as they were.
func (m *Model) tabs() []pane {
	return []pane{
		&m.nodes,
		&m.chat,
		&m.pkts,
		&m.trace,
		&m.mqtt,
		&m.device,
		&m.rules,
		&mapTab{},
	}
}

// pane returns the current tab.
func (m *Model) pane() pane { return m.panes[m.tab] }

// on reports whether p is the tab on screen (the radio's tabs, not the lobby).
func (m *Model) on(p pane) bool { return m.screen == screenMain && m.pane() == p }

// show switches to p.
func (m *Model) show(p pane) tea.Cmd {
	for i, q := range m.panes {
		if q == p {
			return m.setTab(tab(i))
		}
	}
	return nil
}

// typing reports whether a text field has the keyboard.
func (m *Model) typing() bool {
	if m.screen != screenMain {
		return false
	}
	t, ok := m.pane().(typer)
	return ok && t.typing()
}

// paneNamed returns the tab called name, or nil.
func (m *Model) paneNamed(name string) pane {
	for _, p := range m.panes {
		if p.name() == name {
			return p
		}
	}
	return nil
}
