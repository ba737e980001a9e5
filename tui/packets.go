package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// packetsTab shows this session's own packet log: what it heard since it
// bound the radio, held by the session record (the link logs each packet
// there). The tab keeps only a window onto it.
type packetsTab struct {
	arrived   uint64 // packet events seen, for "N new" while paused
	paused    bool
	pausedAt  uint64
	following bool // the newest packet is selected and new ones scroll in
	stale     bool // the snapshot must be taken again
	snap      []sessions.LoggedPacket
	hidden    int // packets of the log the user's own filters hide
	cur, top  int
	filters   sessions.Filters
	portIdx   int
	search    textinput.Model
	searching bool
	inspect   bool
	inspTop   int
	rows      map[*pb.MeshPacket]string
	rowsW     int
}

// portCycle is what the port filter key steps through.
func portCycle() []pb.PortNum {
	return []pb.PortNum{pb.PortNum_TEXT_MESSAGE_APP, pb.PortNum_POSITION_APP, pb.PortNum_NODEINFO_APP,
		pb.PortNum_TELEMETRY_APP, pb.PortNum_ROUTING_APP, pb.PortNum_TRACEROUTE_APP,
		pb.PortNum_NEIGHBORINFO_APP, pb.PortNum_ADMIN_APP}
}

func (p *packetsTab) init(rec Session) {
	p.search = newInput("/", 40)
	p.reset(rec)
}

// reset starts over for a new radio; the session record kept the filters
// (or, on a new radio, dropped them).
func (p *packetsTab) reset(rec Session) {
	search := p.search
	*p = packetsTab{search: search, following: true, stale: true}
	p.search.Reset()
	p.search.Blur()
	if rec != nil {
		p.filters = rec.Filters()
		if len(p.filters.Ports) == 1 {
			p.portIdx = slices.Index(portCycle(), p.filters.Ports[0]) + 1
		}
	}
}

func (p *packetsTab) setFilters(f sessions.Filters, rec Session) {
	p.filters = f
	rec.SetFilters(f)
	p.stale = true
}

func (p *packetsTab) setSearch(s string, rec Session) {
	f := p.filters.Clone()
	f.Search = strings.TrimSpace(s)
	p.setFilters(f, rec)
}

// refresh takes a new snapshot of the log when it is due. Following the
// newest packets with no filter reads only the lines that fit the screen.
func (m *Model) refreshPackets(rows int) {
	p := &m.pkts
	live := p.following && !p.paused
	if !live && !p.stale {
		return
	}
	p.stale = false
	var snap []sessions.LoggedPacket
	p.hidden = 0
	if p.filters.IsZero() && p.following && m.pf.all.Len() == 0 {
		snap = m.rec.LastPackets(rows)
	} else {
		for _, lp := range m.rec.Packets() {
			if !m.packetAllowed(lp.Packet) {
				p.hidden++
				continue
			}
			if m.packetMatches(lp) {
				snap = append(snap, lp)
			}
		}
	}
	p.snap = snap
	if p.following || p.cur >= len(snap) {
		p.cur = len(snap) - 1
	}
	p.cur = max(0, p.cur)
}

func (m *Model) packetMatches(lp sessions.LoggedPacket) bool {
	f := &m.pkts.filters
	if !f.Match(lp.Packet) {
		return false
	}
	if f.Search == "" {
		return true
	}
	line := ansi.Strip(m.packetRow(lp, false))
	return strings.Contains(strings.ToLower(line), strings.ToLower(f.Search))
}

func (p *packetsTab) selected() *sessions.LoggedPacket {
	if p.cur >= 0 && p.cur < len(p.snap) {
		return &p.snap[p.cur]
	}
	return nil
}

