package tui

import (
	"context"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/responder"
)

// storeTimeout bounds one database call made for the UI.
const storeTimeout = 5 * time.Second

// personal is what the session keeps from the database: the user's own
// filters for the bound radio, compiled, and the Rules tab's lists. It is
// loaded again only when the store's revision or the radio changes, which
// View notices at no cost (an atomic load), so nothing polls.
type personal struct {
	loaded bool
	rev    uint64
	radio  string
	err    string // the last load failed: why

	all     *filter.Set     // every personal filter: chat and packets
	nodes   *filter.Set     // the node filters only: the node list
	filters []filter.Filter // every filter, for the Rules tab
	rules   []responder.Rule
	beacon  *responder.Beacon

	// nodesHidden counts the nodes the node filters hide in hiddenOf.
	nodesHidden int
	hiddenOf    *radio.View
	hiddenSet   *filter.Set
}

// stale reports whether the database changed since the last load.
func (m *Model) storeStale() bool {
	st := m.cfg.Store
	if st == nil || m.radio == nil {
		return false
	}
	return !m.pf.loaded || m.pf.rev != st.Revision() || m.pf.radio != m.name
}

// syncStore loads the filters, rules and beacon again if they changed,
// and makes the views that apply the filters start over. It reports
// whether anything was loaded.
func (m *Model) syncStore() bool {
	if !m.storeStale() {
		return false
	}
	st := m.cfg.Store
	p := &m.pf
	p.loaded, p.rev, p.radio, p.err = true, st.Revision(), m.name, ""
	ctx, cancel := context.WithTimeout(m.ctx, storeTimeout)
	defer cancel()
	all, err := st.Filters(ctx)
	if err != nil {
		p.err = "loading filters: " + err.Error()
	}
	rules, err := st.Rules(ctx, m.name)
	if err != nil && p.err == "" {
		p.err = "loading rules: " + err.Error()
	}
	p.beacon = nil
	if b, err := st.Beacon(ctx, m.name); err == nil {
		p.beacon = &b
	}
	p.filters, p.rules = all, rules
	mine := filter.Personal(all, m.name, m.id.Fingerprint)
	var nodes []filter.Filter
	for _, f := range mine {
		if f.Kind == filter.KindNode {
			nodes = append(nodes, f)
		}
	}
	oldAll, oldNodes := p.all.String(), p.nodes.String()
	p.all, _ = filter.NewSet(mine) // an invalid filter is left out, never hides anything
	p.nodes, _ = filter.NewSet(nodes)
	if p.nodes.String() != oldNodes {
		m.nodes.list.full = true
		m.nodes.rows = nil
		p.hiddenOf = nil
	}
	if p.all.String() != oldAll {
		m.pkts.stale = true
		m.pkts.rows = nil
		m.reloadChat()
	}
	m.rules.clamp(m)
	return true
}

// reloadChat files the broker's messages again through the filters,
// keeping the conversation on screen.
func (m *Model) reloadChat() {
	if m.radio == nil {
		return
	}
	cur := m.chat.cur
	m.chat.reset()
	m.chat.allow = m.msgAllowed
	m.chat.load(m.radio, m.view().MyNodeNum)
	m.chat.cur = cur
}

// msgAllowed reports whether the user's filters let a message through.
// The user's own messages always show.
func (m *Model) msgAllowed(msg *radio.Message) bool {
	if msg.Outgoing || m.pf.all.Len() == 0 {
		return true
	}
	ok, _ := m.pf.all.AllowsMessage(msg.From, msg.To, msg.Channel, msg.Text)
	return ok
}

// nodeHidden reports whether the node filters hide a node. Our own node
// always shows.
func (m *Model) nodeHidden(v *radio.View, n *meshtastic.Node) bool {
	if m.pf.nodes.Len() == 0 || n.Num == v.MyNodeNum {
		return false
	}
	ok, _ := m.pf.nodes.Allows(&pb.MeshPacket{From: n.Num, To: n.Num}, "")
	return !ok
}

// hiddenNodes counts the nodes of v the node filters hide.
func (m *Model) hiddenNodes(v *radio.View) int {
	p := &m.pf
	if p.nodes.Len() == 0 {
		return 0
	}
	if p.hiddenOf != v || p.hiddenSet != p.nodes {
		p.nodesHidden = 0
		for _, n := range v.Nodes {
			if m.nodeHidden(v, n) {
				p.nodesHidden++
			}
		}
		p.hiddenOf, p.hiddenSet = v, p.nodes
	}
	return p.nodesHidden
}

// packetAllowed applies the user's filters to a logged packet.
func (m *Model) packetAllowed(p *pb.MeshPacket) bool {
	if m.pf.all.Len() == 0 {
		return true
	}
	ok, _ := m.pf.all.AllowsPacket(p)
	return ok
}

func hiddenNote(n int) string {
	if n == 0 {
		return ""
	}
	return " · " + itoa(n) + " hidden by your filters"
}
