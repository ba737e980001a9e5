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

// kind names a FromRadio variant for order checks.
func kind(m *pb.FromRadio) string {
	switch m.PayloadVariant.(type) {
	case *pb.FromRadio_MyInfo:
		return "my_info"
	case *pb.FromRadio_DeviceuiConfig:
		return "ui"
	case *pb.FromRadio_NodeInfo:
		return "node"
	case *pb.FromRadio_Metadata:
		return "metadata"
	case *pb.FromRadio_Channel:
		return "channel"
	case *pb.FromRadio_Config:
		return "config"
	case *pb.FromRadio_ModuleConfig:
		return "module"
	case *pb.FromRadio_FileInfo:
		return "file"
	case *pb.FromRadio_ConfigCompleteId:
		return "complete"
	case *pb.FromRadio_QueueStatus:
		return "queue"
	case *pb.FromRadio_Packet:
		return "packet"
	}
	return "other"
}

// runs collapses consecutive equal kinds: [a a b] -> kinds [a b], counts [2 1].
func runs(ms []*pb.FromRadio) ([]string, []int) {
	var ks []string
	var ns []int
	for _, m := range ms {
		k := kind(m)
		if len(ks) > 0 && ks[len(ks)-1] == k {
			ns[len(ns)-1]++
			continue
		}
		ks = append(ks, k)
		ns = append(ns, 1)
	}
	return ks, ns
}

func TestHandshakeOrder(t *testing.T) {
	tr := startRadio(t, fastConfig(1))
	c := dial(t, tr.addr)
	got := c.handshake(12345)

	ks, ns := runs(got)
	want := []string{"my_info", "ui", "node", "metadata", "channel", "config", "module", "node", "file", "complete"}
	if len(ks) != len(want) {
		t.Fatalf("order %v, want %v", ks, want)
	}
	for i := range want {
		if ks[i] != want[i] {
			t.Fatalf("order %v, want %v", ks, want)
		}
	}
	nModules := moduleOneof.Fields().Len()
	wantCounts := []int{1, 1, 1, 1, 8, 10, nModules, 25, ns[8], 1}
	for i, n := range wantCounts {
		if ns[i] != n {
			t.Errorf("%s: %d frames, want %d", ks[i], ns[i], n)
		}
	}

	my := got[0].GetMyInfo()
	if my.MyNodeNum != tr.MyNodeNum() || my.NodedbCount != 26 {
		t.Errorf("my_info %v", my)
	}
	own := got[2].GetNodeInfo()
	if own.Num != tr.MyNodeNum() || !own.IsFavorite || own.HopsAway != nil || own.User.GetId() != nodeID(own.Num) {
		t.Errorf("own node_info %v", own)
	}
	if got[3].GetMetadata().GetFirmwareVersion() != DefaultFirmware {
		t.Errorf("metadata %v", got[3].GetMetadata())
	}
	// Channels: 0..7, slot 0 primary, the rest secondary or disabled.
	for i, m := range got[4:12] {
		ch := m.GetChannel()
		if ch.Index != int32(i) {
			t.Errorf("channel %d has index %d", i, ch.Index)
		}
		if (i == 0) != (ch.Role == pb.Channel_PRIMARY) {
			t.Errorf("channel %d role %v", i, ch.Role)
		}
	}
	// Configs in tag order 1..10 with the documented LoRa defaults.
	for i, m := range got[12:22] {
		if tag := configTag(m.GetConfig()); int(tag) != i+1 {
			t.Errorf("config %d has tag %d", i, tag)
		}
	}
	lora := got[17].GetConfig().GetLora()
	if lora.Region != pb.Config_LoRaConfig_US || lora.ModemPreset != pb.Config_LoRaConfig_LONG_FAST || lora.HopLimit != 3 || !lora.TxEnabled {
		t.Errorf("lora %v", lora)
	}
	mq := got[22].GetModuleConfig().GetMqtt()
	if mq.GetAddress() == "" || mq.GetRoot() != "msh/US" || !mq.GetEncryptionEnabled() || mq.GetMapReportSettings() == nil {
		t.Errorf("mqtt %v", mq)
	}
	// Other nodes: v2.7 style, newest first, ids in !%08x form.
	var prev uint32 = 1<<32 - 1
	mqtt := 0
	for _, m := range got[22+nModules : 22+nModules+25] {
		ni := m.GetNodeInfo()
		if ni.User.GetId() != nodeID(ni.Num) || ni.User.GetLongName() == "" || len(ni.User.GetShortName()) == 0 || len(ni.User.GetShortName()) > 4 {
			t.Errorf("node user %v", ni.User)
		}
		if ni.DeviceMetrics == nil {
			t.Errorf("node %x has no device_metrics", ni.Num)
		}
		if ni.LastHeard > prev {
			t.Errorf("nodes not sorted by last_heard")
		}
		prev = ni.LastHeard
		if ni.ViaMqtt {
			mqtt++
		}
	}
	if mqtt == 0 {
		t.Errorf("no node heard via MQTT")
	}
}

