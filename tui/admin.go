package tui

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/meshtastic"
)

// adminOp runs an admin operation on the radio through the broker, which
// runs one at a time. Everyone else on the radio is told first, in the
// same words the exec commands use.
func (m *Model) adminOp(action, what string, f func(context.Context, *meshtastic.Client) error) tea.Cmd {
	if m.radio == nil {
		return nil
	}
	r, ctx, who, audit, name := m.radio, m.ctx, m.id.Name, m.cfg.Audit, m.name
	m.setFlash("asking the radio to "+what+" it…", false)
	return func() tea.Msg {
		r.Announce(fmt.Sprintf("%s is about to %s this radio", who, what))
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := r.Admin(actx, f)
		if audit != nil {
			audit(name, action, err)
		}
		return adminDoneMsg{what: what, err: err}
	}
}

func (m *Model) onAdminDone(msg adminDoneMsg) {
	if msg.err != nil {
		m.setFlash("could not "+msg.what+" the radio: "+msg.err.Error(), true)
		return
	}
	m.setFlash("the radio accepted the request to "+msg.what+" it", false)
}
