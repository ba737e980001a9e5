package meshtastic_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

func fastSim(seed int64, nodes int) sim.Config { return simtest.Fast(seed, nodes) }

func startSim(t *testing.T, cfg sim.Config) (*sim.Radio, string) { return simtest.Start(t, cfg) }

func dial(t *testing.T, addr string, opts meshtastic.Options) *meshtastic.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.WakeDelay = time.Millisecond
	c, err := meshtastic.Dial(ctx, addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// drain consumes events in the background until the client closes.
func drain(c *meshtastic.Client) {
	go func() {
		for range c.Events() {
		}
	}()
}

// checkGoroutines fails the test if goroutines do not return to the count
// before it started.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func TestHandshakeSnapshot(t *testing.T) {
	r, addr := startSim(t, fastSim(11, 40))
	c := dial(t, addr, meshtastic.Options{NoEvents: true})
	s := c.Snapshot()
	if s.MyNodeNum != r.MyNodeNum() || s.MyNodeNum == 0 {
		t.Fatalf("my node %08x, radio says %08x", s.MyNodeNum, r.MyNodeNum())
	}
	want := r.Nodes()
	if len(s.Nodes) != len(want) {
		t.Fatalf("nodes: got %d, radio has %d", len(s.Nodes), len(want))
	}
	for _, ni := range want {
		n, ok := s.Nodes[ni.GetNum()]
		if !ok {
			t.Fatalf("node %08x missing", ni.GetNum())
		}
		if n.LongName != ni.GetUser().GetLongName() || n.ShortName != ni.GetUser().GetShortName() ||
			ni.GetUser().GetId() != n.ID() || n.ViaMQTT != ni.GetViaMqtt() || n.HWModel != ni.GetUser().GetHwModel() {
			t.Fatalf("node %08x: got %+v, radio has %v", ni.GetNum(), n, ni)
		}
		if (ni.HopsAway == nil) != (n.HopsAway == nil) || (n.HopsAway != nil && *n.HopsAway != ni.GetHopsAway()) {
			t.Fatalf("node %08x hops: got %v, radio has %v", ni.GetNum(), n.HopsAway, ni.HopsAway)
		}
	}
	if len(s.Channels) != 8 {
		t.Fatalf("channels: %d", len(s.Channels))
	}
	if s.LoRa() == nil || s.Device() == nil || s.MQTT() == nil || s.Metadata.GetFirmwareVersion() == "" || s.MyInfo == nil {
		t.Fatalf("incomplete snapshot: lora %v device %v mqtt %v metadata %v", s.LoRa(), s.Device(), s.MQTT(), s.Metadata)
	}
	if len(s.Config) < 8 || len(s.Module) < 10 {
		t.Fatalf("config sections %d, module sections %d", len(s.Config), len(s.Module))
	}
}

func TestNonceAvoidsSpecialValues(t *testing.T) {
	// A nonce source that would hand out the special values first: the
	// handshake must still complete with a full config because Dial only
	// uses what the option returns, so the default must never produce them.
	_, addr := startSim(t, fastSim(3, 5))
	seen := map[uint32]bool{}
	c := dial(t, addr, meshtastic.Options{NoEvents: true, Nonce: func() uint32 {
		n := uint32(len(seen) + 1000)
		seen[n] = true
		return n
	}})
	if len(seen) != 1 || len(c.Snapshot().Nodes) != 6 {
		t.Fatalf("handshake with custom nonce: %d nonces, %d nodes", len(seen), len(c.Snapshot().Nodes))
	}
	// And the config-only nonce, when asked for on purpose, skips other nodes.
	c2 := dial(t, addr, meshtastic.Options{NoEvents: true, Nonce: func() uint32 { return meshtastic.NonceOnlyConfig }})
	if n := len(c2.Snapshot().Nodes); n != 1 {
		t.Fatalf("config-only handshake gave %d nodes, want only our own", n)
	}
}

