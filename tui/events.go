package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/radio"
)

// onEvents folds a batch of radio events into the session's state and
// schedules the parts of the screen they change. Bookkeeping happens now;
// drawing waits for the frame timer.
func (m *Model) onEvents(msg eventsMsg) tea.Cmd {
	if m.radio == nil || msg.radio != m.name {
		return nil // from a radio the session has left
	}
	var d dirt
	main := m.screen == screenMain && m.dialog == nil && !m.help
	shows := func(p pane) bool { return main && m.on(p) }
	if msg.dropped {
		m.nodes.list.full = true // node events were lost: resync
		d |= dHeader | dBody
	}
	my := m.view().MyNodeNum
	for _, ev := range msg.events {
		switch ev.Kind {
		case radio.EvPacket:
			m.pkts.arrived++
			if shows(&m.pkts) && !m.pkts.paused {
				d |= dBody
			}
			if shows(&m.mqtt) {
				d |= dBody
			}
		case radio.EvSent:
			m.pkts.arrived++
			if shows(&m.pkts) && !m.pkts.paused {
				d |= dBody
			}
		case radio.EvNode:
			m.nodes.list.touched(ev.Node.Num)
			if shows(&m.nodes) || shows(m.mapPane()) {
				d |= dBody
			}
			if ev.Node.Num == my {
				d |= dHeader
			}
		case radio.EvMessage:
			visible := shows(&m.chat)
			if m.chat.sentSeen(ev.Message, m.id.Name) {
				d |= dBody
			}
			if m.chat.add(ev.Message, my, true) {
				if visible && convFor(ev.Message, my) == m.chat.cur {
					m.chat.markRead()
				} else {
					d |= dHeader | dTabs
				}
			}
			if visible {
				d |= dBody
			}
		case radio.EvStatus:
			d |= dHeader
			if ev.Status.State == radio.Connected {
				// A new link brings a new View: start the table over.
				m.nodes.list.full = true
				d |= dBody
			}
		case radio.EvConfig:
			d |= dHeader | dBody
		case radio.EvAnnounce:
			m.notice = notice{text: clean(ev.Text), at: ev.At}
			d |= dStatus
		}
	}
	if d&dBody != 0 && m.on(&m.nodes) {
		// Rows held in place while the user moves get their new order
		// when the hold ends.
		return tea.Batch(m.later(d), m.thaw())
	}
	return m.later(d)
}

func (m *Model) clearNotice() {
	if m.notice.text != "" {
		m.notice = notice{}
		m.dirty |= dStatus
	}
}

// idleState is the idle countdown shown near the timeout.
type idleState struct {
	warn    bool
	left    time.Duration
	pending bool // a check is scheduled
}

// warnWindow is how long before the idle timeout the countdown shows.
func (m *Model) warnWindow() time.Duration {
	return min(5*time.Minute, m.cfg.IdleTimeout/4)
}

// checkIdle shows or hides the countdown and schedules the next look: one
// timer, due when the countdown should appear, and a slow tick during the
// countdown itself. Input hides the countdown at once; the pending timer
// then finds the clock reset and sleeps until the next window.
func (m *Model) checkIdle() tea.Cmd {
	if m.cfg.IdleTimeout <= 0 || m.rec == nil || m.idle.pending {
		return nil
	}
	left := m.cfg.IdleTimeout - m.rec.IdleFor(m.now())
	window := m.warnWindow()
	var wait time.Duration
	if left > window {
		if m.idle.warn {
			m.dirty |= dStatus
		}
		m.idle.warn = false
		wait = left - window
	} else {
		if !m.idle.warn || short(left) != short(m.idle.left) {
			m.dirty |= dStatus
		}
		m.idle.warn, m.idle.left = true, max(left, 0)
		wait = 15 * time.Second
		if left <= time.Minute {
			wait = 5 * time.Second
		}
		wait = max(min(wait, left), 500*time.Millisecond)
	}
	m.idle.pending = true
	return after(m.ctx, wait, idleMsg{})
}
