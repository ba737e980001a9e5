package sim

import (
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Traceroute list values the firmware uses for what it could not learn.
const (
	unknownHop = 0xFFFFFFFF
	unknownSNR = -128
	routeMax   = 8 // RouteDiscovery lists hold at most 8 entries
)

// relay is one node that handles a packet between its origin and its
// destination.
type relay struct {
	num   uint32
	snr   float32 // dB at which it heard the previous transmission
	marks bool    // decodes the packet and adds itself to the lists
}

// traverse carries a traceroute payload across relays to its destination,
// filling the lists exactly as each firmware on the way does (see
// TraceRouteModule): every node that decodes the packet first pads the
// route with unknown hops up to the hop count the header shows
// (hop_start - hop_limit) and the SNR list with unknown SNRs up to the
// route's length, then appends its receive SNR (dB×4), and, unless it is
// the destination, its own number. A relay that does not decode still
// spends a hop, which is how unknown hops appear. It returns the hop limit
// left when the packet arrives.
func traverse(route *[]uint32, snrs *[]int32, relays []relay, final float32, hopStart uint32) uint32 {
	hopLimit := hopStart
	for _, rl := range relays {
		if rl.marks {
			mark(route, snrs, hopStart-hopLimit, rl.snr, rl.num, true)
		}
		if hopLimit > 0 {
			hopLimit--
		}
	}
	mark(route, snrs, hopStart-hopLimit, final, 0, false)
	return hopLimit
}

func mark(route *[]uint32, snrs *[]int32, hops uint32, snr float32, num uint32, isRelay bool) {
	for uint32(len(*route)) < hops && len(*route) < routeMax {
		*route = append(*route, unknownHop)
	}
	for len(*snrs) < len(*route) {
		*snrs = append(*snrs, unknownSNR)
	}
	if len(*snrs) < routeMax {
		*snrs = append(*snrs, snrX4(snr))
	}
	if isRelay && len(*route) < routeMax {
		*route = append(*route, num)
	}
}

// snrX4 converts dB to the firmware's int8 quarter-dB form.
func snrX4(snr float32) int32 {
	v := math.Round(float64(snr) * 4)
	return int32(max(-127, min(127, v)))
}

// responseHopLimit is the firmware's getHopLimitForResponse: answer with
// enough hops to get back, plus some slack, within the configured limit.
func responseHopLimit(hopStart, hopLimit, configured uint32) uint32 {
	if hopStart == 0 {
		return 0
	}
	hops := uint32(0)
	if hopStart >= hopLimit {
		hops = hopStart - hopLimit
	}
	switch {
	case hops > configured:
		return hops
	case hops+2 < configured:
		return hops + 2
	}
	return configured
}

// chain lists pe's RF relays from our neighbour outwards.
func (pe *peer) chain() []*peer {
	var c []*peer
	for q := pe.parent; q != nil; q = q.parent {
		c = append([]*peer{q}, c...)
	}
	return c
}

// forwardLegLocked is the path of a packet from us to pe: the relays in
// order and the SNR at which pe hears the last one. Links are symmetric
// give or take a decibel of fading.
func (r *Radio) forwardLegLocked(pe *peer) ([]relay, float32) {
	fade := func(v float32) float32 { return v + float32(r.rng.NormFloat64()) }
	var rel []relay
	if pe.viaMQTT {
		if g := pe.gateway; g != nil {
			rel = append(rel, relay{num: g.num, snr: fade(g.snr), marks: true})
		}
		// Past the broker: gateways and relays that never show up.
		for range pe.mqttLeg {
			rel = append(rel, relay{})
		}
		return rel, fade(pe.snr)
	}
	for _, a := range pe.chain() {
		rel = append(rel, relay{num: a.num, snr: fade(a.snr), marks: !a.opaque})
	}
	return rel, fade(pe.snr)
}

// backLegLocked is the path of pe's answer back to us and the SNR at
// which we hear the last transmission.
func (r *Radio) backLegLocked(pe *peer) ([]relay, float32) {
	fade := func(v float32) float32 { return v + float32(r.rng.NormFloat64()) }
	var rel []relay
	if pe.viaMQTT {
		for range pe.mqttLeg {
			rel = append(rel, relay{})
		}
		if g := pe.gateway; g != nil {
			// The gateway takes it off the broker: no RF reception, 0 dB.
			rel = append(rel, relay{num: g.num, snr: 0, marks: true})
			return rel, fade(g.snr)
		}
		return rel, fade(pe.snr)
	}
	c := pe.chain()
	heard := pe.snr
	for i := len(c) - 1; i >= 0; i-- {
		rel = append(rel, relay{num: c[i].num, snr: fade(heard), marks: !c[i].opaque})
		heard = c[i].snr
	}
	return rel, fade(heard)
}

// tracerouteReplyLocked is pe's TRACEROUTE_APP answer to req, with the
// request and reply lists filled on the way there and back.
func (r *Radio) tracerouteReplyLocked(req *pb.MeshPacket, pe *peer) *pb.MeshPacket {
	rd := &pb.RouteDiscovery{}
	if proto.Unmarshal(req.GetDecoded().GetPayload(), rd) != nil {
		rd = &pb.RouteDiscovery{}
	}
	var fwd []relay
	var heard float32
	if req.To == Broadcast {
		heard = pe.snr + float32(r.rng.NormFloat64())
	} else {
		fwd, heard = r.forwardLegLocked(pe)
	}
	left := traverse(&rd.Route, &rd.SnrTowards, fwd, heard, req.HopStart)
	start := responseHopLimit(req.HopStart, left, pe.hopStart)
	var back []relay
	var final float32
	if req.To == Broadcast {
		final = pe.snr + float32(r.rng.NormFloat64())
	} else {
		back, final = r.backLegLocked(pe)
	}
	arrive := traverse(&rd.RouteBack, &rd.SnrBack, back, final, start)
	payload, _ := proto.Marshal(rd)
	p := r.fromPeerLocked(pe, r.myNum, req.Channel, &pb.Data{
		Portnum:   pb.PortNum_TRACEROUTE_APP,
		Payload:   payload,
		RequestId: req.Id,
	})
	p.HopStart, p.HopLimit = start, arrive
	p.WantAck = req.WantAck
	p.Priority = pb.MeshPacket_RELIABLE
	if p.TransportMechanism == pb.MeshPacket_TRANSPORT_LORA {
		p.RxSnr = quarter(final)
	}
	return p
}