func TestSpecialNonces(t *testing.T) {
	tr := startRadio(t, fastConfig(2))
	c := dial(t, tr.addr)

	ks, ns := runs(c.handshake(NonceOnlyConfig))
	nodeRuns := 0
	for _, k := range ks {
		if k == "node" {
			nodeRuns++
		}
	}
	if nodeRuns != 1 || ks[2] != "node" || ns[2] != 1 || ks[0] != "my_info" || ks[len(ks)-2] != "file" {
		t.Errorf("69420: want only the own node_info and the file manifest kept: %v %v", ks, ns)
	}

	ks, ns = runs(c.handshake(NonceOnlyNodes))
	if len(ks) != 2 || ks[0] != "node" || ns[0] != 26 || ks[1] != "complete" {
		t.Errorf("69421 order %v %v", ks, ns)
	}
}

func TestHeartbeatBeforeConfig(t *testing.T) {
	tr := startRadio(t, fastConfig(3))
	c := dial(t, tr.addr)
	c.none(100*time.Millisecond, "anything before the first ToRadio", func(*pb.FromRadio) bool { return true })
	c.heartbeat(0)
	m := c.next(waitLong)
	if qs := m.GetQueueStatus(); qs == nil || qs.Maxlen != txQueueMax || qs.Free == 0 {
		t.Fatalf("heartbeat answer %v", m)
	}
	c.heartbeat(1) // re-announce: no answer
	c.none(150*time.Millisecond, "answer to heartbeat nonce 1", func(*pb.FromRadio) bool { return true })
}

func TestNewestClientWins(t *testing.T) {
	tr := startRadio(t, fastConfig(4))
	a := dial(t, tr.addr)
	a.handshake(1)
	b := dial(t, tr.addr)
	if !a.closed(waitLong) {
		t.Fatal("first client was not kicked")
	}
	b.handshake(2)
	if s := tr.Stats(); s.Kicked != 1 || s.Accepted != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestDisconnectClosesSocket(t *testing.T) {
	tr := startRadio(t, fastConfig(5))
	c := dial(t, tr.addr)
	c.handshake(7)
	c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Disconnect{Disconnect: true}})
	if !c.closed(waitLong) {
		t.Fatal("disconnect did not close the socket")
	}
}

func TestIdleTimeout(t *testing.T) {
	cfg := fastConfig(6)
	cfg.IdleTimeout = 150 * time.Millisecond
	tr := startRadio(t, cfg)

	// Never armed before the first frame.
	quiet := dial(t, tr.addr)
	if quiet.closed(300 * time.Millisecond) {
		t.Fatal("closed a client that never sent a frame")
	}
	c := dial(t, tr.addr) // kicks quiet
	c.handshake(9)
	for range 4 { // heartbeats keep it alive
		time.Sleep(60 * time.Millisecond)
		c.heartbeat(0)
	}
	start := time.Now()
	if !c.closed(waitLong) {
		t.Fatal("idle client not dropped")
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("dropped after %v, before the idle timeout", el)
	}
	if tr.Stats().IdleTimeouts != 1 {
		t.Errorf("stats %+v", tr.Stats())
	}
}