func TestLiveNodeUpdates(t *testing.T) {
	r, addr := startSim(t, fastSim(5, 10))
	c := dial(t, addr, meshtastic.Options{})
	target := r.Nodes()[3]
	if target.GetNum() == r.MyNodeNum() {
		target = r.Nodes()[4]
	}
	// A renaming NodeInfo keeps the node's key: one with another key is
	// dropped, as the firmware's NodeDB does.
	key := target.GetUser().GetPublicKey()
	lat, lon, bat := int32(515000000), int32(-1000000), uint32(42)
	pos, _ := proto.Marshal(&pb.Position{LatitudeI: &lat, LongitudeI: &lon, Time: uint32(time.Now().Unix())})
	tel, _ := proto.Marshal(&pb.Telemetry{Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: &pb.DeviceMetrics{BatteryLevel: &bat}}})
	user, _ := proto.Marshal(&pb.User{Id: meshtastic.NodeID(target.GetNum()), LongName: "Renamed Node", ShortName: "RN", PublicKey: key})
	rssi := int32(-97)
	bf := uint32(1)
	for i, pl := range []struct {
		port pb.PortNum
		data []byte
	}{{pb.PortNum_POSITION_APP, pos}, {pb.PortNum_TELEMETRY_APP, tel}, {pb.PortNum_NODEINFO_APP, user}} {
		r.Inject(&pb.MeshPacket{From: target.GetNum(), To: meshtastic.Broadcast, Id: uint32(0x5000 + i), RxSnr: 7.5, RxRssi: &rssi,
			HopStart: 3, HopLimit: 1, ViaMqtt: true,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pl.port, Payload: pl.data, Bitfield: &bf}}})
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind != meshtastic.EventNode || ev.Node.Num != target.GetNum() || ev.Node.LongName != "Renamed Node" {
				continue
			}
			n := ev.Node
			if n.Latitude == nil || *n.Latitude != 51.5 || n.BatteryLevel == nil || *n.BatteryLevel != 42 ||
				n.SNR != 7.5 || n.RSSI != -97 || n.HopsAway == nil || *n.HopsAway != 2 || !n.ViaMQTT ||
				time.Since(n.LastHeard) > time.Minute {
				t.Fatalf("node not updated from packets: %+v", n)
			}
			if got := c.Snapshot().Nodes[target.GetNum()]; got.ShortName != "RN" {
				t.Fatalf("snapshot not updated: %+v", got)
			}
			return
		case <-deadline:
			t.Fatal("no node update event")
		}
	}
}

// reachable returns nodes the simulated mesh should deliver to (heard
// over RF), for ack and traceroute tests.
func reachable(r *sim.Radio) []uint32 {
	var out []uint32
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() && n.HopsAway != nil {
			out = append(out, n.GetNum())
		}
	}
	return out
}