func (m *Model) packetsKey(msg tea.KeyPressMsg) tea.Cmd {
	k, p := m.keys, &m.pkts
	m.dirty |= dBody
	if p.inspect {
		switch {
		case key.Matches(msg, k.back, k.inspect):
			p.inspect = false
		case key.Matches(msg, k.up):
			p.inspTop = max(0, p.inspTop-1)
		case key.Matches(msg, k.down):
			p.inspTop++
		case key.Matches(msg, k.pgUp):
			p.inspTop = max(0, p.inspTop-10)
		case key.Matches(msg, k.pgDown):
			p.inspTop += 10
		case key.Matches(msg, k.home):
			p.inspTop = 0
		case key.Matches(msg, k.end):
			p.inspTop = 1 << 30 // the view keeps it in range
		}
		return nil
	}
	rows := max(1, m.h-5)
	switch {
	case key.Matches(msg, k.up):
		m.movePackets(-1)
	case key.Matches(msg, k.down):
		m.movePackets(1)
	case key.Matches(msg, k.pgUp):
		m.movePackets(-rows)
	case key.Matches(msg, k.pgDown):
		m.movePackets(rows)
	case key.Matches(msg, k.home):
		m.movePackets(-1 << 30)
	case key.Matches(msg, k.end):
		p.following, p.stale = true, true
	case key.Matches(msg, k.pause):
		p.paused = !p.paused
		p.pausedAt = p.arrived
		p.stale = true
		m.dirty |= dStatus
	case key.Matches(msg, k.inspect):
		if p.selected() != nil {
			p.inspect, p.inspTop = true, 0
		}
	case key.Matches(msg, k.portFilter):
		cycle := portCycle()
		p.portIdx = (p.portIdx + 1) % (len(cycle) + 1)
		f := p.filters.Clone()
		f.Ports = nil
		if p.portIdx > 0 {
			f.Ports = []pb.PortNum{cycle[p.portIdx-1]}
		}
		p.setFilters(f, m.rec)
	case key.Matches(msg, k.nodeFilter):
		f := p.filters.Clone()
		if len(f.Nodes) > 0 {
			f.Nodes = nil
		} else if lp := p.selected(); lp != nil {
			f.Nodes = []uint32{lp.Packet.GetFrom()}
		}
		p.setFilters(f, m.rec)
	case key.Matches(msg, k.search):
		p.searching = true
		p.search.SetValue(p.filters.Search)
		p.search.CursorEnd()
		m.dirty |= dStatus
		return p.search.Focus()
	case key.Matches(msg, k.clearFilter):
		p.portIdx = 0
		p.setFilters(sessions.Filters{}, m.rec)
	case key.Matches(msg, k.back):
		m.clearNotice()
	}
	return nil
}

// movePackets moves the selection. Leaving the live end freezes the
// whole (filtered) log so it can be read; reaching the end again follows
// new packets.
func (m *Model) movePackets(n int) {
	p := &m.pkts
	if p.following {
		if n >= 0 {
			return
		}
		p.following, p.stale = false, true
		m.refreshPackets(0)
		p.cur = len(p.snap) - 1
	}
	p.cur = max(0, min(p.cur+n, len(p.snap)-1))
	if n > 0 && p.cur >= len(p.snap)-1 {
		p.following, p.stale = true, true
	}
}

func (m *Model) packetsSearchKey(msg tea.KeyPressMsg) tea.Cmd {
	p := &m.pkts
	switch msg.String() {
	case "enter":
		p.searching = false
		p.search.Blur()
		m.dirty |= dBody | dStatus
		return nil
	case "esc":
		p.searching = false
		p.search.Blur()
		p.setSearch("", m.rec)
		m.dirty |= dBody | dStatus
		return nil
	}
	var cmd tea.Cmd
	p.search, cmd = p.search.Update(msg)
	m.afterEdit()
	return cmd
}

// Column widths of the packet log.
const (
	pktTimeW = 8
	pktNodeW = 5
	pktPortW = 12
	pktSigW  = 11
	pktHopsW = 2
	pktViaW  = 4
)

