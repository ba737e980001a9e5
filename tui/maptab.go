package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/chart"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/geo"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

// mapTab draws every node with a position around ours on a braille canvas.
// The gateway is offline, so there are no tiles: the map is the mesh
// itself, its scale and the selected node's last traceroute. The view
// fits the nodes until the user zooms or pans, and fits again on `f`.
type mapTab struct {
	proj     geo.Projection
	fitted   bool // proj was fitted, or moved by the user
	moved    bool // the user zoomed or panned: keep the view as it is
	sel      uint32
	imperial bool
	trace    mapTrace // the selected node's last traceroute
}

// mapTrace is the last traceroute to one node: the radio's stored ones
// (anyone's, from the core) or this session's own, whichever is newer.
type mapTrace struct {
	node  uint32
	gen   int
	route *mapRoute
}

// mapRoute is a traceroute as the map draws it.
type mapRoute struct {
	at       time.Time
	complete bool
	hops     []uint32 // known relays towards the target, then the target
	relays   int
}

// mapTraceMsg carries a traceroute the map asked the core for.
type mapTraceMsg struct {
	gen   int
	route *mapRoute
}

// routeOfTrace reads a stored traceroute.
func routeOfTrace(tr backend.Trace) *mapRoute {
	r := &mapRoute{at: tr.At, complete: tr.Outcome == backend.TraceComplete, relays: max(len(tr.Towards)-1, 0)}
	for _, h := range tr.Towards {
		if h.Num != nil {
			r.hops = append(r.hops, *h.Num)
		}
	}
	return r
}

// sessionRoute is this session's newest traceroute to node, if any.
func (m *Model) sessionRoute(node uint32) *mapRoute {
	if m.rec == nil {
		return nil
	}
	trs := m.rec.Traces()
	for i := len(trs) - 1; i >= 0; i-- {
		tr := trs[i]
		if tr.Target != node {
			continue
		}
		r := &mapRoute{at: tr.At, complete: tr.Route != nil && tr.Err == nil}
		if tr.Route != nil {
			r.relays = max(len(tr.Route.Towards)-1, 0)
			for _, h := range tr.Route.Towards {
				if h.Known {
					r.hops = append(r.hops, h.Num)
				}
			}
		}
		return r
	}
	return nil
}

// staleAfter dims positions older than this: the node may have moved.
const staleAfter = 2 * time.Hour

// Canvas classes: a cell takes the highest of what is drawn in it.
const (
	mcNone uint8 = iota
	mcStale
	mcMQTT
	mcRF
	mcRoute
	mcSelf
	mcLabel
	mcSel
)

func (t *mapTab) reset() { *t = mapTab{imperial: t.imperial, trace: mapTrace{gen: t.trace.gen + 1}} }

// placed is a node with a position.
type placed struct {
	n  *meshtastic.Node
	at geo.Point
}

// positioned lists the nodes with a position, ours first, then by
// distance from ours (or by name when ours has none).
func positioned(v *radio.View) (self *placed, out []placed) {
	for _, n := range v.Nodes {
		if n.Latitude == nil || n.Longitude == nil {
			continue
		}
		p := geo.Point{Lat: *n.Latitude, Lon: *n.Longitude}
		if !p.Valid() {
			continue
		}
		out = append(out, placed{n, p})
	}
	for i := range out {
		if out[i].n.Num == v.MyNodeNum {
			out[0], out[i] = out[i], out[0]
			self = &out[0]
			break
		}
	}
	rest := out
	if self != nil {
		rest = out[1:]
	}
	slices.SortFunc(rest, func(a, b placed) int {
		if self != nil {
			if c := cmp.Compare(geo.Distance(self.at, a.at), geo.Distance(self.at, b.at)); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.n.Num, b.n.Num)
	})
	return self, out
}

func (t *mapTab) name() string { return "Map" }

func (t *mapTab) help(k *keys) []paneKey {
	return append(keysOf(k.zoomIn, k.zoomOut, k.pan, k.nextNode, k.prevNode, k.centre, k.fit, k.units, k.detail),
		paneKey{k.dm, backend.OpSend}, paneKey{k.trace, backend.OpTraceroute})
}