func TestTextAckAndRateLimit(t *testing.T) {
	checkGoroutines(t)
	r, addr := startSim(t, fastSim(7, 20))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A DM is acked by its destination; try a few nodes since the virtual
	// mesh has nodes that drop packets, as real meshes do.
	var acked bool
	for i, dest := range reachable(r) {
		if i > 0 {
			// The firmware's text limit is 2 s, timed when it reads the
			// frame, which can be up to 250 ms late.
			time.Sleep(2300 * time.Millisecond)
		}
		id, err := c.SendText(meshtastic.Text{To: dest, Text: "ping", WantAck: true})
		if err != nil {
			t.Fatal(err)
		}
		ack, err := c.WaitAck(ctx, id)
		if err == nil {
			if ack.From != dest || ack.Implicit {
				t.Fatalf("ack from %08x (implicit %v), want the destination %08x", ack.From, ack.Implicit, dest)
			}
			acked = true
			break
		}
		if !errors.Is(err, meshtastic.ErrNotDelivered) {
			t.Fatalf("waiting for ack: %v", err)
		}
		if i == 3 {
			break
		}
	}
	if !acked {
		t.Fatal("no DM was acked")
	}

	// A second text right away breaks the radio's 2 s limit.
	id, err := c.SendText(meshtastic.Text{Text: "too fast", WantAck: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitAck(ctx, id); !errors.Is(err, meshtastic.ErrRateLimited) {
		t.Fatalf("second text within 2 s: got %v, want ErrRateLimited", err)
	}

	// After the limit, a broadcast gets the implicit ack from our own node.
	time.Sleep(2300 * time.Millisecond)
	id, err = c.SendText(meshtastic.Text{Channel: 0, Text: "hello all", WantAck: true})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := c.WaitAck(ctx, id)
	if err != nil || !ack.Implicit || ack.From != r.MyNodeNum() {
		t.Fatalf("broadcast ack: %+v, %v", ack, err)
	}
	if _, err := c.SendText(meshtastic.Text{Text: strings.Repeat("x", 300)}); !errors.Is(err, meshtastic.ErrTooLarge) {
		t.Fatalf("oversize text: %v", err)
	}
}

func TestTracerouteAndItsLimit(t *testing.T) {
	r, addr := startSim(t, fastSim(9, 25))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes := reachable(r)
	route, err := c.Traceroute(ctx, nodes[0], meshtastic.TraceOptions{})
	if err != nil && !errors.Is(err, meshtastic.ErrNoResponse) {
		t.Fatalf("traceroute: %v", err)
	}
	if err == nil {
		if route.To != nodes[0] || route.From != r.MyNodeNum() || len(route.Towards) == 0 ||
			route.Towards[len(route.Towards)-1].Num != nodes[0] {
			t.Fatalf("route: %+v", route)
		}
		for _, h := range route.Towards[:len(route.Towards)-1] {
			if h.Num == r.MyNodeNum() || h.Num == nodes[0] {
				t.Fatalf("endpoints must not appear inside the route: %s", route)
			}
		}
	}
	// The radio allows one traceroute per 30 s from its client.
	_, err = c.Traceroute(ctx, nodes[1], meshtastic.TraceOptions{})
	if !errors.Is(err, meshtastic.ErrRateLimited) {
		t.Fatalf("second traceroute within 30 s: got %v, want ErrRateLimited", err)
	}
	if _, err := c.Traceroute(ctx, meshtastic.Broadcast, meshtastic.TraceOptions{}); err == nil {
		t.Fatal("broadcast traceroute accepted")
	}
}

func TestTracerouteReplies(t *testing.T) {
	cfg := fastSim(13, 30)
	cfg.Limits.Traceroute = -1 // no limit, so several routes can be checked quickly
	r, addr := startSim(t, cfg)
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok := 0
	for _, n := range reachable(r)[:8] {
		route, err := c.Traceroute(ctx, n, meshtastic.TraceOptions{})
		if errors.Is(err, meshtastic.ErrNoResponse) {
			continue
		}
		if err != nil {
			t.Fatalf("traceroute %08x: %v", n, err)
		}
		ok++
		if !route.BackKnown || route.Back[len(route.Back)-1].Num != r.MyNodeNum() {
			t.Fatalf("return path missing: %s", route)
		}
		if node := c.Snapshot().Nodes[n]; node.HopsAway != nil && len(route.Towards) > int(*node.HopsAway)+2 {
			t.Fatalf("route to a %d-hop node has %d hops: %s", *node.HopsAway, len(route.Towards), route)
		}
	}
	if ok == 0 {
		t.Fatal("no node answered a traceroute")
	}
}

func TestAdminRoundTrips(t *testing.T) {
	r, addr := startSim(t, fastSim(21, 10))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	lora, err := c.GetConfig(ctx, pb.AdminMessage_LORA_CONFIG)
	if err != nil || lora.GetLora() == nil {
		t.Fatalf("get lora config: %v %v", lora, err)
	}
	dev, err := c.GetConfig(ctx, pb.AdminMessage_DEVICE_CONFIG) // enum value 0 must still be sent
	if err != nil || dev.GetDevice() == nil {
		t.Fatalf("get device config: %v %v", dev, err)
	}
	mq, err := c.GetModuleConfig(ctx, pb.AdminMessage_MQTT_CONFIG)
	if err != nil || mq.GetMqtt() == nil {
		t.Fatalf("get mqtt config: %v %v", mq, err)
	}
	ch, err := c.GetChannel(ctx, 0)
	if err != nil || ch.GetRole() != pb.Channel_PRIMARY {
		t.Fatalf("get channel 0: %v %v", ch, err)
	}
	if _, err := c.GetChannel(ctx, 8); err == nil {
		t.Fatal("channel 8 accepted")
	}
	owner, err := c.GetOwner(ctx)
	if err != nil || owner.GetId() != meshtastic.NodeID(r.MyNodeNum()) {
		t.Fatalf("owner: %v %v", owner, err)
	}
	if md, err := c.GetMetadata(ctx); err != nil || md.GetFirmwareVersion() == "" {
		t.Fatalf("metadata: %v %v", md, err)
	}

	// Setting MQTT inside an edit transaction sticks and costs one reboot.
	m := proto.Clone(mq.GetMqtt()).(*pb.ModuleConfig_MQTTConfig)
	m.Enabled, m.Address, m.Root = true, "mqtt.example.net", "msh/test"
	if err := c.SetMQTTConfig(ctx, m); err != nil {
		t.Fatalf("set mqtt: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("radio did not reboot after commit")
	}
	c2 := redial(t, addr)
	if got := c2.Snapshot().MQTT(); got.GetAddress() != "mqtt.example.net" || !got.GetEnabled() || got.GetRoot() != "msh/test" {
		t.Fatalf("mqtt config after reboot: %v", got)
	}
	if got := r.Stats().Reboots; got != 1 {
		t.Fatalf("reboots: %d, want exactly 1 for one edit transaction", got)
	}

	// NodeDB reset empties the node list (our own node stays).
	drain(c2)
	if err := c2.ResetNodeDB(ctx, false); err != nil {
		t.Fatalf("nodedb reset: %v", err)
	}
	waitDone(t, c2)
	c3 := redial(t, addr)
	if n := len(c3.Snapshot().Nodes); n > 1 {
		t.Fatalf("nodes after NodeDB reset: %d", n)
	}

	// Factory reset restores the default MQTT settings.
	drain(c3)
	if err := c3.FactoryReset(ctx, false); err != nil {
		t.Fatalf("factory reset: %v", err)
	}
	waitDone(t, c3)
	c4 := redial(t, addr)
	if got := c4.Snapshot().MQTT(); got.GetAddress() == "mqtt.example.net" {
		t.Fatalf("factory reset kept the MQTT address: %v", got)
	}

	// A device factory reset also empties the NodeDB.
	r.Inject(&pb.MeshPacket{From: 0x1234abcd, To: meshtastic.Broadcast, Id: 0x7777,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("hi")}}})
	drain(c4)
	if err := c4.FactoryReset(ctx, true); err != nil {
		t.Fatalf("device factory reset: %v", err)
	}
	waitDone(t, c4)
	c4 = redial(t, addr)
	if n := len(c4.Snapshot().Nodes); n > 1 {
		t.Fatalf("nodes after a device factory reset: %d", n)
	}

	// Reboot drops the link; the radio refuses connections briefly and
	// comes back.
	drain(c4)
	if err := c4.Reboot(ctx, 0); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	waitDone(t, c4)
	c5 := redial(t, addr)
	drain(c5)

	// Shutdown stops the radio for good.
	if err := c5.Shutdown(ctx, 0); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	waitDone(t, c5)
	time.Sleep(200 * time.Millisecond)
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	if _, err := meshtastic.Dial(dctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: time.Millisecond}); !errors.Is(err, meshtastic.ErrUnreachable) {
		t.Fatalf("dial after shutdown: %v, want ErrUnreachable", err)
	}
}

