package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
)

// nodesTab is the Nodes tab: the NodeDB as a table with a details pane.
type nodesTab struct {
	list      nodeList
	search    textinput.Model
	searching bool
	sel       uint32 // selected node; kept when the order changes
	cur, top  int
	detail    bool
	picking   bool                           // the next key picks the sort column
	movedAt   time.Time                      // the user last moved the cursor; the order holds a while after
	thawing   bool                           // a timer will redraw when the hold ends
	aging     bool                           // a timer will redraw the ages in HEARD
	rows      map[*meshtastic.Node]cachedRow // rendered rows on screen
	spare     map[*meshtastic.Node]cachedRow // the previous frame's map, reused
	layoutW   int
	layout    []colSpec
	hist      traceHistory // the details pane's node's stored traceroutes
	tel       telemetryHistory
}

// telemetryHistory is the details pane's node's stored metrics, for its
// sparklines.
type telemetryHistory struct {
	radio  string
	node   uint32
	gen    int
	loaded bool
	none   bool // no database
	series backend.TelemetrySeries
}

// traceHistory is the radio's stored traceroutes to one node, as the core
// reads them back: everyone's, from before a restart too.
type traceHistory struct {
	radio  string
	node   uint32 // 0: none asked for
	gen    int
	loaded bool
	none   bool // the gateway keeps no history (no database)
	list   []backend.Trace
	err    string
}

// cachedRow is a rendered table row. Nodes in a View never change (a
// change publishes a new node), so a row stays valid for its node pointer
// while its age reads the same.
type cachedRow struct {
	heard string
	line  string
}

// holdOrder is how long the order stays put after the cursor moved: rows
// must not jump under a user who is choosing one.
const holdOrder = 5 * time.Second

// held reports whether the order is held at now: the cursor moved
// recently and nothing asked for a new order (filter, search, sort).
func (t *nodesTab) held(now time.Time) bool {
	return !t.list.full && t.list.base != nil && !t.movedAt.IsZero() && now.Sub(t.movedAt) < holdOrder
}

// thawMsg ends an order hold.
type thawMsg struct{}

// thaw schedules one redraw for when the hold ends, if a change waits.
func (m *Model) thaw() tea.Cmd {
	t := &m.nodes
	if t.thawing || !t.held(m.now()) || len(t.list.changed) == 0 {
		return nil
	}
	t.thawing = true
	return after(m.ctx, holdOrder-m.now().Sub(t.movedAt), thawMsg{})
}

func (m *Model) onThaw() tea.Cmd {
	m.nodes.thawing = false
	if m.on(&m.nodes) {
		m.dirty |= dBody
	}
	return m.thaw() // moved again meanwhile: wait for that hold
}

// Ages in HEARD go stale on a screen that is not redrawn. While someone
// uses the session they are redrawn every ageEvery; a session left alone
// for watchWindow stops (idle sessions write nothing) and says how old
// its ages are instead.
const (
	ageEvery    = 5 * time.Second
	watchWindow = 2 * time.Minute
)

// agesMsg redraws the ages.
type agesMsg struct{}

// ageTick keeps the ages current while the Nodes tab is in front of a
// user who touched a key lately.
func (m *Model) ageTick() tea.Cmd {
	t := &m.nodes
	if t.aging || !m.on(t) || m.now().Sub(m.inputAt) >= watchWindow {
		return nil
	}
	t.aging = true
	return after(m.ctx, ageEvery, agesMsg{})
}

func (m *Model) onAges() tea.Cmd {
	m.nodes.aging = false
	if m.on(&m.nodes) {
		m.dirty |= dBody
	}
	return m.ageTick()
}

// colSpec is a column's place in the table.
type colSpec struct {
	col   column
	w     int
	right bool
}

func (t *nodesTab) init() {
	t.list.init()
	t.search = newInput("/", 40)
}

func (t *nodesTab) reset() {
	search, hide, gen, tgen := t.search, t.list.hide, t.hist.gen, t.tel.gen
	*t = nodesTab{search: search}
	t.hist.gen, t.tel.gen = gen+1, tgen+1
	t.list.init()
	t.list.hide = hide
	t.search.Reset()
	t.search.Blur()
}

func (t *nodesTab) setQuery(q string) {
	t.list.query = strings.ToLower(strings.TrimSpace(q))
	t.list.full = true
}