func TestMalformedFramesSkipped(t *testing.T) {
	tr := startRadio(t, fastConfig(7))
	c := dial(t, tr.addr)
	var junk []byte
	junk = append(junk, bytes.Repeat([]byte{0xC3}, 32)...)            // python's wake-up run
	junk = append(junk, "hello\n"...)                                 // stray text
	junk, _ = frame.Append(junk, []byte{0xFF, 0xFF, 0xFF})            // not a protobuf
	junk = append(junk, 0x94, 0xC3, 0x7F, 0xFF)                       // oversize length
	junk, _ = frame.Append(junk, append([]byte{0x0A, 0x7F}, 1, 2, 3)) // truncated field
	big, _ := proto.Marshal(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: text(Broadcast, 5, string(bytes.Repeat([]byte{'x'}, 300)))}})
	junk, _ = frame.Append(junk, big) // payload over nanopb's 233 bytes
	junk, _ = frame.Append(junk, nil) // empty ToRadio: legal, ignored
	if _, err := c.conn.Write(junk); err != nil {
		t.Fatal(err)
	}
	c.handshake(77)
	s := tr.Stats()
	if s.Malformed != 3 {
		t.Errorf("malformed = %d, want 3 (%+v)", s.Malformed, s)
	}
	if s.ClientPackets != 0 {
		t.Errorf("oversized payload was sent: %+v", s)
	}
}

func TestPacketsQueuedUntilConfigured(t *testing.T) {
	tr := startRadio(t, fastConfig(8))
	from := tr.mesh.peers[0].num
	for i := range toPhoneMax + 4 {
		tr.Inject(&pb.MeshPacket{From: from, To: Broadcast, Id: uint32(100 + i), HopStart: 3, HopLimit: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte{byte('a' + i)}}}})
	}
	c := dial(t, tr.addr)
	c.heartbeat(0)
	c.none(100*time.Millisecond, "packet before config", func(m *pb.FromRadio) bool { return m.GetPacket() != nil })
	got := c.handshake(3)
	for _, m := range got {
		if m.GetPacket() != nil {
			t.Fatal("packet inside the config stream")
		}
	}
	// Texts evict the oldest: the last 16 arrive, in order.
	for i := 4; i < toPhoneMax+4; i++ {
		m := c.waitFor(waitLong, "queued packet", func(m *pb.FromRadio) bool { return m.GetPacket() != nil })
		if id := m.GetPacket().Id; id != uint32(100+i) {
			t.Fatalf("got packet %d, want %d", id, 100+i)
		}
	}
	if tr.Stats().QueueDropped != 4 {
		t.Errorf("stats %+v", tr.Stats())
	}
	// The NodeDB followed the injected packets.
	for _, ni := range tr.Nodes() {
		if ni.Num == from && (ni.HopsAway == nil || *ni.HopsAway != 0) {
			t.Errorf("node %x hops_away %v", from, ni.HopsAway)
		}
	}
}

func TestServeReturnsOnListenerError(t *testing.T) {
	r, err := New(fastConfig(9))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	if err := r.Serve(t.Context(), ln); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

// TestRebootedOnConnect: with the option, the first want_config_id of a
// connection is answered by a rebooted frame ahead of the config.
func TestRebootedOnConnect(t *testing.T) {
	cfg := fastConfig(35)
	cfg.RebootedOnConnect = true
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	c.wantConfig(7)
	if m := c.next(waitLong); !m.GetRebooted() {
		t.Fatalf("first frame %v, want rebooted", m)
	}
	c.handshake(8)
	c.none(200*time.Millisecond, "a second rebooted", func(m *pb.FromRadio) bool { return m.GetRebooted() })
}

// TestVanished: a vanished radio keeps the link open but answers nothing;
// back again, it answers.
func TestVanished(t *testing.T) {
	tr := startRadio(t, fastConfig(37))
	c := dial(t, tr.addr)
	c.handshake(1)
	tr.SetVanished(true)
	c.heartbeat(0)
	c.none(400*time.Millisecond, "an answer from a vanished radio", func(*pb.FromRadio) bool { return true })
	if c.closed(10 * time.Millisecond) {
		t.Fatal("the link closed")
	}
	tr.SetVanished(false)
	c.heartbeat(0)
	c.waitFor(waitLong, "heartbeat answer", queueStatusFor(0))
}
