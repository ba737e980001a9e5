package sim

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func TestTraverseFillsLists(t *testing.T) {
	// us -> A -> (relay that does not decode) -> B -> target
	var route []uint32
	var snr []int32
	left := traverse(&route, &snr, []relay{
		{num: 0xA, snr: 5, marks: true},
		{num: 0xC, snr: 1, marks: false},
		{num: 0xB, snr: -2.5, marks: true},
	}, 7.25, 5)
	if left != 2 {
		t.Errorf("hop limit left %d, want 2", left)
	}
	if want := []uint32{0xA, unknownHop, 0xB}; !slices.Equal(route, want) {
		t.Errorf("route %x, want %x", route, want)
	}
	if want := []int32{20, unknownSNR, -10, 29}; !slices.Equal(snr, want) {
		t.Errorf("snr %v, want %v", snr, want)
	}

	// A direct neighbour: no hops, one SNR.
	route, snr = nil, nil
	traverse(&route, &snr, nil, -3, 3)
	if len(route) != 0 || !slices.Equal(snr, []int32{-12}) {
		t.Errorf("direct: %v %v", route, snr)
	}
}

func TestResponseHopLimit(t *testing.T) {
	for _, tc := range []struct{ start, limit, cfg, want uint32 }{
		{3, 3, 3, 2}, // direct: hops+2 below the limit
		{3, 2, 3, 3}, // one hop: 3 is not below 3
		{7, 2, 3, 5}, // already farther than our limit
		{0, 0, 3, 0}, // no hop_start: 0
		{3, 1, 7, 4},
	} {
		if got := responseHopLimit(tc.start, tc.limit, tc.cfg); got != tc.want {
			t.Errorf("responseHopLimit(%d,%d,%d) = %d, want %d", tc.start, tc.limit, tc.cfg, got, tc.want)
		}
	}
}

func TestTracerouteReplyShape(t *testing.T) {
	cfg := fastConfig(21)
	cfg.Nodes = 80
	cfg.Limits.Traceroute = -1
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	c.handshake(1)

	hopsOf := map[uint32]int{}
	for _, p := range tr.mesh.peers {
		hopsOf[p.num] = p.hops
	}
	kinds := map[string]func(*peer) bool{
		"neighbour": func(p *peer) bool { return !p.viaMQTT && p.hops == 0 },
		"two hops":  func(p *peer) bool { return !p.viaMQTT && p.hops == 2 },
		"three":     func(p *peer) bool { return !p.viaMQTT && p.hops == 3 },
		"mqtt":      func(p *peer) bool { return p.viaMQTT && p.gateway != nil },
	}
	id := uint32(0x8000)
	for name, pred := range kinds {
		pe := peerWhere(t, tr.Radio, func(p *peer) bool { return p.reachable && p.traces && pred(p) })
		id++
		c.packet(&pb.MeshPacket{To: pe.num, Id: id, HopLimit: 7, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum: pb.PortNum_TRACEROUTE_APP, WantResponse: true}}})
		m := c.waitFor(waitLong, name+" traceroute reply", func(m *pb.FromRadio) bool {
			return m.GetPacket().GetDecoded().GetRequestId() == id
		})
		p := m.GetPacket()
		if p.GetDecoded().GetPortnum() != pb.PortNum_TRACEROUTE_APP || p.From != pe.num || p.To != tr.MyNodeNum() {
			t.Fatalf("%s: reply %v", name, p)
		}
		rd := &pb.RouteDiscovery{}
		if err := proto.Unmarshal(p.GetDecoded().GetPayload(), rd); err != nil {
			t.Fatal(err)
		}
		if len(rd.SnrTowards) != len(rd.Route)+1 || len(rd.SnrBack) != len(rd.RouteBack)+1 {
			t.Errorf("%s: list lengths %v", name, rd)
		}
		if len(rd.Route) != pe.hops || len(rd.RouteBack) != pe.hops {
			t.Errorf("%s: %d hops in the route, node is %d away: %v", name, len(rd.Route), pe.hops, rd)
		}
		if p.HopStart == 0 || p.HopStart < p.HopLimit || int(p.HopStart-p.HopLimit) != pe.hops {
			t.Errorf("%s: hop_start %d hop_limit %d for %d hops", name, p.HopStart, p.HopLimit, pe.hops)
		}
		for _, hop := range append(slices.Clone(rd.Route), rd.RouteBack...) {
			if hop == tr.MyNodeNum() || hop == pe.num {
				t.Errorf("%s: endpoint inside the route %x", name, rd.Route)
			}
			if h, ok := hopsOf[hop]; hop != unknownHop && (!ok || h >= pe.hops) {
				t.Errorf("%s: relay %x is not closer to us than the target", name, hop)
			}
		}
		for i, s := range append(slices.Clone(rd.SnrTowards), rd.SnrBack...) {
			if s != unknownSNR && (s < -100 || s > 80) {
				t.Errorf("%s: snr[%d] = %d out of range", name, i, s)
			}
		}
		if name == "mqtt" && !slices.Contains(rd.Route, uint32(unknownHop)) {
			t.Errorf("mqtt route has no unknown hop: %x", rd.Route)
		}
	}

	// A node that never answers: NO_RESPONSE from the target.
	pe := peerWhere(t, tr.Radio, func(p *peer) bool { return p.reachable && !p.traces })
	id++
	c.packet(&pb.MeshPacket{To: pe.num, Id: id, HopLimit: 7, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
		Portnum: pb.PortNum_TRACEROUTE_APP, WantResponse: true}}})
	m := c.waitFor(waitLong, "no response", routingFor(id))
	if routingError(t, m) != pb.Routing_NO_RESPONSE || m.GetPacket().From != pe.num {
		t.Errorf("got %v", m)
	}
}

func TestZeroHopBroadcastTraceroute(t *testing.T) {
	tr := startRadio(t, fastConfig(22))
	c := dial(t, tr.addr)
	c.handshake(1)
	c.packet(&pb.MeshPacket{To: Broadcast, Id: 0x9001, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
		Portnum: pb.PortNum_TRACEROUTE_APP, WantResponse: true}}})
	m := c.waitFor(waitLong, "neighbour reply", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0x9001
	})
	rd := &pb.RouteDiscovery{}
	_ = proto.Unmarshal(m.GetPacket().GetDecoded().GetPayload(), rd)
	if len(rd.Route) != 0 || len(rd.SnrTowards) != 1 || len(rd.SnrBack) != 1 {
		t.Errorf("zero-hop reply %v", rd)
	}
}