// locate finds the selected node after the list changed.
func (t *nodesTab) locate() {
	n := len(t.list.items)
	if n == 0 {
		t.cur, t.top = 0, 0
		return
	}
	if t.sel != 0 {
		for i, it := range t.list.items {
			if it.Num == t.sel {
				t.cur = i
				return
			}
		}
	}
	t.cur = max(0, min(t.cur, n-1))
	t.sel = t.list.items[t.cur].Num
}

// sortBy sorts by c; picking the sorted column again reverses it.
func (t *nodesTab) sortBy(c column) {
	if c == t.list.sortBy {
		t.list.desc = !t.list.desc
	} else {
		t.list.sortBy = c
		// Numbers and times read best largest or newest first.
		switch c {
		case colHeard, colSNR, colRSSI, colBattery:
			t.list.desc = true
		default:
			t.list.desc = false
		}
	}
	t.list.full = true
}

// pickKey reads the column to sort by: its number in the heading.
func (m *Model) pickKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.nodes
	t.picking = false
	m.dirty |= dBody | dStatus
	k := msg.String()
	if len(k) == 1 && k[0] >= '1' && k[0] <= '9' {
		if i := int(k[0] - '1'); i < len(t.layout) {
			t.sortBy(t.layout[i].col)
		}
	}
	return nil
}

// pickHint lists the columns to sort by, numbered as the heading shows them.
func (t *nodesTab) pickHint() string {
	var b strings.Builder
	b.WriteString("sort:")
	for i, s := range t.layout {
		if i < 9 {
			fmt.Fprintf(&b, " %d %s", i+1, s.col)
		}
	}
	b.WriteString(" · again reverses · esc cancel")
	return b.String()
}

// clickHeading sorts by the column under x on the heading row.
func (m *Model) clickHeading(x int) {
	t := &m.nodes
	end := 1
	for _, s := range t.layout {
		end += s.w + 1
		if x < end {
			t.sortBy(s.col)
			m.dirty |= dBody
			return
		}
	}
}

func (t *nodesTab) move(n int) {
	if len(t.list.items) == 0 {
		return
	}
	t.cur = max(0, min(t.cur+n, len(t.list.items)-1))
	t.sel = t.list.items[t.cur].Num
}

// selected returns the selected node, if any.
func (t *nodesTab) selected() *meshtastic.Node {
	if t.cur < len(t.list.items) {
		return t.list.items[t.cur]
	}
	return nil
}

func (m *Model) nodesKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.nodes
	m.dirty |= dBody
	if key.Matches(msg, k.up, k.down, k.pgUp, k.pgDown, k.home, k.end) {
		t.movedAt = m.now()
	}
	switch {
	case key.Matches(msg, k.up):
		t.move(-1)
	case key.Matches(msg, k.down):
		t.move(1)
	case key.Matches(msg, k.pgUp):
		t.move(-(m.h - 6))
	case key.Matches(msg, k.pgDown):
		t.move(m.h - 6)
	case key.Matches(msg, k.home):
		t.move(-len(t.list.items))
	case key.Matches(msg, k.end):
		t.move(len(t.list.items))
	case key.Matches(msg, k.filter):
		t.list.filter = (t.list.filter + 1) % filterCount
		t.list.full = true
	case key.Matches(msg, k.sort):
		t.picking = true
		m.dirty |= dStatus
	case key.Matches(msg, k.reverse):
		t.list.desc = !t.list.desc
		t.list.full = true
	case key.Matches(msg, k.search):
		t.searching = true
		t.search.SetValue(t.list.query)
		t.search.CursorEnd()
		m.dirty |= dStatus
		return t.search.Focus()
	case key.Matches(msg, k.detail):
		t.detail = !t.detail
	case key.Matches(msg, k.back):
		switch {
		case t.detail:
			t.detail = false
		case t.list.query != "":
			t.setQuery("")
		default:
			m.clearNotice()
		}
	case key.Matches(msg, k.dm):
		if n := t.selected(); n != nil && m.allowed(backend.OpSend) {
			return m.startDM(n.Num)
		}
	case key.Matches(msg, k.trace):
		if n := t.selected(); n != nil && m.allowed(backend.OpTraceroute) {
			return m.startTrace(n.Num)
		}
	}
	return m.loadHistory()
}

func (m *Model) nodesSearchKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.nodes
	switch msg.String() {
	case "enter":
		t.searching = false
		t.search.Blur()
		m.dirty |= dBody | dStatus
		return nil
	case "esc":
		t.searching = false
		t.search.Blur()
		t.setQuery("")
		m.dirty |= dBody | dStatus
		return nil
	}
	var cmd tea.Cmd
	t.search, cmd = t.search.Update(msg)
	m.afterEdit()
	return cmd
}

