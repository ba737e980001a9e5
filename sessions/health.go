package sessions

import (
	"maps"
	"slices"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// MQTTHealth says how much of what a session sees arrives over the air and
// how much through an MQTT broker, counted since the session bound its
// radio. A mesh that looks busy may be mostly MQTT-bridged traffic from
// far away; these numbers tell the two apart.
//
// It is a snapshot: Session.MQTTHealth returns a copy the caller owns.
type MQTTHealth struct {
	// Since is when counting starts: the oldest packet recalled from the
	// radio's recent history (see Session.Recall), or the bind.
	Since time.Time
	RF    uint64 // packets heard over the air
	MQTT  uint64 // packets that passed through an MQTT broker
	// Local counts packets that came neither way: from the radio itself
	// (from == 0), from an API client, or over UDP. They stay out of the
	// ratio.
	Local    uint64
	LastRF   time.Time // zero if none yet
	LastMQTT time.Time // zero if none yet

	nodes map[uint32]heardVia // senders and how they reached us; nil until the first
}

// heardVia records the paths a node's packets took to us.
type heardVia uint8

const (
	heardRF heardVia = 1 << iota
	heardMQTT
)

// path is how one packet reached the radio.
type path uint8

const (
	pathLocal path = iota
	pathRF
	pathMQTT
)

// pathOf classifies a packet. via_mqtt covers packets bridged by some other
// node and then relayed to us over the air; transport_mechanism MQTT covers
// our own radio's MQTT downlink. Firmware that predates transport_mechanism
// leaves it at INTERNAL (0) for LoRa packets too, so INTERNAL from another
// node counts as RF.
func pathOf(p *pb.MeshPacket) path {
	if p.GetViaMqtt() || p.GetTransportMechanism() == pb.MeshPacket_TRANSPORT_MQTT {
		return pathMQTT
	}
	if p.GetFrom() == 0 {
		return pathLocal
	}
	switch p.GetTransportMechanism() {
	case pb.MeshPacket_TRANSPORT_API, pb.MeshPacket_TRANSPORT_MULTICAST_UDP, pb.MeshPacket_TRANSPORT_UNICAST_UDP:
		return pathLocal
	}
	return pathRF
}

// observe counts one packet received at at.
func (h *MQTTHealth) observe(p *pb.MeshPacket, at time.Time) {
	switch pathOf(p) {
	case pathRF:
		h.RF++
		if at.After(h.LastRF) {
			h.LastRF = at
		}
		h.mark(p.GetFrom(), heardRF)
	case pathMQTT:
		h.MQTT++
		if at.After(h.LastMQTT) {
			h.LastMQTT = at
		}
		h.mark(p.GetFrom(), heardMQTT)
	default:
		h.Local++
	}
}

func (h *MQTTHealth) mark(node uint32, via heardVia) {
	if h.nodes == nil {
		h.nodes = make(map[uint32]heardVia)
	}
	// Read before writing: a map store on every packet would dirty the
	// entry for nothing in the common case of a node already seen this way.
	if old := h.nodes[node]; old&via == 0 {
		h.nodes[node] = old | via
	}
}

// clone returns a copy sharing nothing with h.
func (h *MQTTHealth) clone() MQTTHealth {
	c := *h
	c.nodes = maps.Clone(h.nodes)
	return c
}

// Total is the number of packets heard over the air or through MQTT.
func (h MQTTHealth) Total() uint64 { return h.RF + h.MQTT }

// RFShare is the fraction of RF packets among RF and MQTT ones, 0..1; 0
// when nothing has been heard yet (check Total to tell the cases apart).
func (h MQTTHealth) RFShare() float64 {
	if h.Total() == 0 {
		return 0
	}
	return float64(h.RF) / float64(h.Total())
}

// HeardVia reports whether node has been heard over the air and through
// MQTT since the session bound.
func (h MQTTHealth) HeardVia(node uint32) (rf, mqtt bool) {
	v := h.nodes[node]
	return v&heardRF != 0, v&heardMQTT != 0
}

// MQTTOnlyNodes lists, sorted, the nodes heard only through MQTT so far:
// as far as this session knows, they are not reachable over the air.
func (h MQTTHealth) MQTTOnlyNodes() []uint32 {
	return h.nodesWhere(func(v heardVia) bool { return v == heardMQTT })
}

// RFNodes lists, sorted, the nodes heard over the air at least once.
func (h MQTTHealth) RFNodes() []uint32 {
	return h.nodesWhere(func(v heardVia) bool { return v&heardRF != 0 })
}

func (h MQTTHealth) nodesWhere(keep func(heardVia) bool) []uint32 {
	var out []uint32
	for n, v := range h.nodes {
		if keep(v) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