func (t *mapTab) hints(*Model) string {
	return "+/- zoom · arrows pan · n/N select · c centre · f fit · enter details · ? help"
}

func (t *mapTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	m.dirty |= dBody
	v := m.view()
	_, nodes := positioned(v)
	step := float64(max(t.proj.W, 8)) / 4
	switch {
	case key.Matches(msg, k.zoomIn):
		t.proj, t.moved = t.proj.Zoom(2), true
	case key.Matches(msg, k.zoomOut):
		t.proj, t.moved = t.proj.Zoom(0.5), true
	case msg.String() == "left" || msg.String() == "h":
		t.proj, t.moved = t.proj.Pan(-step, 0), true
	case msg.String() == "right" || msg.String() == "l":
		t.proj, t.moved = t.proj.Pan(step, 0), true
	case msg.String() == "up" || msg.String() == "k":
		t.proj, t.moved = t.proj.Pan(0, -step), true
	case msg.String() == "down" || msg.String() == "j":
		t.proj, t.moved = t.proj.Pan(0, step), true
	case key.Matches(msg, k.nextNode):
		return t.choose(m, nodes, 1)
	case key.Matches(msg, k.prevNode):
		return t.choose(m, nodes, -1)
	case key.Matches(msg, k.centre):
		for _, p := range nodes {
			if p.n.Num == t.sel {
				t.proj.Centre, t.moved = p.at, true
			}
		}
	case key.Matches(msg, k.fit):
		t.fitted, t.moved = false, false
	case key.Matches(msg, k.units):
		t.imperial = !t.imperial
	case key.Matches(msg, k.detail):
		if t.sel != 0 {
			return m.openNode(t.sel)
		}
	case key.Matches(msg, k.dm):
		if t.sel != 0 && m.allowed(backend.OpSend) {
			return m.startDM(t.sel)
		}
	case key.Matches(msg, k.trace):
		if t.sel != 0 && m.allowed(backend.OpTraceroute) {
			return m.startTrace(t.sel)
		}
	case key.Matches(msg, k.back):
		if t.sel != 0 {
			t.sel = 0
		} else {
			m.clearNotice()
		}
	}
	return nil
}

// choose selects the next or previous node by distance from ours (ours
// comes last), and asks the core for its last traceroute.
func (t *mapTab) choose(m *Model, nodes []placed, dir int) tea.Cmd {
	if len(nodes) > 1 && nodes[0].n.Num == m.view().MyNodeNum {
		nodes = append(slices.Clone(nodes[1:]), nodes[0])
	}
	if len(nodes) == 0 {
		m.setFlash("no node has a position yet", true)
		return nil
	}
	i := slices.IndexFunc(nodes, func(p placed) bool { return p.n.Num == t.sel })
	switch {
	case i < 0 && dir > 0:
		i = 0
	case i < 0:
		i = len(nodes) - 1
	default:
		i = (i + dir + len(nodes)) % len(nodes)
	}
	t.sel = nodes[i].n.Num
	return t.loadTrace(m)
}

// loadTrace asks the core for the selected node's last stored traceroute.
func (t *mapTab) loadTrace(m *Model) tea.Cmd {
	if t.sel == t.trace.node || m.radio == nil {
		return nil
	}
	t.trace.gen++
	t.trace.node, t.trace.route = t.sel, m.sessionRoute(t.sel)
	core, ctx, c, name, id, gen := m.core, m.ctx, m.caller, m.name, meshtastic.NodeID(t.sel), t.trace.gen
	return func() tea.Msg {
		list, err := core.TraceHistory(ctx, c, name, id, 1)
		if err != nil || len(list.Traces) == 0 {
			return mapTraceMsg{gen: gen} // no database, or never traced
		}
		return mapTraceMsg{gen: gen, route: routeOfTrace(list.Traces[0])}
	}
}

func (m *Model) onMapTrace(msg mapTraceMsg) {
	t := m.mapPane()
	if t == nil || msg.gen != t.trace.gen || msg.route == nil {
		return
	}
	if cur := t.trace.route; cur == nil || msg.route.at.After(cur.at) {
		t.trace.route = msg.route
		if m.on(t) {
			m.dirty |= dBody
		}
	}
}

