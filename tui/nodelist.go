package tui

import (
	"cmp"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

// nodeFilter is the Nodes tab's filter, as in the original dashboard.
type nodeFilter int

const (
	filterAll    nodeFilter = iota
	filterRF                // heard over the air
	filterMQTT              // heard through an MQTT broker
	filterNearby            // at most two hops away, over the air
	filterCount
)

func (f nodeFilter) String() string {
	switch f {
	case filterRF:
		return "RF only"
	case filterMQTT:
		return "MQTT only"
	case filterNearby:
		return "nearby (≤2 hops)"
	}
	return "all"
}

// column is a sortable column of the node table.
type column int

const (
	colHeard column = iota
	colShort
	colLong
	colID
	colHops
	colSNR
	colRSSI
	colBattery
	colVia
	colHW
	colRole
	colCount
)

func (c column) String() string {
	return [...]string{"HEARD", "SHRT", "NAME", "ID", "HOPS", "SNR", "RSSI", "BAT", "VIA", "HARDWARE", "ROLE"}[c]
}

// nodeList is the filtered, sorted NodeDB the table shows. It holds
// pointers into the radio's shared View and is kept up to date
// incrementally: a node event moves one entry instead of sorting a
// thousand again in every session.
type nodeList struct {
	filter nodeFilter
	sortBy column
	desc   bool
	query  string // lower case

	items   []*meshtastic.Node
	base    *radio.View         // the view items were last synced with
	changed map[uint32]struct{} // nodes with events since
	full    bool                // sync from scratch next time
	// hide, when set, leaves out the nodes the user's own filters hide.
	hide func(v *radio.View, n *meshtastic.Node) bool
}

func (l *nodeList) init() {
	l.changed = map[uint32]struct{}{}
	l.desc = true // newest first
	l.full = true
}

// touched notes a node event; the change is applied at the next sync.
func (l *nodeList) touched(num uint32) {
	if l.full {
		return
	}
	l.changed[num] = struct{}{}
	if len(l.changed) > 256 { // cheaper to start over
		l.full = true
		clear(l.changed)
	}
}

// sync brings items up to date with v. Node data always comes from v, so
// an event that arrives after its change was already synced does no harm.
func (l *nodeList) sync(v *radio.View) bool {
	if v == l.base && len(l.changed) == 0 && !l.full {
		return false
	}
	if l.full || l.base == nil || v.Version < l.base.Version || v.MyNodeNum != l.base.MyNodeNum {
		l.rebuild(v)
		return true
	}
	for num := range l.changed {
		l.upsert(v, num)
	}
	clear(l.changed)
	l.base = v
	return true
}

func (l *nodeList) rebuild(v *radio.View) {
	l.items = l.items[:0]
	for _, n := range v.Nodes {
		if l.match(v, n) {
			l.items = append(l.items, n)
		}
	}
	slices.SortFunc(l.items, func(a, b *meshtastic.Node) int { return l.compare(v, a, b) })
	l.base, l.full = v, false
	clear(l.changed)
}

func (l *nodeList) upsert(v *radio.View, num uint32) {
	if i := slices.IndexFunc(l.items, func(n *meshtastic.Node) bool { return n.Num == num }); i >= 0 {
		l.items = slices.Delete(l.items, i, i+1)
	}
	n := v.Nodes[num]
	if n == nil || !l.match(v, n) {
		return
	}
	i, _ := slices.BinarySearchFunc(l.items, n, func(a, b *meshtastic.Node) int { return l.compare(v, a, b) })
	l.items = slices.Insert(l.items, i, n)
}

// match applies the filter and the search.
func (l *nodeList) match(v *radio.View, n *meshtastic.Node) bool {
	self := n.Num == v.MyNodeNum
	if l.hide != nil && l.hide(v, n) {
		return false
	}
	switch l.filter {
	case filterRF:
		if self || n.ViaMQTT {
			return false
		}
	case filterMQTT:
		if self || !n.ViaMQTT {
			return false
		}
	case filterNearby:
		if self || n.ViaMQTT || n.HopsAway == nil || *n.HopsAway > 2 {
			return false
		}
	}
	if l.query == "" {
		return true
	}
	return strings.Contains(strings.ToLower(n.LongName), l.query) ||
		strings.Contains(strings.ToLower(n.ShortName), l.query) ||
		strings.Contains(n.ID(), l.query)
}

// compare orders two nodes by the sort column; our own node always
// comes first, and ties go by node number so the order is stable.
func (l *nodeList) compare(v *radio.View, a, b *meshtastic.Node) int {
	if a.Num == b.Num {
		return 0
	}
	switch v.MyNodeNum {
	case a.Num:
		return -1
	case b.Num:
		return 1
	}
	c := 0
	switch l.sortBy {
	case colHeard:
		c = a.LastHeard.Compare(b.LastHeard)
	case colShort:
		c = strings.Compare(strings.ToLower(a.ShortName), strings.ToLower(b.ShortName))
	case colLong:
		c = strings.Compare(strings.ToLower(a.LongName), strings.ToLower(b.LongName))
	case colID:
		c = cmp.Compare(a.Num, b.Num)
	case colHops:
		c = cmp.Compare(hopsKey(a), hopsKey(b))
	case colSNR:
		c = cmp.Compare(a.SNR, b.SNR)
	case colRSSI:
		c = cmp.Compare(a.RSSI, b.RSSI)
	case colBattery:
		c = cmp.Compare(batteryKey(a), batteryKey(b))
	case colVia:
		c = cmp.Compare(boolKey(a.ViaMQTT), boolKey(b.ViaMQTT))
	case colHW:
		c = strings.Compare(a.HWModel.String(), b.HWModel.String())
	case colRole:
		c = strings.Compare(a.Role.String(), b.Role.String())
	}
	if l.desc {
		c = -c
	}
	if c == 0 {
		c = cmp.Compare(a.Num, b.Num)
	}
	return c
}

func hopsKey(n *meshtastic.Node) int {
	if n.HopsAway == nil {
		return 1 << 20 // unknown: farther than anything known
	}
	return int(*n.HopsAway)
}

func batteryKey(n *meshtastic.Node) int {
	if n.BatteryLevel == nil {
		return -1
	}
	return int(*n.BatteryLevel)
}

func boolKey(b bool) int {
	if b {
		return 1
	}
	return 0
}
