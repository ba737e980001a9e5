package tui

import (
	"reflect"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/format"
)

// The radios the user is not bound to send this session nothing
// (subscribing would make them connect), so the lobby asks them every
// lobbyPoll while it is on screen. It stops when the lobby is left, and
// after lobbyWatch without a key press, so that a login left sitting in
// the lobby costs nothing; the next key starts it again.
const (
	lobbyPoll  = 3 * time.Second
	lobbyWatch = 2 * time.Minute
)

type lobbyState struct {
	list    []RadioInfo
	cur     int
	gen     int // tells the current poll from stale ones
	polling bool
	until   time.Time // poll until then
}

func (l *lobbyState) refresh(r Radios) bool {
	if r == nil {
		return false
	}
	list := r.List()
	changed := !reflect.DeepEqual(list, l.list) // a Status may hold lists (warnings)
	l.list = list
	l.cur = max(0, min(l.cur, len(l.list)-1))
	return changed
}

func (l *lobbyState) move(n int) {
	l.cur = max(0, min(l.cur+n, len(l.list)-1))
}

// enterLobby shows the lobby, with the bound radio selected.
func (m *Model) enterLobby() tea.Cmd {
	m.screen = screenLobby
	m.lobby.refresh(m.cfg.Radios)
	for i, r := range m.lobby.list {
		if r.Name == m.name {
			m.lobby.cur = i
		}
	}
	m.dirty = dAll
	return m.pollLobby()
}

// pollLobby starts (or extends) the lobby's refresh.
func (m *Model) pollLobby() tea.Cmd {
	l := &m.lobby
	l.until = m.now().Add(lobbyWatch)
	if l.polling {
		return nil
	}
	l.polling = true
	l.gen++
	return after(m.ctx, lobbyPoll, lobbyTickMsg{gen: l.gen})
}

func (m *Model) onLobbyTick(msg lobbyTickMsg) tea.Cmd {
	l := &m.lobby
	if msg.gen != l.gen {
		return nil
	}
	if m.screen != screenLobby || m.now().After(l.until) {
		l.polling = false // left, or nobody is looking: let the poll die
		return nil
	}
	l.refresh(m.cfg.Radios)
	m.dirty |= dBody // the ages move on; an unchanged frame writes nothing
	return after(m.ctx, lobbyPoll, lobbyTickMsg{gen: l.gen})
}

func (m *Model) lobbyKey(msg tea.KeyPressMsg) tea.Cmd {
	m.lobbyAction(msg)
	if m.screen == screenLobby {
		return m.pollLobby() // someone is looking: keep it fresh
	}
	return nil
}

func (m *Model) lobbyAction(msg tea.KeyPressMsg) {
	k := m.keys
	m.dirty |= dBody
	switch {
	case key.Matches(msg, k.up):
		m.lobby.move(-1)
	case key.Matches(msg, k.down):
		m.lobby.move(1)
	case key.Matches(msg, k.pgUp):
		m.lobby.move(-10)
	case key.Matches(msg, k.pgDown):
		m.lobby.move(10)
	case key.Matches(msg, k.home):
		m.lobby.cur = 0
	case key.Matches(msg, k.end):
		m.lobby.move(len(m.lobby.list))
	case key.Matches(msg, k.refresh):
		m.lobby.refresh(m.cfg.Radios)
	case key.Matches(msg, k.back):
		if m.radio != nil { // back to the radio we came from
			m.screen = screenMain
			m.dirty = dAll
		}
	case key.Matches(msg, k.choose):
		if len(m.lobby.list) == 0 || m.cfg.Radios == nil {
			return
		}
		r, err := m.cfg.Radios.Bind(m.lobby.list[m.lobby.cur].Name)
		if err != nil {
			m.setFlash(err.Error(), true)
			return
		}
		m.attach(r)
	}
}