// mapPane finds the map among the tabs.
func (m *Model) mapPane() *mapTab {
	for _, p := range m.panes {
		if t, ok := p.(*mapTab); ok {
			return t
		}
	}
	return nil
}

// openNode shows a node's details on the Nodes tab, clearing the filter
// and search that would hide it.
func (m *Model) openNode(num uint32) tea.Cmd {
	t := &m.nodes
	t.list.filter, t.list.full = filterAll, true
	t.setQuery("")
	t.sel, t.detail = num, true
	if t.list.sync(m.view()) {
		t.locate()
	}
	t.locate()
	return tea.Batch(m.show(t), m.loadHistory())
}

func (t *mapTab) view(m *Model, w, h int) []string {
	st := m.st
	v := m.view()
	self, nodes := positioned(v)
	if h < 4 {
		return nil
	}
	rows := h - 2
	cv := chart.New(w, rows)
	pw, ph := cv.Size()
	t.proj = t.proj.Resize(pw, ph)
	if !t.moved && !t.fitted || t.proj.MetresPerPx == 0 {
		// Fit the nodes heard over the air: MQTT brings in nodes from
		// other continents, which would shrink the local mesh to a dot.
		// They are a zoom out away; without RF nodes, fit them all.
		var pts, all []geo.Point
		for _, p := range nodes {
			all = append(all, p.at)
			if !p.n.ViaMQTT {
				pts = append(pts, p.at)
			}
		}
		if len(pts) < 2 {
			pts = all
		}
		t.proj, t.fitted = geo.Fit(pts, pw, ph, 0.08), true
		if self != nil && !t.moved {
			// Ours in the middle when that still shows everyone.
			centred := t.proj
			centred.Centre = self.at
			if fitsAll(centred, pts) {
				t.proj = centred
			}
		}
	}
	now := m.now()
	px := func(p geo.Point) (int, int) {
		x, y := t.proj.ToPx(p)
		return int(x), int(y)
	}

	// The selected node's last traceroute, hop by hop, under the nodes.
	var route string
	if r := t.trace.route; r != nil && t.trace.node == t.sel && self != nil {
		pos := map[uint32]geo.Point{}
		for _, p := range nodes {
			pos[p.n.Num] = p.at
		}
		prev := self.at
		for _, num := range r.hops {
			if at, ok := pos[num]; ok {
				x0, y0 := px(prev)
				x1, y1 := px(at)
				cv.Line(x0, y0, x1, y1, mcRoute)
				prev = at
			}
		}
		route = " · last trace " + format.Age(now, r.at) + " ago: "
		if r.complete {
			route += format.Count(r.relays, "relay")
		} else {
			route += "no answer"
		}
	}

	// Nodes: a glyph each, then the short name beside it where there is
	// room. Glyphs go farthest first, so that near ones win a shared cell;
	// labels go nearest first (ours, then by distance), for the same reason.
	shown, mqttOut := 0, 0
	type mark struct {
		col, row int
		p        placed
		class    uint8
	}
	var marks []mark
	for i := len(nodes) - 1; i >= 0; i-- {
		p := nodes[i]
		x, y := px(p.at)
		if x < 0 || y < 0 || x >= pw || y >= ph {
			if p.n.ViaMQTT {
				mqttOut++
			}
			continue
		}
		shown++
		glyph, class := "●", mcRF
		switch {
		case p.n.Num == v.MyNodeNum:
			glyph, class = "◉", mcSelf
		case p.n.ViaMQTT:
			glyph, class = "○", mcMQTT
		}
		if p.n.Num != v.MyNodeNum && stale(p.n, now) {
			class = mcStale
		}
		if p.n.Num == t.sel {
			class = mcSel
		}
		cv.Text(x/2, y/4, glyph, class)
		marks = append(marks, mark{x / 2, y / 4, p, class})
	}
	for i := len(marks) - 1; i >= 0; i-- {
		mk := marks[i]
		label := clean(mk.p.n.ShortName)
		if label == "" {
			label = mk.p.n.ID()[5:]
		}
		if cv.Free(mk.col+1, mk.row, width(label)) {
			lc := mcLabel
			if mk.class == mcStale || mk.class == mcSel {
				lc = mk.class
			}
			cv.Text(mk.col+1, mk.row, label, lc)
		}
	}

	// The scale bar, bottom left.
	if n, label := geo.ScaleBar(t.proj.MetresPerPx, min(pw/3, 40), t.imperial); n >= 4 {
		cells := max(n/2, 2)
		cv.Text(1, rows-1, "├"+strings.Repeat("─", cells-2)+"┤ "+label, mcLabel)
	}

	body := cv.Render(func(class uint8, s string) string {
		switch class {
		case mcStale:
			return st.dim.Render(s)
		case mcMQTT:
			return st.warn.Render(s)
		case mcRF:
			return st.ok.Render(s)
		case mcRoute:
			return st.title.Render(s)
		case mcSelf:
			return st.bold.Render(s)
		case mcSel:
			return st.sel.Render(s)
		}
		return s
	})

	top := fmt.Sprintf(" %d of %d nodes placed", len(nodes), len(v.Nodes))
	switch out := len(nodes) - shown; {
	case out > 0 && out == mqttOut && !t.moved:
		// The fit left them out on purpose; say so, and how to see them.
		top += fmt.Sprintf(", %d via MQTT out of view (- zooms out)", out)
	case out > 0:
		top += fmt.Sprintf(", %d in view", shown)
	}
	legend := "◉ us ● RF ○ MQTT · dim: position over 2 h old "
	if width(top)+width(legend) >= w {
		legend = "◉ us ● RF ○ MQTT "
	}
	out := []string{spread(top, st.dim.Render(legend), w)}
	out = append(out, body...)
	out = append(out, t.detailLine(m, v, self, nodes, now, route, w))
	return out
}