// historyLen is how many stored traceroutes the details pane lists.
const historyLen = 5

// historyMsg carries the stored traceroutes of the details pane's node.
type historyMsg struct {
	gen  int
	list backend.TraceList
	err  error
}

// loadHistory asks the core for the stored traceroutes of the node in the
// details pane, when the pane shows a node it has not asked about.
func (m *Model) loadHistory() tea.Cmd {
	t := &m.nodes
	h := &t.hist
	n := t.selected()
	if !t.detail || n == nil || m.radio == nil || h.none || (h.node == n.Num && h.radio == m.name) {
		return nil
	}
	h.gen++
	*h = traceHistory{radio: m.name, node: n.Num, gen: h.gen}
	core, ctx, c, name, id, gen := m.core, m.ctx, m.caller, m.name, n.ID(), h.gen
	return tea.Batch(func() tea.Msg {
		list, err := core.TraceHistory(ctx, c, name, id, historyLen)
		return historyMsg{gen: gen, list: list, err: err}
	}, m.loadTelemetry(n.Num))
}

// telemetryMsg carries the details pane's node's stored metrics.
type telemetryMsg struct {
	gen    int
	series backend.TelemetrySeries
	err    error
}

// loadTelemetry asks the core for a node's last day of metrics.
func (m *Model) loadTelemetry(num uint32) tea.Cmd {
	tl := &m.nodes.tel
	if tl.none || (tl.node == num && tl.radio == m.name) {
		return nil
	}
	tl.gen++
	*tl = telemetryHistory{radio: m.name, node: num, gen: tl.gen}
	core, ctx, c, name, id, gen := m.core, m.ctx, m.caller, m.name, meshtastic.NodeID(num), tl.gen
	return func() tea.Msg {
		s, err := core.Telemetry(ctx, c, backend.TelemetryQuery{Radio: name, Node: id, Since: sparkWindow})
		return telemetryMsg{gen: gen, series: s, err: err}
	}
}

func (m *Model) onTelemetry(msg telemetryMsg) {
	tl := &m.nodes.tel
	if msg.gen != tl.gen {
		return
	}
	tl.loaded = true
	if errors.Is(msg.err, backend.ErrUnavailable) {
		tl.none = true
	}
	tl.series = msg.series
	if m.on(&m.nodes) {
		m.dirty |= dBody
	}
}

// reloadHistory asks again about node after a traceroute to it.
func (m *Model) reloadHistory(node uint32) tea.Cmd {
	if h := &m.nodes.hist; h.node == node {
		h.node = 0
	}
	return m.loadHistory()
}

func (m *Model) onHistory(msg historyMsg) {
	h := &m.nodes.hist
	if msg.gen != h.gen {
		return
	}
	h.loaded = true
	switch {
	case errors.Is(msg.err, backend.ErrUnavailable):
		h.none = true
	case msg.err != nil:
		h.err = msg.err.Error()
	default:
		h.list = msg.list.Traces
	}
	if m.on(&m.nodes) {
		m.dirty |= dBody
	}
}

// The Nodes tab as a pane.

func (t *nodesTab) name() string { return "Nodes" }

func (t *nodesTab) help(k *keys) []paneKey {
	return append(keysOf(k.up, k.down, k.pgUp, k.pgDown, k.home, k.end, k.filter, k.sort, k.reverse, k.search, k.detail),
		paneKey{k.dm, backend.OpSend}, paneKey{k.trace, backend.OpTraceroute})
}

func (t *nodesTab) hints(m *Model) string {
	if t.picking {
		return t.pickHint()
	}
	if t.searching {
		return "type to search · enter keep · esc clear"
	}
	return "enter details · / search · f filter · s sort · d DM · t trace · ? help"
}

func (t *nodesTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if t.picking {
		return m.pickKey(msg)
	}
	if t.searching {
		return m.nodesSearchKey(msg)
	}
	return m.nodesKey(msg)
}

func (t *nodesTab) view(m *Model, w, h int) []string { return m.nodesView(w, h) }

// The sort picker takes the next key too, as a text field would: its
// digits must not switch tabs.
func (t *nodesTab) typing() bool                { return t.searching || t.picking }
func (t *nodesTab) textField() *textinput.Model { return &t.search }

func (t *nodesTab) edited(*Model) {
	if t.searching {
		t.setQuery(t.search.Value())
	}
}

func (t *nodesTab) scroll(m *Model, n int) tea.Cmd {
	t.movedAt = m.now()
	t.move(n)
	return m.loadHistory()
}