func waitDone(t *testing.T, c *meshtastic.Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("link did not drop")
	}
}

// redial connects again, retrying while the radio is rebooting.
func redial(t *testing.T, addr string) *meshtastic.Client {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{WakeDelay: time.Millisecond})
		cancel()
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("radio did not come back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestContendedAndUnreachable(t *testing.T) {
	checkGoroutines(t)
	_, addr := startSim(t, fastSim(31, 5))
	a := dial(t, addr, meshtastic.Options{})
	drain(a)
	// Another app connects: the firmware closes our socket.
	b := dial(t, addr, meshtastic.Options{NoEvents: true})
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("first client was not kicked")
	}
	if err := a.Err(); !errors.Is(err, meshtastic.ErrContended) {
		t.Fatalf("kicked client: %v, want ErrContended", err)
	}
	if b.Err() != nil {
		t.Fatalf("newest client should keep the radio: %v", b.Err())
	}
	_ = b.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := meshtastic.Dial(ctx, dead, meshtastic.Options{}); !errors.Is(err, meshtastic.ErrUnreachable) || errors.Is(err, meshtastic.ErrContended) {
		t.Fatalf("closed port: %v, want ErrUnreachable", err)
	}
}

func TestHeartbeatKeepsLinkAlive(t *testing.T) {
	cfg := fastSim(41, 3)
	cfg.IdleTimeout = 400 * time.Millisecond
	r, addr := startSim(t, cfg)
	quiet := dial(t, addr, meshtastic.Options{Heartbeat: meshtastic.MaxHeartbeat})
	drain(quiet)
	waitDone(t, quiet) // the radio drops a silent client
	alive := dial(t, addr, meshtastic.Options{Heartbeat: 100 * time.Millisecond})
	drain(alive)
	time.Sleep(1200 * time.Millisecond)
	if err := alive.Err(); err != nil {
		t.Fatalf("heartbeating client dropped: %v", err)
	}
	if r.Stats().IdleTimeouts != 1 {
		t.Fatalf("idle timeouts: %d", r.Stats().IdleTimeouts)
	}
}

