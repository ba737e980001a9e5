package tui

import (
	"context"
	"errors"
	"time"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// storeTimeout bounds one load of the Rules tab's lists.
const storeTimeout = 5 * time.Second

// personal is what the session keeps from the core's rules, filters and
// beacon: the user's own filters for the bound radio, compiled, and the
// Rules tab's lists. They are loaded again only when the core's revision
// or the radio changes, which View notices at no cost (an atomic load),
// so nothing polls.
type personal struct {
	loaded bool
	rev    uint64
	radio  string
	noDB   bool   // the gateway keeps no rules, filters or beacons
	err    string // the last load failed: why

	all     *filter.Set     // every personal filter: chat and packets
	nodes   *filter.Set     // the node filters only: the node list
	filters []filter.Filter // the user's and the radio-wide filters, for the Rules tab
	rules   []backend.Rule
	beacon  *backend.Beacon

	// nodesHidden counts the nodes the node filters hide in hiddenOf.
	nodesHidden int
	hiddenOf    *radio.View
	hiddenSet   *filter.Set
}

// storeStale reports whether the rules, filters or beacon changed since
// the last load.
func (m *Model) storeStale() bool {
	if m.core == nil || m.radio == nil {
		return false
	}
	return !m.pf.loaded || m.pf.rev != m.core.Revision() || m.pf.radio != m.name
}

// syncStore loads the filters, rules and beacon from the core again if
// they changed, and makes the views that apply the filters start over. It
// reports whether anything was loaded.
func (m *Model) syncStore() bool {
	if !m.storeStale() {
		return false
	}
	p := &m.pf
	p.loaded, p.rev, p.radio, p.err, p.noDB = true, m.core.Revision(), m.name, "", false
	ctx, cancel := context.WithTimeout(m.ctx, storeTimeout)
	defer cancel()
	fail := func(what string, err error) {
		switch {
		case errors.Is(err, backend.ErrUnavailable):
			p.noDB = true
		case err != nil && p.err == "":
			p.err = "loading " + what + ": " + err.Error()
		}
	}
	rules, err := m.core.Rules(ctx, m.caller, m.name)
	fail("responders", err)
	fs, err := m.core.Filters(ctx, m.caller)
	fail("filters", err)
	bs, err := m.core.Beacon(ctx, m.caller, m.name)
	fail("the beacon", err)
	p.rules, p.beacon = rules, bs.Beacon
	p.filters = make([]filter.Filter, 0, len(fs))
	for _, f := range fs {
		p.filters = append(p.filters, filterOf(f))
	}
	// The node list is filtered by node alone: a port or channel filter
	// must not hide nodes.
	var nodes []filter.Filter
	for _, f := range filter.Personal(p.filters, m.name, m.id.Fingerprint) {
		if f.Kind == filter.KindNode {
			nodes = append(nodes, f)
		}
	}
	oldAll, oldNodes := p.all.String(), p.nodes.String()
	p.all = m.core.PersonalFilters(ctx, m.caller, m.name)
	p.nodes, _ = filter.NewSet(nodes) // an invalid filter is left out, never hides anything
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

// filterOf is a filter as the core describes it, in the filter package's
// terms, for the views that apply and describe filters.
func filterOf(f backend.Filter) filter.Filter {
	out := filter.Filter{ID: f.ID, Owner: f.Owner, OwnerName: f.OwnerName, Radio: f.Radio, Value: f.Value, Enabled: f.Enabled}
	out.Scope, _ = filter.ParseScope(f.Scope)
	out.Mode, _ = filter.ParseMode(f.Mode)
	out.Kind, _ = filter.ParseKind(f.Kind)
	return out
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