// packetRow renders one packet as a line of the log.
func (m *Model) packetRow(lp sessions.LoggedPacket, selected bool) string {
	v := m.view()
	pk := lp.Packet
	w := m.pkts.rowsW
	sumW := max(8, w-2-pktTimeW-2*pktNodeW-pktPortW-pktSigW-pktHopsW-pktViaW-8)
	sig := ""
	if pk.GetRxSnr() != 0 || pk.GetRxRssi() != 0 {
		sig = fmt.Sprintf("%.1f/%d", pk.GetRxSnr(), pk.GetRxRssi())
	}
	hops := "-"
	if h, ok := meshtastic.HopsOf(pk); ok {
		hops = fmt.Sprint(h)
	}
	via := "RF"
	summary := clean(radio.Summary(pk))
	switch {
	case lp.Outgoing:
		// Our own transmissions, told apart from what the radio heard.
		via, hops, summary = "sent", "-", "→ "+summary
	case radio.ViaMQTT(pk):
		via = "MQTT"
	case pk.GetFrom() == v.MyNodeNum:
		via = "self"
	}
	mark := " "
	if selected {
		mark = ">"
	}
	line := mark + " " + fit(clock(lp.At, m.now(), m.loc), pktTimeW) + " " + fit(shortName(v, pk.GetFrom()), pktNodeW) + " " +
		fit(shortName(v, pk.GetTo()), pktNodeW) + " " + fit(radio.PortName(pk), pktPortW) + " " +
		fit(summary, sumW) + " " + right(sig, pktSigW) + " " + right(hops, pktHopsW) + " " + fit(via, pktViaW)
	return cut(line, w) // narrow windows lose the right-hand columns
}

func (m *Model) packetsView(w, h int) []string {
	p, st := &m.pkts, m.st
	if w != p.rowsW {
		p.rowsW, p.rows = w, nil
	}
	if p.inspect {
		if lp := p.selected(); lp != nil {
			return m.inspectView(*lp, w, h)
		}
		p.inspect = false
	}
	rows := h - 2
	m.refreshPackets(rows)
	var state []string
	if p.paused {
		state = append(state, st.warn.Render(fmt.Sprintf("paused · %d new", p.arrived-p.pausedAt)))
	} else if !p.following {
		state = append(state, st.warn.Render("scrolled back (end to follow)"))
	}
	if len(p.filters.Ports) > 0 {
		state = append(state, "port "+strings.TrimSuffix(p.filters.Ports[0].String(), "_APP"))
	}
	if len(p.filters.Nodes) > 0 {
		state = append(state, "node "+shortName(m.view(), p.filters.Nodes[0]))
	}
	if p.filters.Search != "" {
		state = append(state, "search "+clean(p.filters.Search))
	}
	info := fmt.Sprintf(" this session's log: %d packets since bound", m.rec.PacketsSeen()) + hiddenNote(p.hidden)
	if len(state) > 0 {
		info += " · " + strings.Join(state, " · ")
	}
	out := []string{st.dim.Render(cut(info, w))}
	if p.searching {
		out[0] = cut(" "+p.search.View(), w)
	}
	sumW := max(8, w-2-pktTimeW-2*pktNodeW-pktPortW-pktSigW-pktHopsW-pktViaW-8)
	head := "  " + fit("TIME", pktTimeW) + " " + fit("FROM", pktNodeW) + " " + fit("TO", pktNodeW) + " " +
		fit("PORT", pktPortW) + " " + fit("SUMMARY", sumW) + " " + right("SNR/RSSI", pktSigW) + " " +
		right("H", pktHopsW) + " " + fit("VIA", pktViaW)
	out = append(out, st.colHead.Render(fit(head, w)))
	p.top = scrollWindow(p.top, p.cur, rows, len(p.snap))
	if p.following {
		p.top = max(0, len(p.snap)-rows)
	}
	seen := make(map[*pb.MeshPacket]string, rows)
	for i := p.top; i < len(p.snap) && i < p.top+rows; i++ {
		lp := p.snap[i]
		if i == p.cur {
			out = append(out, st.sel.Render(fit(m.packetRow(lp, true), w)))
			continue
		}
		line, ok := p.rows[lp.Packet]
		if !ok {
			line = m.packetRow(lp, false)
		}
		seen[lp.Packet] = line
		out = append(out, line)
	}
	p.rows = seen
	if len(p.snap) == 0 {
		out = append(out, "", st.dim.Render("  no packets yet"))
	}
	return out
}