// fitsAll reports whether every point falls inside the projection's plane.
func fitsAll(pr geo.Projection, pts []geo.Point) bool {
	for _, p := range pts {
		x, y := pr.ToPx(p)
		if x < 1 || y < 1 || x > float64(pr.W-1) || y > float64(pr.H-1) {
			return false
		}
	}
	return true
}

// stale reports whether a node's position is too old to trust.
func stale(n *meshtastic.Node, now time.Time) bool {
	at := n.PositionTime
	if at.IsZero() {
		at = n.LastHeard
	}
	return now.Sub(at) > staleAfter
}

// detailLine is the map's last line: the selected node, how far and which
// way it is from ours, how old its position is.
func (t *mapTab) detailLine(m *Model, v *radio.View, self *placed, nodes []placed, now time.Time, route string, w int) string {
	st := m.st
	i := slices.IndexFunc(nodes, func(p placed) bool { return p.n.Num == t.sel })
	if i < 0 {
		if len(nodes) == 0 {
			return st.dim.Render(cut(" No node has sent a position yet.", w))
		}
		return st.dim.Render(cut(" n selects the nearest node, N the farthest.", w))
	}
	p := nodes[i]
	s := " " + clean(p.n.ShortName) + " " + clean(p.n.LongName) + " " + p.n.ID()
	switch {
	case p.n.Num == v.MyNodeNum:
		s += " · our node"
	case self != nil:
		d, b := geo.Distance(self.at, p.at), geo.Bearing(self.at, p.at)
		s += fmt.Sprintf(" · %s %s of us (%.0f°)", geo.FormatDistance(d, t.imperial), geo.Compass(b), b)
	default:
		s += " · our node has no position"
	}
	at := p.n.PositionTime
	if at.IsZero() {
		at = p.n.LastHeard
	}
	s += " · position " + format.Age(now, at) + " old"
	if p.n.ViaMQTT {
		s += " · via MQTT"
	}
	return cut(s+route, w)
}

// shown asks again for the selected node's traceroute: one may have
// finished while another tab was on screen.
func (t *mapTab) shown(m *Model) tea.Cmd {
	t.trace.node = 0
	if t.sel == 0 {
		return nil
	}
	return t.loadTrace(m)
}
