package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

// layoutFor chooses the columns that fit w cells: the names stretch,
// hardware and role appear on wide screens, and on narrow ones the less
// important numbers go first.
func layoutFor(w int) []colSpec {
	specs := []colSpec{{colShort, 4, false}, {colLong, 0, false}, {colID, 9, false}, {colHops, 4, true},
		{colSNR, 6, true}, {colRSSI, 5, true}, {colBattery, 4, true}, {colHeard, 6, true}, {colVia, 4, false}}
	if w >= 120 {
		specs = append(specs, colSpec{colHW, 24, false})
	}
	if w >= 140 {
		specs = append(specs, colSpec{colRole, 14, false})
	}
	drop := func(c column) {
		for i, s := range specs {
			if s.col == c {
				specs = append(specs[:i], specs[i+1:]...)
				return
			}
		}
	}
	fixed := func() int {
		n := 1 // the selection marker
		for _, s := range specs {
			n += s.w + 1
		}
		return n
	}
	for _, c := range []column{colRSSI, colBattery, colID, colSNR} {
		if w-fixed() >= 16 {
			break
		}
		drop(c)
	}
	for i := range specs {
		if specs[i].col == colLong {
			// Names are at most 39 bytes; wider only spreads the table.
			specs[i].w = min(max(6, w-fixed()), 36)
		}
	}
	return specs
}

// tableWidth is the width of a row laid out with specs.
func tableWidth(specs []colSpec) int {
	n := 1
	for _, s := range specs {
		n += s.w + 1
	}
	return n
}

func (m *Model) nodesView(w, h int) []string {
	t, st := &m.nodes, m.st
	v := m.view()
	now := m.now()
	// While the user moves through the list its order holds (rows must
	// not jump under the cursor); the changes wait and are counted.
	waiting := 0
	if t.held(now) {
		waiting = len(t.list.changed)
		v = t.list.base
	} else if t.list.sync(v) {
		t.locate()
	}
	var detail []string
	tableW, tableH := w, h
	side := false
	if n := t.selected(); t.detail && n != nil {
		if w >= 110 {
			// The table takes what it needs, the details the rest.
			side = true
			tableW = min(tableWidth(layoutFor(w-41)), w-41)
			detail = m.nodeDetail(v, n, w-tableW-1, h)
		} else {
			dh := min(11, h/2)
			tableH = h - dh
			detail = m.nodeDetail(v, n, w, dh)
		}
	}
	if tableW != t.layoutW {
		t.layoutW, t.layout, t.rows = tableW, layoutFor(tableW), nil
	}
	if t.rows == nil {
		t.rows = map[*meshtastic.Node]cachedRow{}
	}

	info := fmt.Sprintf(" %d of %d nodes · filter: %s · sort: %s %s", len(t.list.items), len(v.Nodes),
		t.list.filter, strings.ToLower(t.list.sortBy.String()), arrow(t.list.desc)) + hiddenNote(m.hiddenNodes(v))
	if waiting > 0 {
		info += fmt.Sprintf(" · %d updated, order held", waiting)
	}
	if t.list.query != "" {
		info += " · search: " + clean(t.list.query)
	}
	if !t.aging {
		info += " · ages as of " + now.In(m.loc).Format("15:04:05")
	}
	out := []string{st.dim.Render(cut(info, tableW))}
	if t.searching {
		out[0] = cut(" "+t.search.View(), tableW)
	}
	out = append(out, st.colHead.Render(fit(m.nodeHeading(), tableW)))
	rows := tableH - 2
	t.top = scrollWindow(t.top, t.cur, rows, len(t.list.items))
	heard := func(n *meshtastic.Node) string {
		if n.Num == v.MyNodeNum {
			return ""
		}
		return format.Age(now, n.LastHeard)
	}
	seen := t.spare
	if seen == nil {
		seen = make(map[*meshtastic.Node]cachedRow, rows)
	}
	clear(seen)
	for i := t.top; i < len(t.list.items) && i < t.top+rows; i++ {
		n := t.list.items[i]
		if i == t.cur {
			out = append(out, st.sel.Render(m.nodeRow(v, n, heard(n), true)))
			continue
		}
		r, ok := t.rows[n]
		if h := heard(n); !ok || r.heard != h {
			r = cachedRow{heard: h, line: m.nodeRow(v, n, h, false)}
		}
		seen[n] = r
		out = append(out, r.line)
	}
	t.rows, t.spare = seen, t.rows // keep only what is on screen
	if len(t.list.items) == 0 {
		out = append(out, "", st.dim.Render("  no nodes match"))
	}
	if side {
		return sideBySide(out, tableW, st.dim.Render("│"), detail, h)
	}
	return append(padLines(out, tableH), detail...)
}

