package sim

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return t0 }
}

func TestSameSeedSameMesh(t *testing.T) {
	mk := func(seed int64) *Radio {
		cfg := Config{Seed: seed, Nodes: 200, Now: fixedClock()}
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := mk(7), mk(7), mk(8)
	if a.MyNodeNum() != b.MyNodeNum() || a.MyNodeNum() == c.MyNodeNum() {
		t.Fatalf("node numbers %x %x %x", a.MyNodeNum(), b.MyNodeNum(), c.MyNodeNum())
	}
	na, nb := a.Nodes(), b.Nodes()
	if len(na) != 201 || len(na) != len(nb) {
		t.Fatalf("%d and %d nodes", len(na), len(nb))
	}
	for i := range na {
		if !proto.Equal(na[i], nb[i]) {
			t.Fatalf("node %d differs:\n%v\n%v", i, na[i], nb[i])
		}
	}
	// The live traffic sequence replays too.
	for range 50 {
		a.mu.Lock()
		a.generateLocked(a.trafficRG)
		pa := a.toPhone[len(a.toPhone)-1]
		a.mu.Unlock()
		b.mu.Lock()
		b.generateLocked(b.trafficRG)
		pb := b.toPhone[len(b.toPhone)-1]
		b.mu.Unlock()
		if pa.From != pb.From || pa.To != pb.To || !proto.Equal(pa.GetDecoded(), pb.GetDecoded()) {
			t.Fatalf("traffic differs: %v / %v", pa, pb)
		}
	}
}

func TestMeshLooksReal(t *testing.T) {
	r, err := New(Config{Seed: 99, Nodes: 500})
	if err != nil {
		t.Fatal(err)
	}
	longs, shorts := map[string]bool{}, map[string]bool{}
	mq, pw := 0, 0
	for _, ni := range r.Nodes() {
		u := ni.GetUser()
		if longs[u.LongName] || shorts[u.ShortName] {
			t.Errorf("duplicate name %q/%q", u.LongName, u.ShortName)
		}
		longs[u.LongName], shorts[u.ShortName] = true, true
		if len(u.LongName) == 0 || len(u.LongName) > 24 || len(u.ShortName) == 0 || len(u.ShortName) > 4 {
			t.Errorf("bad names %q/%q", u.LongName, u.ShortName)
		}
		if u.HwModel == pb.HardwareModel_UNSET {
			t.Errorf("%s has no hardware model", u.Id)
		}
		if ni.ViaMqtt {
			mq++
		}
		if ni.GetDeviceMetrics().GetBatteryLevel() > 100 {
			pw++
		}
		if h := ni.HopsAway; h != nil && *h > 3 && !ni.ViaMqtt {
			t.Errorf("RF node %s is %d hops away", u.Id, *h)
		}
		if lat := ni.GetPosition().GetLatitudeI(); lat != 0 && (lat < 25e7 || lat > 50e7) {
			t.Errorf("node %s at latitude %d", u.Id, lat)
		}
	}
	if mq < 60 || mq > 140 {
		t.Errorf("%d of 500 heard via MQTT, want about a fifth", mq)
	}
	if pw == 0 {
		t.Error("no externally powered node")
	}
	for _, p := range r.mesh.peers {
		for q := p.parent; q != nil; q = q.parent {
			if q.hops >= p.hops {
				t.Fatalf("relay %x (%d hops) for %x (%d hops)", q.num, q.hops, p.num, p.hops)
			}
		}
	}
}

func TestInjectUpdatesNodeDB(t *testing.T) {
	r, err := New(Config{Seed: 5, Nodes: 10})
	if err != nil {
		t.Fatal(err)
	}
	lat, lon := int32(473000000), int32(-1220000000)
	pos, _ := proto.Marshal(&pb.Position{LatitudeI: &lat, LongitudeI: &lon})
	newcomer := uint32(0x0badcafe)
	r.Inject(&pb.MeshPacket{From: newcomer, To: Broadcast, HopStart: 3, HopLimit: 1, RxSnr: -4.5, ViaMqtt: true,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_POSITION_APP, Payload: pos}}})
	var found *pb.NodeInfo
	for _, ni := range r.Nodes() {
		if ni.Num == newcomer {
			found = ni
		}
	}
	if found == nil {
		t.Fatal("injected sender not added to the NodeDB")
	}
	if found.GetPosition().GetLatitudeI() != lat || found.Snr != -4.5 || !found.ViaMqtt || found.GetHopsAway() != 2 || found.LastHeard == 0 {
		t.Errorf("node after inject %v", found)
	}
}

func TestLargeMeshHandshake(t *testing.T) {
	cfg := fastConfig(61)
	cfg.Nodes = 3000
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	nodes := 0
	for _, m := range c.handshake(NonceOnlyNodes) {
		if m.GetNodeInfo() != nil {
			nodes++
		}
	}
	if nodes != 3001 {
		t.Errorf("%d node infos, want 3001", nodes)
	}
}

func TestLiveTraffic(t *testing.T) {
	cfg := fastConfig(71)
	cfg.TrafficInterval = 5 * time.Millisecond
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	c.handshake(1)
	ports := map[pb.PortNum]int{}
	for len(ports) < 4 {
		m := c.waitFor(waitLong, "traffic", func(m *pb.FromRadio) bool { return m.GetPacket() != nil })
		p := m.GetPacket()
		ports[p.GetDecoded().GetPortnum()]++
		if p.From == 0 || p.RxTime == nil || p.Id == 0 {
			t.Errorf("packet fields %v", p)
		}
		if p.To != Broadcast && p.To != tr.MyNodeNum() {
			t.Errorf("packet for someone else delivered: %v", p)
		}
		if p.HopStart != 0 && p.HopLimit > p.HopStart {
			t.Errorf("hop_limit above hop_start: %v", p)
		}
	}
	if tr.Stats().Generated == 0 {
		t.Error("no traffic counted")
	}
}

// Two starts of one seeded mesh give its packets new ids: a real mesh
// keeps counting while the gateway restarts, so a store kept from the
// earlier run must not see the same sender's ids again.
func TestSameSeedNewPacketIDs(t *testing.T) {
	ids := func() map[[2]uint32]bool {
		r, err := New(Config{Seed: 7, Nodes: 50, Now: fixedClock()})
		if err != nil {
			t.Fatal(err)
		}
		out := map[[2]uint32]bool{}
		r.mu.Lock()
		defer r.mu.Unlock()
		for range 40 {
			r.generateLocked(r.trafficRG)
			p := r.toPhone[len(r.toPhone)-1]
			out[[2]uint32{p.From, p.Id}] = true
		}
		return out
	}
	a, b := ids(), ids()
	for k := range a {
		if b[k] {
			t.Fatalf("sender %x sent packet id %x again after a restart", k[0], k[1])
		}
	}
}