// attach shows radio r, starting the per-radio state afresh unless it is
// the radio already shown.
func (m *Model) attach(r Radio) {
	m.screen = screenMain // the lobby poll dies at its next tick
	m.dirty = dAll
	if m.radio != nil && r.Name() == m.name {
		return
	}
	if m.trace.sweepRunning() {
		m.trace.stopSweep()
		m.setFlash("the sweep on "+m.name+" was cancelled", true)
	}
	m.trace.cancelJob()
	m.radio, m.name = r, r.Name()
	m.tab = 0 // the first tab: Nodes
	m.nodes.reset()
	m.chat.reset()
	m.chat.load(r, m.view().MyNodeNum)
	m.pkts.reset(m.rec)
	m.trace.reset()
	m.mqtt = mqttTab{}
	m.device = deviceTab{}
	m.rules = rulesTab{}
	if t := m.mapPane(); t != nil {
		t.reset()
	}
	m.notice = notice{}
	m.help = false
}

func (m *Model) lobbyView(w, h int) []string {
	st := m.st
	if len(m.lobby.list) == 0 {
		return []string{"", "  Your key may not use any radio on this gateway.", "", "  Press q to leave."}
	}
	nameW := 12
	for _, r := range m.lobby.list {
		nameW = max(nameW, width(r.Name))
	}
	nameW = min(nameW, 24)
	const stateW, nodesW, usersW, lastW = 10, 5, 5, 8
	nodeW := max(8, w-2-nameW-stateW-nodesW-usersW-lastW-6)
	// state comes fitted to stateW, so that it can be coloured.
	row := func(mark, name, state, node, nodes, users, last string) string {
		return mark + " " + fit(name, nameW) + " " + state + " " + fit(node, nodeW) + " " +
			right(nodes, nodesW) + " " + right(users, usersW) + " " + right(last, lastW)
	}
	out := []string{"", st.colHead.Render(fit(row(" ", "RADIO", fit("STATE", stateW), "OUR NODE", "NODES", "USERS", "LAST PKT"), w))}
	top := scrollWindow(0, m.lobby.cur, h-6, len(m.lobby.list))
	now := m.now()
	for i := top; i < len(m.lobby.list) && len(out) < h-4; i++ {
		r := m.lobby.list[i]
		s := r.Status
		node := clean(s.NodeName)
		if s.NodeID != "" {
			node += " " + s.NodeID
		}
		if node == "" {
			node = "-"
		}
		nodes := "-"
		if r.Nodes > 0 {
			nodes = itoa(r.Nodes)
		}
		last := format.Age(now, s.LastPacket)
		state := fit(s.State.String(), stateW)
		if i == m.lobby.cur {
			out = append(out, st.sel.Render(fit(row(">", r.Name, state, node, nodes, itoa(r.Users), last), w)))
			continue
		}
		out = append(out, row(" ", r.Name, m.stateStyle(s.State).Render(state), node, nodes, itoa(r.Users), last))
	}
	cur := m.lobby.list[m.lobby.cur]
	// Users are the sessions bound to the radio; a session in the lobby
	// stays bound to the radio it came from, and that may be this one.
	users := "used by nobody"
	switch n := cur.Users; {
	case cur.Name == m.name && n <= 1:
		users = "used by you alone"
	case cur.Name == m.name:
		users = "used by you and " + format.Count(n-1, "other user")
	case n > 0:
		users = "used by " + format.Count(n, "user")
	}
	where := "at " + clean(cur.Status.Address)
	if strings.HasPrefix(cur.Status.Address, "sim://") {
		where = "is simulated" // its address is the simulator's settings
	}
	out = append(out, "", st.dim.Render(cut("  "+cur.Name+" "+where+" · "+
		clean(cur.Status.State.String())+" for "+format.Age(now, cur.Status.Since)+" · "+users, w)))
	if cur.Status.LastError != "" {
		out = append(out, "", st.dim.Render(cut("  "+cur.Name+": "+clean(cur.Status.LastError), w)))
	}
	for _, wr := range cur.Status.Warnings {
		out = append(out, st.warn.Render(cut("  ⚠ "+cur.Name+": "+clean(wr), w)))
	}
	return out
}