// inspectView shows every decoded field of one packet.
func (m *Model) inspectView(lp sessions.LoggedPacket, w, h int) []string {
	st := m.st
	v := m.view()
	pk := lp.Packet
	body := []string{
		st.title.Render(fmt.Sprintf(" packet %#08x", pk.GetId())) + st.dim.Render(" · "+stamp(lp.At, m.loc)+" · esc closes"),
		fmt.Sprintf(" from %s (%s) to %s (%s) · %s", longName(v, pk.GetFrom()), meshtastic.NodeID(pk.GetFrom()),
			longName(v, pk.GetTo()), meshtastic.NodeID(pk.GetTo()), radio.PortName(pk)),
		" " + clean(radio.Summary(pk)),
		"",
		st.bold.Render(" MeshPacket"),
	}
	if lp.Outgoing {
		body[2] = " sent by this gateway · " + clean(radio.Summary(pk))
	}
	kv := func(fs []field) {
		nw := 0
		for _, f := range fs {
			nw = max(nw, len(f.name))
		}
		nw = min(nw, 36)
		for _, f := range fs {
			body = append(body, "  "+st.dim.Render(fit(f.name, nw))+"  "+f.value)
		}
	}
	// Node numbers in the fields are named when the radio knows them.
	name := func(num uint32) string {
		if v == nil {
			return ""
		}
		if n, ok := v.Nodes[num]; ok && (n.LongName != "" || n.ShortName != "") {
			return n.Name()
		}
		return ""
	}
	kv(fields(pk, name))
	if d := pk.GetDecoded(); d != nil {
		if pl := payloadOf(d); pl != nil {
			body = append(body, "", st.bold.Render(" "+radio.PortName(pk)+" payload ("+string(pl.ProtoReflect().Descriptor().Name())+")"))
			kv(fields(pl, name))
		} else if d.GetPortnum() == pb.PortNum_TEXT_MESSAGE_APP {
			body = append(body, "", st.bold.Render(" text"), "  "+clean(string(d.GetPayload())))
		}
	}
	out := m.scrolled(body, &m.pkts.inspTop, h) // a long packet says that it scrolls
	for i := range out {
		out[i] = cut(out[i], w)
	}
	return out
}

// The Packets tab as a pane.

func (p *packetsTab) name() string { return "Packets" }

func (p *packetsTab) help(k *keys) []paneKey {
	return keysOf(k.up, k.down, k.pgUp, k.pgDown, k.home, k.end, k.pause, k.inspect, k.portFilter, k.nodeFilter, k.search, k.clearFilter)
}

func (p *packetsTab) hints(m *Model) string {
	switch {
	case p.searching:
		return "type to search · enter keep · esc clear"
	case p.inspect:
		return "↑↓ scroll · enter or esc close · ? help"
	}
	return "space pause · enter inspect · o port · n node · / search · x clear · ? help"
}

func (p *packetsTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if p.searching {
		return m.packetsSearchKey(msg)
	}
	return m.packetsKey(msg)
}

func (p *packetsTab) view(m *Model, w, h int) []string { return m.packetsView(w, h) }

func (p *packetsTab) typing() bool                { return p.searching }
func (p *packetsTab) textField() *textinput.Model { return &p.search }
func (p *packetsTab) edited(m *Model)             { p.setSearch(p.search.Value(), m.rec) }

func (p *packetsTab) scroll(m *Model, n int) tea.Cmd {
	m.movePackets(n)
	return nil
}

func (p *packetsTab) shown(*Model) tea.Cmd {
	p.stale = true
	return nil
}