// TestMalformedFramesSkipped puts garbage, an oversize header and an
// undecodable frame between the radio and the client: the client skips
// them and keeps working.
func TestMalformedFramesSkipped(t *testing.T) {
	r, addr := startSim(t, fastSim(51, 8))
	proxy := garbageProxy(t, addr)
	c := dial(t, proxy, meshtastic.Options{})
	drain(c)
	if len(c.Snapshot().Nodes) != len(r.Nodes()) {
		t.Fatalf("handshake through garbage: %d nodes, want %d", len(c.Snapshot().Nodes), len(r.Nodes()))
	}
	st := c.Stats()
	if st.Malformed == 0 || st.LogLines == 0 {
		t.Fatalf("garbage not seen: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.GetConfig(ctx, pb.AdminMessage_LORA_CONFIG); err != nil {
		t.Fatalf("link unusable after garbage: %v", err)
	}
}

// garbageProxy forwards to addr, inserting junk before every chunk the
// radio sends.
func garbageProxy(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	junk := []byte("noise\n\x94\xc3\xff\xff\x94\xc3\x00\x03\xff\xff\xff")
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				down.Close()
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := down.Read(buf)
					if n > 0 {
						_, _ = up.Write(buf[:n])
					}
					if err != nil {
						up.Close()
						return
					}
				}
			}()
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						_, _ = down.Write(append(append([]byte(nil), junk...), buf[:n]...))
					}
					if err != nil {
						down.Close()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSerialEndToEnd runs the simulated radio on a pseudo-terminal and
// connects through the serial transport, boot log text included.
func TestSerialEndToEnd(t *testing.T) {
	r, err := sim.New(fastSim(61, 6))
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
	defer func() { cancel(); master.Close(); <-done }()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	conn, err := transport.Dial(dctx, transport.Address{Kind: transport.Serial, Device: path, Baud: 115200, DTR: true, RTS: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := meshtastic.Connect(dctx, conn, meshtastic.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := len(c.Snapshot().Nodes); got != len(r.Nodes()) {
		t.Fatalf("serial handshake: %d nodes, want %d", got, len(r.Nodes()))
	}
	if c.Stats().LogLines == 0 {
		t.Fatal("the boot log text on the serial line was not seen")
	}
	if _, err := c.GetConfig(dctx, pb.AdminMessage_LORA_CONFIG); err != nil {
		t.Fatalf("admin over serial: %v", err)
	}
}
