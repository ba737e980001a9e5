package sim

import (
	"bytes"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// TestTxQueueFull: a full TX queue answers res 32; a want_ack packet is
// still delivered by the retransmissions, any other is lost.
func TestTxQueueFull(t *testing.T) {
	tr := startRadio(t, fastConfig(51))
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1)
	pe := peerWhere(t, r, func(p *peer) bool { return p.reachable && !p.viaMQTT && p.hops == 0 })
	r.FillTxQueue(2)
	p := text(pe.num, 0x4001, "queued later")
	p.WantAck = true
	c.packet(p)
	if qs := c.waitFor(waitLong, "status", queueStatusFor(0x4001)).GetQueueStatus(); qs.Res != errnoUnknown {
		t.Fatalf("status res %d, want %d", qs.Res, errnoUnknown)
	}
	if m := c.waitFor(waitLong, "ack", routingFor(0x4001)); routingError(t, m) != pb.Routing_NONE {
		t.Fatalf("want_ack packet after a full queue: %v", m)
	}
	time.Sleep(2100 * time.Millisecond)
	p = text(pe.num, 0x4002, "lost")
	p.WantAck = false
	c.packet(p)
	if qs := c.waitFor(waitLong, "status", queueStatusFor(0x4002)).GetQueueStatus(); qs.Res != errnoUnknown {
		t.Fatalf("status res %d", qs.Res)
	}
}

// TestNodeInfoKeyMismatch: a NodeInfo whose key differs from the known one
// does not change the NodeDB, but the packet still reaches the client.
func TestNodeInfoKeyMismatch(t *testing.T) {
	tr := startRadio(t, fastConfig(52))
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1)
	pe := peerWhere(t, r, func(p *peer) bool { return len(p.pubKey) == 32 })
	spoof, _ := proto.Marshal(&pb.User{LongName: "Spoofed", ShortName: "SPF", PublicKey: bytes.Repeat([]byte{7}, 32)})
	r.Inject(&pb.MeshPacket{From: pe.num, To: Broadcast, Id: 0x4101,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_NODEINFO_APP, Payload: spoof}}})
	c.waitFor(waitLong, "the NodeInfo packet", func(m *pb.FromRadio) bool { return m.GetPacket().GetId() == 0x4101 })
	for _, ni := range r.Nodes() {
		if ni.Num == pe.num && ni.GetUser().GetLongName() == "Spoofed" {
			t.Fatal("a NodeInfo with a mismatched public key was applied")
		}
	}
}

// TestMQTTProxyUplink: with MQTT set to proxy through the client, packets
// on uplink channels go to the client as mqttClientProxyMessage.
func TestMQTTProxyUplink(t *testing.T) {
	tr := startRadio(t, fastConfig(53))
	r := tr.Radio
	r.mu.Lock()
	mq := r.set.mqtt()
	mq.Enabled, mq.ProxyToClientEnabled = true, true
	r.set.channels[0].Settings.UplinkEnabled = true
	r.mu.Unlock()
	c := dial(t, tr.addr)
	c.handshake(1)
	c.packet(text(Broadcast, 0x4201, "up"))
	m := c.waitFor(waitLong, "proxy message", func(m *pb.FromRadio) bool { return m.GetMqttClientProxyMessage() != nil })
	pm := m.GetMqttClientProxyMessage()
	env := &pb.ServiceEnvelope{}
	if err := proto.Unmarshal(pm.GetData(), env); err != nil || env.GetPacket().GetId() != 0x4201 || pm.GetTopic() != "msh/US/2/e/LongFast/"+nodeID(r.MyNodeNum()) {
		t.Fatalf("proxy message %v (%v)", pm, err)
	}
}

// TestReplay28: a 2.8 radio streams thin NodeInfos and replays positions
// and telemetry after config_complete_id, with firmware-derived ids.
func TestReplay28(t *testing.T) {
	cfg := fastConfig(54)
	cfg.Firmware = "2.8.0.abcdef0"
	tr := startRadio(t, cfg)
	r := tr.Radio
	c := dial(t, tr.addr)
	for _, m := range c.handshake(1) {
		if ni := m.GetNodeInfo(); ni != nil && ni.Num != r.MyNodeNum() && (ni.Position != nil || ni.DeviceMetrics != nil) {
			t.Fatalf("2.8 NodeInfo with position or metrics: %v", ni)
		}
	}
	positions, telemetry := 0, 0
	for {
		m := c.next(500 * time.Millisecond)
		if m == nil {
			break
		}
		p := m.GetPacket()
		if p == nil {
			continue
		}
		kind := uint32(0)
		switch p.GetDecoded().GetPortnum() {
		case pb.PortNum_POSITION_APP:
			kind = uint32(pb.PortNum_POSITION_APP)
			positions++
		case pb.PortNum_TELEMETRY_APP:
			kind = replayKindDeviceMetrics
			telemetry++
		}
		if p.Id != ReplayPacketID(p.From, p.GetRxTime(), kind) || p.Priority != pb.MeshPacket_BACKGROUND || p.To != Broadcast {
			t.Fatalf("replayed packet %v", p)
		}
	}
	if positions == 0 || telemetry == 0 {
		t.Fatalf("replayed %d positions, %d telemetry", positions, telemetry)
	}
	c2 := dial(t, tr.addr)
	c2.handshake(NonceOnlyConfig)
	c2.none(300*time.Millisecond, "a replay after a config-only handshake", func(m *pb.FromRadio) bool { return m.GetPacket() != nil })
}

// TestInvalidUTF8Name: the option serves a node whose short name is cut in
// the middle of a UTF-8 sequence, byte for byte as old firmware sends it.
func TestInvalidUTF8Name(t *testing.T) {
	cfg := fastConfig(55)
	cfg.InvalidUTF8Name = true
	tr := startRadio(t, cfg)
	conn, err := net.Dial("tcp", tr.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want, _ := proto.Marshal(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 9}})
	if err := frame.NewWriter(conn).WriteFrame(want); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitLong))
	fr := frame.NewReader(conn)
	bad := 0
	for {
		it, err := fr.Next()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		m := &pb.FromRadio{}
		if err := proto.Unmarshal(it.Payload, m); err != nil {
			if !bytes.Contains(it.Payload, []byte("T01\xe0")) {
				t.Fatalf("undecodable frame without the broken name: %v", err)
			}
			bad++
			continue
		}
		if m.GetConfigCompleteId() == 9 {
			break
		}
	}
	if bad != 1 {
		t.Fatalf("%d NodeInfos with the broken name, want 1", bad)
	}
}
