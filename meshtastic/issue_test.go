package meshtastic_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// TestEditWithMQTTNotice: an ESP32 that cannot reach the new MQTT broker
// says so in a notification without reply_id. That notice belongs to no
// request: SetMQTTConfig succeeds, the edit is committed (the radio's
// transaction is closed) and the setting survives the reboot.
func TestEditWithMQTTNotice(t *testing.T) {
	r, addr := startSim(t, fastSim(71, 5))
	c := dial(t, addr, meshtastic.Options{})
	notices := make(chan string, 8)
	go func() {
		for ev := range c.Events() {
			if ev.Kind == meshtastic.EventNotification {
				notices <- ev.Notification.GetMessage()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.SetMQTTConfig(ctx, &pb.ModuleConfig_MQTTConfig{Enabled: true, Address: "broker.invalid", Root: "msh/US"})
	if err != nil {
		t.Fatalf("SetMQTTConfig: %v (the radio's notice has no reply_id and answers nothing)", err)
	}
	select {
	case n := <-notices:
		if !strings.Contains(n, "MQTT") {
			t.Fatalf("notice %q", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the MQTT notice was not passed on as an event")
	}
	if r.EditOpen() {
		t.Fatal("the edit transaction was left open")
	}
	waitDone(t, c)
	c2 := redial(t, addr)
	if got := c2.Snapshot().MQTT(); got.GetAddress() != "broker.invalid" {
		t.Fatalf("mqtt after reboot: %v", got)
	}
}

// TestEditAlwaysCommits: a setting the radio refuses fails Edit, but the
// transaction is still closed, so later writes (from any client) are saved.
func TestEditAlwaysCommits(t *testing.T) {
	r, addr := startSim(t, fastSim(72, 5))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lora := c.Snapshot().LoRa()
	lora.HopLimit = 5
	// A 2.7 radio has no mesh_beacon module: BAD_REQUEST.
	bad := &pb.ModuleConfig{PayloadVariant: &pb.ModuleConfig_MeshBeacon{MeshBeacon: &pb.ModuleConfig_MeshBeaconConfig{}}}
	err := c.Edit(ctx, []*pb.Config{{PayloadVariant: &pb.Config_Lora{Lora: lora}}}, []*pb.ModuleConfig{bad})
	if !errors.Is(err, meshtastic.ErrRejected) {
		t.Fatalf("Edit with a refused module: %v, want ErrRejected", err)
	}
	if r.EditOpen() {
		t.Fatal("a failed edit left the radio's transaction open")
	}
}

// TestRebootedDuringFirstHandshake: a board that announces its boot while
// the first handshake runs makes the client handshake again; Connect must
// succeed as soon as that second handshake completes.
func TestRebootedDuringFirstHandshake(t *testing.T) {
	cfg := fastSim(73, 5)
	cfg.RebootedOnConnect = true
	r, addr := startSim(t, cfg)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: time.Millisecond, HandshakeTimeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("connect took %v", el)
	}
	if len(c.Snapshot().Nodes) != len(r.Nodes()) {
		t.Fatalf("%d nodes", len(c.Snapshot().Nodes))
	}
}

// TestTextRefusalWithoutAck: a text sent without want_ack that breaks the
// radio's 2 s limit is refused with res 0 in its QueueStatus and a NAK
// addressed to the packet's from; WaitQueued reports it, and reports a
// text the radio took as queued.
func TestTextRefusalWithoutAck(t *testing.T) {
	_, addr := startSim(t, fastSim(74, 5))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := c.SendText(meshtastic.Text{Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitQueued(ctx, id); err != nil {
		t.Fatalf("first text: %v", err)
	}
	id, err = c.SendText(meshtastic.Text{Text: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitQueued(ctx, id); !errors.Is(err, meshtastic.ErrRateLimited) {
		t.Fatalf("second text within 2 s: %v, want ErrRateLimited", err)
	}
}

// serialSim serves a simulated radio on a pseudo-terminal and returns a
// connected client.
func serialSim(t *testing.T, cfg sim.Config, opts meshtastic.Options) (*sim.Radio, *meshtastic.Client) {
	t.Helper()
	r, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	master, path, err := sim.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.ServeStream(ctx, master) }()
	t.Cleanup(func() { cancel(); master.Close(); <-done })
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	conn, err := transport.Dial(dctx, transport.Address{Kind: transport.Serial, Device: path, Baud: 115200, DTR: true, RTS: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := meshtastic.Connect(dctx, conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return r, c
}

// TestResyncEvents: every completed handshake, the first and the one after
// a reboot, is announced with EventConfig carrying the new snapshot, and so
// is an admin write that changes the client's copy.
func TestResyncEvents(t *testing.T) {
	_, c := serialSim(t, fastSim(75, 5), meshtastic.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resync := func(what string) meshtastic.Event {
		t.Helper()
		for {
			select {
			case ev, ok := <-c.Events():
				if !ok {
					t.Fatalf("link down waiting for %s: %v", what, c.Err())
				}
				if ev.Kind == meshtastic.EventConfig && ev.Snapshot != nil {
					return ev
				}
			case <-ctx.Done():
				t.Fatalf("no EventConfig with a snapshot for %s", what)
			}
		}
	}
	ev := resync("the first handshake")
	first := ev.Snapshot
	if !ev.Resync || len(first.Nodes) != 6 {
		t.Fatalf("first handshake event: resync %v, %d nodes", ev.Resync, len(first.Nodes))
	}
	lora := c.Snapshot().LoRa()
	lora.HopLimit = 6
	go func() { _ = c.Edit(ctx, []*pb.Config{{PayloadVariant: &pb.Config_Lora{Lora: lora}}}, nil) }()
	if ev := resync("the edit"); ev.Snapshot.LoRa().GetHopLimit() != 6 || ev.Resync {
		t.Fatalf("edit event: hop limit %d, resync %v", ev.Snapshot.LoRa().GetHopLimit(), ev.Resync)
	}
	// The commit reboots the radio; the serial link stays and the client
	// handshakes again on the rebooted frame.
	ev = resync("the handshake after the reboot")
	s := ev.Snapshot
	if !ev.Resync || s.MyInfo.GetRebootCount() != first.MyInfo.GetRebootCount()+1 || s.LoRa().GetHopLimit() != 6 {
		t.Fatalf("after reboot: resync %v, reboot count %d (was %d), hop limit %d", ev.Resync,
			s.MyInfo.GetRebootCount(), first.MyInfo.GetRebootCount(), s.LoRa().GetHopLimit())
	}
}

// TestRehandshakeTimeout: if the want_config_id sent after a reboot is
// lost, the link must fail rather than look connected while receiving
// nothing.
func TestRehandshakeTimeout(t *testing.T) {
	cfg := fastSim(76, 5)
	cfg.DropConfigAfterReboot = true
	_, c := serialSim(t, cfg, meshtastic.Options{HandshakeTimeout: time.Second})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Reboot(ctx, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(8 * time.Second):
		t.Fatal("the link still looks up although the handshake after the reboot never completed")
	}
	if !errors.Is(c.Err(), meshtastic.ErrHandshake) {
		t.Fatalf("link error %v, want ErrHandshake", c.Err())
	}
}

// TestWantAckSurvivesFullQueue: a want_ack packet the radio could not
// queue at once (QueueStatus res != 0) is retransmitted by the firmware,
// so its fate is the ack, not the queue status.
func TestWantAckSurvivesFullQueue(t *testing.T) {
	r, addr := startSim(t, fastSim(77, 20))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var dest uint32
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() && n.HopsAway != nil && n.GetHopsAway() == 0 {
			dest = n.GetNum()
			break
		}
	}
	r.FillTxQueue(1)
	id, err := c.SendText(meshtastic.Text{To: dest, Text: "later", WantAck: true})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := c.WaitAck(ctx, id)
	if errors.Is(err, meshtastic.ErrNotDelivered) && !strings.Contains(err.Error(), "MAX_RETRANSMIT") {
		t.Fatalf("a full queue failed a want_ack packet the radio retransmits: %v", err)
	}
	if err == nil && ack.From != dest {
		t.Fatalf("ack from %08x", ack.From)
	}
}

// TestTooLargeInWords: the radio's TOO_LARGE result reads as such and
// matches ErrTooLarge.
func TestTooLargeInWords(t *testing.T) {
	_, addr := startSim(t, fastSim(78, 5))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// 233 payload bytes on a three-byte port number: the encoded Data is
	// 241 bytes, over the 239 a LoRa frame holds.
	id, err := c.Send(&pb.MeshPacket{To: meshtastic.Broadcast, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
		Portnum: pb.PortNum_PRIVATE_APP, Payload: make([]byte, 233)}}}, pb.PortNum_ROUTING_APP)
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitQueued(ctx, id)
	if !errors.Is(err, meshtastic.ErrTooLarge) || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("oversize packet: %v, want ErrTooLarge in words", err)
	}
}

// TestSpoofedNodeInfoIgnored: a NodeInfo whose public key differs from the
// one known for that node is dropped by the firmware's NodeDB; the client
// must not show its name either.
func TestSpoofedNodeInfoIgnored(t *testing.T) {
	r, addr := startSim(t, fastSim(79, 8))
	c := dial(t, addr, meshtastic.Options{})
	var victim *pb.NodeInfo
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && len(n.GetUser().GetPublicKey()) == 32 {
			victim = n
			break
		}
	}
	spoof, _ := proto.Marshal(&pb.User{LongName: "Spoofed", ShortName: "SPF", PublicKey: make([]byte, 32)})
	r.Inject(&pb.MeshPacket{From: victim.GetNum(), To: meshtastic.Broadcast, Id: 0x6001,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_NODEINFO_APP, Payload: spoof}}})
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind != meshtastic.EventPacket || ev.Packet.GetId() != 0x6001 {
				continue
			}
			if n := c.Snapshot().Nodes[victim.GetNum()]; n.LongName != victim.GetUser().GetLongName() {
				t.Fatalf("spoofed NodeInfo applied: %q, was %q", n.LongName, victim.GetUser().GetLongName())
			}
			return
		case <-deadline:
			t.Fatal("the NodeInfo packet did not arrive")
		}
	}
}

// TestMQTTProxyWarned: a radio set to proxy MQTT through its client loses
// MQTT with a client that does not relay it; the client says so.
func TestMQTTProxyWarned(t *testing.T) {
	_, addr := startSim(t, fastSim(80, 5))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.SetMQTTConfig(ctx, &pb.ModuleConfig_MQTTConfig{Enabled: true, ProxyToClientEnabled: true, Root: "msh/US"}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c)
	c2 := redial(t, addr)
	for {
		select {
		case ev := <-c2.Events():
			if ev.Kind == meshtastic.EventNotification && strings.Contains(ev.Notification.GetMessage(), "proxy") {
				if ev.Notification.GetLevel() != pb.LogRecord_WARNING {
					t.Fatalf("level %v", ev.Notification.GetLevel())
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no warning about the MQTT client proxy")
		}
	}
}

// TestReplaysAreNotLive: packets a 2.8 radio replays from its NodeDB after
// the handshake fill in positions and telemetry but do not make a node
// "heard now" or change how it was heard.
func TestReplaysAreNotLive(t *testing.T) {
	cfg := fastSim(81, 30)
	cfg.Firmware = "2.8.0.abcdef0"
	r, addr := startSim(t, cfg)
	c := dial(t, addr, meshtastic.Options{})
	replays := 0
	quiet := time.After(1500 * time.Millisecond)
loop:
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind == meshtastic.EventPacket && ev.Replay {
				replays++
			}
		case <-quiet:
			break loop
		}
	}
	if replays == 0 {
		t.Error("no packet was marked as a replay")
	}
	snap := c.Snapshot()
	positions := 0
	for _, ni := range r.Nodes() {
		if ni.GetNum() == r.MyNodeNum() {
			continue
		}
		n := snap.Nodes[ni.GetNum()]
		if got, want := n.LastHeard.Unix(), int64(ni.GetLastHeard()); got != want {
			t.Errorf("node %08x last heard %v, the radio says %v", ni.GetNum(), n.LastHeard, time.Unix(want, 0))
		}
		if n.ViaMQTT != ni.GetViaMqtt() || n.Channel != ni.GetChannel() {
			t.Errorf("node %08x via MQTT %v channel %d, the radio says %v %d", ni.GetNum(), n.ViaMQTT, n.Channel, ni.GetViaMqtt(), ni.GetChannel())
		}
		if n.Latitude != nil {
			positions++
		}
	}
	if positions == 0 {
		t.Fatal("replayed positions were not applied")
	}
}

// TestVanishedRadioFailsLink: a radio that stops answering without closing
// TCP is noticed by its unanswered heartbeats.
func TestVanishedRadioFailsLink(t *testing.T) {
	checkGoroutines(t)
	r, addr := startSim(t, fastSim(82, 5))
	c := dial(t, addr, meshtastic.Options{Heartbeat: 300 * time.Millisecond, AnswerTimeout: 400 * time.Millisecond, MissedHeartbeats: 2})
	drain(c)
	time.Sleep(time.Second) // answered heartbeats: the link is fine
	if err := c.Err(); err != nil {
		t.Fatalf("link failed while the radio answered: %v", err)
	}
	r.SetVanished(true)
	defer r.SetVanished(false)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a radio that answers nothing still looks connected")
	}
	if !errors.Is(c.Err(), meshtastic.ErrSilent) {
		t.Fatalf("link error %v, want ErrSilent", c.Err())
	}
}

// TestHeartbeatCapped: an interval the firmware's 15-minute idle drop
// would beat is refused with a clear error.
func TestHeartbeatCapped(t *testing.T) {
	_, addr := startSim(t, fastSim(83, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := meshtastic.Dial(ctx, addr, meshtastic.Options{Heartbeat: 20 * time.Minute})
	if err == nil || !strings.Contains(err.Error(), "15 minutes") {
		t.Fatalf("20-minute heartbeat: %v", err)
	}
}

// TestInvalidUTF8NameKept: a node whose name is not valid UTF-8 (firmware
// 2.6.8-2.7.1 cut short names inside a character) is kept, with the broken
// bytes shown as U+FFFD, rather than dropped with its whole NodeInfo.
func TestInvalidUTF8NameKept(t *testing.T) {
	cfg := fastSim(84, 6)
	cfg.InvalidUTF8Name = true
	r, addr := startSim(t, cfg)
	c := dial(t, addr, meshtastic.Options{NoEvents: true})
	s := c.Snapshot()
	if len(s.Nodes) != len(r.Nodes()) {
		t.Fatalf("%d nodes, the radio has %d: the one with the broken name was dropped", len(s.Nodes), len(r.Nodes()))
	}
	found := false
	for _, n := range s.Nodes {
		if n.ShortName == "T01\uFFFD" {
			found = true
			if n.LongName == "" || n.HWModel == 0 {
				t.Fatalf("the rest of the node was lost: %+v", n)
			}
		}
	}
	if !found {
		t.Fatal("no node shows the repaired name T01\uFFFD")
	}
}
