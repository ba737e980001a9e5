package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
)

// adminOp asks the core for an admin action on the bound radio. The core
// decides whether the user may, tells everyone else on the radio first,
// runs it and writes the audit record; what says what it does, in the
// words of "asking the radio to reboot it". run may return a note to say
// instead of "accepted".
func (m *Model) adminOp(what string, run func(ctx context.Context, c backend.Caller, radio string) (note string, err error)) tea.Cmd {
	if m.radio == nil {
		return nil
	}
	ctx, c, name := m.ctx, m.caller, m.name
	m.setFlash("asking the radio to "+what+" it…", false)
	return func() tea.Msg {
		note, err := run(ctx, c, name)
		return adminDoneMsg{what: what, note: note, err: err}
	}
}

func (m *Model) onAdminDone(msg adminDoneMsg) {
	switch {
	case msg.err != nil:
		m.setFlash("could not "+msg.what+" the radio: "+msg.err.Error(), true)
	case msg.note != "":
		m.setFlash(msg.note, false)
	default:
		m.setFlash("the radio accepted the request to "+msg.what+" it", false)
	}
}