// arrow shows a sort direction.
func arrow(desc bool) string {
	if desc {
		return "▼"
	}
	return "▲"
}

func (m *Model) nodeHeading() string {
	var b strings.Builder
	b.WriteString(" ")
	for _, s := range m.nodes.layout {
		name := s.col.String()
		if m.nodes.picking {
			// The sort picker numbers the columns (the hint spells the names).
			name = ansi.Truncate(fmt.Sprintf("%d %s", colIndex(m.nodes.layout, s.col)+1, name), s.w, "")
		}
		if s.col == m.nodes.list.sortBy {
			// The arrow stays when the column is narrow: the name gives way.
			name = ansi.Truncate(name, s.w-1, "") + arrow(m.nodes.list.desc)
		}
		b.WriteByte(' ')
		if s.right {
			b.WriteString(right(name, s.w))
		} else {
			b.WriteString(fit(name, s.w))
		}
	}
	return b.String()
}

// nodeRow renders one node. A selected row is plain text (the caller
// reverses it); others get colored badges.
func (m *Model) nodeRow(v *radio.View, n *meshtastic.Node, heard string, selected bool) string {
	var b strings.Builder
	if selected {
		b.WriteString(">")
	} else {
		b.WriteString(" ")
	}
	self := n.Num == v.MyNodeNum
	for _, s := range m.nodes.layout {
		b.WriteByte(' ')
		var cell string
		switch s.col {
		case colShort:
			cell = clean(n.ShortName)
			if cell == "" {
				cell = n.ID()[5:] // as the firmware names a node it knows nothing of
			}
		case colLong:
			cell = clean(n.LongName)
			if cell == "" && n.ShortName == "" {
				cell = "unknown (no node info yet)"
			}
		case colID:
			cell = n.ID()
		case colHops:
			cell = "-"
			if n.HopsAway != nil {
				cell = fmt.Sprint(*n.HopsAway)
			}
			if self {
				cell = ""
			}
		case colSNR:
			cell = fmt.Sprintf("%.1f", n.SNR)
			if self {
				cell = ""
			}
		case colRSSI:
			cell = "-"
			if n.RSSI != 0 {
				cell = fmt.Sprint(n.RSSI)
			}
			if self {
				cell = ""
			}
		case colBattery:
			cell = format.Power(n.BatteryLevel)
		case colHeard:
			cell = heard
		case colVia:
			switch {
			case self && !selected:
				cell = m.st.self
			case self:
				cell = "self"
			case n.ViaMQTT && !selected:
				cell = m.st.mqtt
			case n.ViaMQTT:
				cell = "MQTT"
			case !selected:
				cell = m.st.rf
			default:
				cell = "RF"
			}
		case colHW:
			cell = hardware(n)
		case colRole:
			cell = n.Role.String()
		}
		if s.right {
			cell = right(cell, s.w)
		} else {
			cell = fit(cell, s.w)
		}
		// Signal and battery graded by colour (the number stays).
		switch {
		case selected || self:
		case s.col == colSNR:
			cell = m.st.snrGrade(n.SNR).Render(cell)
		case s.col == colBattery && n.BatteryLevel != nil:
			cell = m.st.batteryGrade(*n.BatteryLevel).Render(cell)
		}
		b.WriteString(cell)
	}
	line := b.String()
	if selected {
		return fit(line, m.nodes.layoutW)
	}
	return line
}

// colIndex is c's place in the layout.
func colIndex(layout []colSpec, c column) int {
	for i, s := range layout {
		if s.col == c {
			return i
		}
	}
	return 0
}

// hardware names a node's hardware, "unknown" before its node info came.
func hardware(n *meshtastic.Node) string {
	if n.HWModel == 0 {
		return "unknown"
	}
	return n.HWModel.String()
}
