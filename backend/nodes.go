package backend

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// NodeRef names a node in a list: its id and number.
type NodeRef struct {
	ID  string `json:"id"`
	Num uint32 `json:"num"`
}

func nodeRef(num uint32) NodeRef { return NodeRef{ID: meshtastic.NodeID(num), Num: num} }

// Node is one node of a radio's NodeDB.
type Node struct {
	ID        string `json:"id"`
	Num       uint32 `json:"num"`
	LongName  string `json:"long_name"`
	ShortName string `json:"short_name"`
	HWModel   string `json:"hw_model"`
	Role      string `json:"role"`
	// Self marks the radio's own node.
	Self      bool       `json:"self"`
	LastHeard *time.Time `json:"last_heard"`
	SNR       *float32   `json:"snr"`
	RSSI      *int32     `json:"rssi"`
	HopsAway  *uint32    `json:"hops_away"`
	ViaMQTT   bool       `json:"via_mqtt"`
	// BatteryLevel is 0-100 %; nil when unknown or on external power
	// (then Powered is true: the firmware reports level 101).
	BatteryLevel *uint32  `json:"battery_level"`
	Powered      bool     `json:"powered"`
	Voltage      *float32 `json:"voltage"`
	ChannelUtil  *float32 `json:"channel_utilization"`
	AirUtilTx    *float32 `json:"air_util_tx"`
	Uptime       *uint32  `json:"uptime_seconds"`
	Latitude     *float64 `json:"latitude"`
	Longitude    *float64 `json:"longitude"`
	Altitude     *int32   `json:"altitude"`
	Favorite     bool     `json:"favorite"`
}

// NodeOf converts a NodeDB entry to its documented shape.
func NodeOf(n *meshtastic.Node, self uint32) Node {
	out := Node{ID: n.ID(), Num: n.Num, LongName: n.LongName, ShortName: n.ShortName,
		HWModel: n.HWModel.String(), Role: n.Role.String(), Self: n.Num == self, HopsAway: n.HopsAway,
		ViaMQTT: n.ViaMQTT, Voltage: n.Voltage, ChannelUtil: n.ChannelUtil, AirUtilTx: n.AirUtilTx,
		Uptime: n.Uptime, Latitude: n.Latitude, Longitude: n.Longitude, Altitude: n.Altitude, Favorite: n.Favorite}
	if !n.LastHeard.IsZero() {
		t := n.LastHeard.UTC()
		out.LastHeard = &t
	}
	if n.SNR != 0 {
		s := n.SNR
		out.SNR = &s
	}
	if n.RSSI != 0 {
		r := n.RSSI
		out.RSSI = &r
	}
	if n.BatteryLevel != nil {
		if *n.BatteryLevel > 100 {
			out.Powered = true
		} else {
			l := *n.BatteryLevel
			out.BatteryLevel = &l
		}
	}
	return out
}

// Node filters and sort orders of NodesQuery.
var (
	NodeFilters = []string{"all", "rf", "mqtt", "nearby"}
	NodeSorts   = []string{"heard", "name", "hops", "snr"}
)

// NodesQuery selects and orders a node list.
type NodesQuery struct {
	Radio string
	// Filter: all (default), rf (heard over LoRa), mqtt (heard via MQTT),
	// nearby (at most 2 hops, not MQTT).
	Filter string
	// Sort: heard (default, newest first), name, hops, snr.
	Sort string
	Wait time.Duration
}

// NodeList is a radio's node list as the caller sees it.
type NodeList struct {
	Radio string `json:"radio"`
	Nodes []Node `json:"nodes"`
	// Hidden counts nodes the caller's own filters hide.
	Hidden int `json:"hidden"`
}

// Nodes lists a radio's nodes. Our own node comes first; the caller's
// personal node filters apply.
func (b *Backend) Nodes(ctx context.Context, c Caller, q NodesQuery) (NodeList, error) {
	if err := Allowed(c.Identity, OpNodes, "", ""); err != nil {
		return NodeList{}, err
	}
	keep, err := nodeFilter(cmp.Or(q.Filter, "all"))
	if err != nil {
		return NodeList{}, err
	}
	by := cmp.Or(q.Sort, "heard")
	if !slices.Contains(NodeSorts, by) {
		return NodeList{}, invalid("sort %q: want %s", by, orList(NodeSorts))
	}
	br, err := b.radio(c, q.Radio)
	if err != nil {
		return NodeList{}, err
	}
	release, err := b.connected(ctx, c, br, q.Wait)
	if err != nil {
		return NodeList{}, err
	}
	defer release()
	v := br.View()
	personal := b.personalSet(ctx, c, br.Name(), true)
	list := NodeList{Radio: br.Name(), Nodes: []Node{}}
	var nodes []*meshtastic.Node
	for _, n := range v.Nodes {
		if n.Num != v.MyNodeNum && !keep(n) {
			continue
		}
		if ok, _ := personal.Allows(&pb.MeshPacket{From: n.Num, To: meshtastic.Broadcast}, ""); !ok && n.Num != v.MyNodeNum {
			list.Hidden++
			continue
		}
		nodes = append(nodes, n)
	}
	sortNodes(nodes, by, v.MyNodeNum)
	for _, n := range nodes {
		list.Nodes = append(list.Nodes, NodeOf(n, v.MyNodeNum))
	}
	return list, nil
}

func nodeFilter(name string) (func(*meshtastic.Node) bool, error) {
	switch name {
	case "all":
		return func(*meshtastic.Node) bool { return true }, nil
	case "rf":
		return func(n *meshtastic.Node) bool { return !n.ViaMQTT }, nil
	case "mqtt":
		return func(n *meshtastic.Node) bool { return n.ViaMQTT }, nil
	case "nearby":
		return func(n *meshtastic.Node) bool { return !n.ViaMQTT && n.HopsAway != nil && *n.HopsAway <= 2 }, nil
	}
	return nil, invalid("filter %q: want %s", name, orList(NodeFilters))
}

func sortNodes(nodes []*meshtastic.Node, by string, self uint32) {
	hops := func(n *meshtastic.Node) uint32 {
		if n.HopsAway == nil {
			return 99
		}
		return *n.HopsAway
	}
	slices.SortStableFunc(nodes, func(a, b *meshtastic.Node) int {
		switch {
		case a.Num == self:
			return -1
		case b.Num == self:
			return 1
		}
		switch by {
		case "name":
			return cmp.Or(cmp.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name())), cmp.Compare(a.Num, b.Num))
		case "hops":
			return cmp.Or(cmp.Compare(hops(a), hops(b)), b.LastHeard.Compare(a.LastHeard), cmp.Compare(a.Num, b.Num))
		case "snr":
			return cmp.Or(cmp.Compare(b.SNR, a.SNR), cmp.Compare(a.Num, b.Num))
		}
		return cmp.Or(b.LastHeard.Compare(a.LastHeard), cmp.Compare(a.Num, b.Num))
	})
}

// orList writes "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// ResolveNode finds the node a user means on a radio: "!" and eight hex
// digits, or a unique prefix of a node's short or long name (an exact
// name wins over prefixes; case does not matter). "^all" is the
// broadcast address, which each operation accepts or refuses itself.
func ResolveNode(v *radio.View, s string) (uint32, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return 0, invalid("no node given (want !xxxxxxxx or a node's name)")
	case s == "^all":
		return meshtastic.Broadcast, nil
	case strings.HasPrefix(s, "!"):
		hex := s[1:]
		if len(hex) != 8 {
			return 0, invalid("%q is not a node id: node ids are ! and 8 hex digits (this has %d)", s, len(hex))
		}
		n, err := strconv.ParseUint(hex, 16, 32)
		if err != nil {
			return 0, invalid("%q is not a node id: node ids are ! and 8 hex digits", s)
		}
		return uint32(n), nil
	}
	var exact, prefix []*meshtastic.Node
	low := strings.ToLower(s)
	for _, n := range v.Nodes {
		short, long := strings.ToLower(n.ShortName), strings.ToLower(n.LongName)
		switch {
		case short == low || long == low:
			exact = append(exact, n)
		case (short != "" && strings.HasPrefix(short, low)) || (long != "" && strings.HasPrefix(long, low)):
			prefix = append(prefix, n)
		}
	}
	matches := exact
	if len(matches) == 0 {
		matches = prefix
	}
	switch len(matches) {
	case 1:
		return matches[0].Num, nil
	case 0:
		return 0, notFound("no node matches %q (give !xxxxxxxx or the start of a node's name)", s)
	}
	slices.SortFunc(matches, func(a, b *meshtastic.Node) int { return cmp.Compare(a.Num, b.Num) })
	var names []string
	for i, n := range matches {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(matches)-5))
			break
		}
		names = append(names, n.ID()+" "+n.Name())
	}
	return 0, invalid("%q matches %d nodes: %s", s, len(matches), strings.Join(names, ", "))
}

// nodeLabel is "SHRT !a1b2c3d4" or the id alone, for words a user reads.
func nodeLabel(v *radio.View, num uint32) string {
	if num == meshtastic.Broadcast {
		return "all"
	}
	if n, ok := v.Nodes[num]; ok && n.ShortName != "" {
		return n.ShortName + " " + n.ID()
	}
	return meshtastic.NodeID(num)
}

// personalFilters is the caller's own filter set for a radio (empty
// without a database); keep, when set, narrows it. The set comes from the
// store's filters compiled once per change (see filterCache): a view
// compiles nothing.
func (b *Backend) personalFilters(ctx context.Context, c Caller, radioName string, keep func(filter.Filter) bool) *filter.Set {
	if keep == nil {
		return b.personalSet(ctx, c, radioName, false)
	}
	if b.store == nil {
		return &filter.Set{}
	}
	b.personalSet(ctx, c, radioName, false) // brings the compiled filters up to date
	fc := b.filters()
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.index.Personal(radioName, c.Fingerprint, keep)
}

// PersonalFilters is the caller's own filter set for a radio, for a front
// end that filters a live stream itself.
func (b *Backend) PersonalFilters(ctx context.Context, c Caller, radioName string) *filter.Set {
	return b.personalFilters(ctx, c, radioName, nil)
}
