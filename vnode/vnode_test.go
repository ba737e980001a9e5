package vnode

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/store"
)

// The handshake an app gets through the gateway carries what the radio's
// own gives a direct client, frame for frame, for an ordinary nonce and
// for both special ones; only the secrets are blanked for a non-admin.
func TestHandshakeIsTheRadios(t *testing.T) {
	cfg := fastSim(11, 25)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return at } // own node's last_heard and uptime stay put
	r, addr := simtest.Start(t, cfg)
	nonces := []uint32{0x5eed1234, meshtastic.NonceOnlyConfig, meshtastic.NonceOnlyNodes}
	direct := map[uint32][]*pb.FromRadio{}
	for _, n := range nonces { // before the gateway takes the radio: it serves one client
		c := dialRaw(t, addr)
		direct[n] = c.Handshake(n)
		c.Close()
	}
	h := newHarnessFor(t, r, addr)
	c := dialRaw(t, h.listen(admin, false))
	for _, n := range nonces {
		got := c.Handshake(n)
		want := direct[n]
		if len(got) != len(want) {
			t.Errorf("nonce %d: %d frames through the gateway, %d from the radio", n, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("nonce %d, frame %d:\n got  %v\n want %v", n, i, got[i], want[i])
			}
		}
	}
	if len(direct[meshtastic.NonceOnlyNodes]) >= len(direct[0x5eed1234]) || len(direct[meshtastic.NonceOnlyConfig]) >= len(direct[0x5eed1234]) {
		t.Error("the special nonces did not shorten the radio's own handshake")
	}

	v := dialRaw(t, h.listen(viewer, false))
	for _, m := range v.Handshake(77) {
		if s := m.GetConfig().GetSecurity(); s != nil && len(s.GetPrivateKey()) > 0 {
			t.Error("a viewer got the radio's private key")
		}
		if ch := m.GetChannel(); ch != nil {
			// Keys are withheld as zeros of their length (an empty key
			// would read as "unencrypted"); a default-key index is public.
			if k := ch.GetSettings().GetPsk(); len(k) > 1 && !bytes.Equal(k, make([]byte, len(k))) {
				t.Errorf("a viewer got channel %d's key", ch.GetIndex())
			}
		}
	}
	var own bool
	for _, m := range direct[0x5eed1234] {
		if s := m.GetConfig().GetSecurity(); s != nil && len(s.GetPrivateKey()) > 0 {
			own = true
		}
	}
	if !own {
		t.Log("the simulated radio has no private key to hide")
	}
}

// Three apps at once get the same live packets, in order, and nobody is
// kicked: not the apps, not the gateway's own link.
func TestThreeClientsShareLiveTraffic(t *testing.T) {
	h := newHarness(t, fastSim(12, 10))
	addr := h.listen(viewer, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var clients []*meshtastic.Client
	for range 3 {
		c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{WakeDelay: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	if n := h.br.VirtualClients(); n != 3 {
		t.Errorf("%d virtual clients, want 3", n)
	}
	from := h.nodes(1)[0]
	var ids []uint32
	for i := range 5 {
		p := &pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: uint32(0x1000 + i), HopLimit: 3, HopStart: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("hello " + string(rune('a'+i)))}}}
		h.sim.Inject(p)
		ids = append(ids, p.Id)
	}
	for i, c := range clients {
		var got []uint32
		deadline := time.After(5 * time.Second)
		for len(got) < len(ids) {
			select {
			case ev := <-c.Events():
				if ev.Kind == meshtastic.EventPacket && ev.Packet.GetFrom() == from {
					got = append(got, ev.Packet.GetId())
				}
			case <-deadline:
				t.Fatalf("client %d got %d of %d packets", i, len(got), len(ids))
			}
		}
		for j := range ids {
			if got[j] != ids[j] {
				t.Errorf("client %d: packet %d is %#x, want %#x", i, j, got[j], ids[j])
			}
		}
	}
	for i, c := range clients {
		if err := c.Err(); err != nil {
			t.Errorf("client %d disconnected: %v", i, err)
		}
	}
	st := h.sim.Stats()
	if st.Accepted != 1 || st.Kicked != 0 {
		t.Errorf("the radio accepted %d connections and kicked %d; want the gateway's one", st.Accepted, st.Kicked)
	}
	if got := len(h.sess.List()); got != 3 {
		t.Errorf("%d sessions, want 3 of kind node", got)
	}
	for _, s := range h.sess.List() {
		if s.User.Kind.String() != "node" || s.Radio != "base" {
			t.Errorf("session %+v: want kind node on base", s)
		}
	}
}

// A viewer's text is answered NOT_AUTHORIZED with its own id, and
// nothing reaches the radio.
func TestViewerTextRefused(t *testing.T) {
	h := newHarness(t, fastSim(13, 5))
	c := dialRaw(t, h.listen(viewer, false))
	c.Handshake(1)
	before := h.sim.Stats().ClientPackets
	to := h.nodes(1)[0]
	c.SendPacket(textPacket(0xabc123, to, "hi", true))
	ans := c.Await(3*time.Second, "refusal", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0xabc123
	}).GetPacket()
	if e, ok := routingError(ans); !ok || e != pb.Routing_NOT_AUTHORIZED {
		t.Errorf("answer %v, want routing NOT_AUTHORIZED", ans)
	}
	n := c.Await(time.Second, "notification", func(m *pb.FromRadio) bool {
		return m.GetClientNotification().GetReplyId() == 0xabc123
	}).GetClientNotification()
	if !strings.Contains(n.GetMessage(), "operator") {
		t.Errorf("notification %q does not say what role it takes", n.GetMessage())
	}
	time.Sleep(100 * time.Millisecond)
	if got := h.sim.Stats().ClientPackets; got != before {
		t.Errorf("the radio got %d packets from the gateway", got-before)
	}
	// An operator's admin message is refused the same way.
	o := dialRaw(t, h.listen(operator, false))
	o.Handshake(2)
	o.SendPacket(adminPacket(0x5151, h.sim.MyNodeNum(), &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 5}}))
	ans = o.Await(3*time.Second, "refusal", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0x5151
	}).GetPacket()
	if e, _ := routingError(ans); e != pb.Routing_NOT_AUTHORIZED {
		t.Errorf("an operator's reboot: %v", ans)
	}
	if h.sim.Stats().Reboots != 0 {
		t.Error("the radio rebooted for an operator")
	}
}

func adminPacket(id, to uint32, am *pb.AdminMessage) *pb.MeshPacket {
	b, _ := proto.Marshal(am)
	return &pb.MeshPacket{Id: id, To: to, WantAck: true, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_ADMIN_APP, Payload: b, WantResponse: true}}}
}

// An operator's DM ack and traceroute answer reach only the sender, with
// the sender's own packet id.
func TestAnswersReachOnlyTheSender(t *testing.T) {
	h := newHarness(t, fastSim(14, 8))
	addr := h.listen(operator, false)
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	a.Handshake(1)
	b.Handshake(2)
	dest := h.nodes(1)[0]
	a.SendPacket(textPacket(0x7701, dest, "are you there", true))
	ack := a.Await(5*time.Second, "ack", func(m *pb.FromRadio) bool {
		e, ok := routingError(m.GetPacket())
		return ok && e == pb.Routing_NONE && m.GetPacket().GetDecoded().GetRequestId() == 0x7701
	}).GetPacket()
	if ack.GetFrom() != dest {
		t.Errorf("ack from %#x, want the destination %#x", ack.GetFrom(), dest)
	}
	a.Await(time.Second, "queue status", func(m *pb.FromRadio) bool {
		return m.GetQueueStatus().GetMeshPacketId() == 0x7701
	})
	a.SendPacket(&pb.MeshPacket{Id: 0x7702, To: dest, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, WantResponse: true}}})
	a.Await(5*time.Second, "traceroute reply", func(m *pb.FromRadio) bool {
		d := m.GetPacket().GetDecoded()
		return d.GetPortnum() == pb.PortNum_TRACEROUTE_APP && d.GetRequestId() == 0x7702
	})
	time.Sleep(100 * time.Millisecond)
	for _, m := range b.Frames() {
		if p := m.GetPacket(); p != nil && p.GetDecoded().GetRequestId() != 0 {
			t.Errorf("the other app got an answer: %v", p)
		}
		if q := m.GetQueueStatus(); q != nil && q.GetMeshPacketId() != 0 {
			t.Errorf("the other app got a queue status: %v", q)
		}
	}
	// The text is in the radio's history as sent by the operator.
	found := false
	for _, m := range h.br.Messages(0) {
		if m.Outgoing && m.Text == "are you there" && m.SentBy == "otto" {
			found = true
		}
	}
	if !found {
		t.Error("the app's text is not in the radio's history")
	}
}

// Two apps that use the same packet id each get their own answer with
// that id, and the radio sees two different ids.
func TestSameIDFromTwoClients(t *testing.T) {
	h := newHarness(t, fastSim(15, 8))
	addr := h.listen(operator, false)
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	a.Handshake(1)
	b.Handshake(2)
	dests := h.nodes(2)
	a.SendPacket(textPacket(0x4242, dests[0], "from a", true))
	b.SendPacket(textPacket(0x4242, dests[1], "from b", true))
	for i, c := range []*rawClient{a, b} {
		ack := c.Await(5*time.Second, "ack", func(m *pb.FromRadio) bool {
			e, ok := routingError(m.GetPacket())
			return ok && e == pb.Routing_NONE && m.GetPacket().GetDecoded().GetRequestId() == 0x4242
		}).GetPacket()
		if ack.GetFrom() != dests[i] {
			t.Errorf("client %d: ack from %#x, want %#x", i, ack.GetFrom(), dests[i])
		}
	}
	time.Sleep(100 * time.Millisecond)
	for i, c := range []*rawClient{a, b} {
		if n := len(c.Answers(0x4242)); n != 1 {
			t.Errorf("client %d got %d answers, want its own one", i, n)
		}
	}
	if d := h.sim.Stats().Duplicates; d != 0 {
		t.Errorf("the radio dropped %d packets as duplicates", d)
	}
}

// An admin's config write reaches the radio, is answered to the admin's
// app, is announced to the radio's other users, and is in the audit log.
func TestAdminConfigWriteAudited(t *testing.T) {
	h := newHarness(t, fastSim(16, 4))
	watcher := dialRaw(t, h.listen(viewer, false))
	watcher.Handshake(3)
	a := dialRaw(t, h.listen(admin, false))
	hs := a.Handshake(4)
	var lora *pb.Config_LoRaConfig
	for _, m := range hs {
		if l := m.GetConfig().GetLora(); l != nil {
			lora = proto.Clone(l).(*pb.Config_LoRaConfig)
		}
	}
	if lora == nil {
		t.Fatal("no LoRa config in the handshake")
	}
	lora.HopLimit = 5
	a.SendPacket(adminPacket(0x6601, h.sim.MyNodeNum(), &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetConfig{
		SetConfig: &pb.Config{PayloadVariant: &pb.Config_Lora{Lora: lora}}}}))
	ans := a.Await(5*time.Second, "ack", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0x6601
	}).GetPacket()
	if e, ok := routingError(ans); !ok || e != pb.Routing_NONE {
		t.Errorf("answer %v, want an ack", ans)
	}
	watcher.Await(2*time.Second, "announcement", func(m *pb.FromRadio) bool {
		return strings.Contains(m.GetClientNotification().GetMessage(), "ada is changing this radio from an app: set_config lora")
	})
	deadline := time.Now().Add(3 * time.Second)
	for {
		entries, err := h.db.Audit(context.Background(), store.AuditQuery{Action: "node.admin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 1 {
			e := entries[0]
			if e.User != "ada" || e.Radio != "base" || !strings.Contains(e.Detail, "set_config lora") || !strings.Contains(e.Detail, "accepted") {
				t.Errorf("audit entry %+v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit entries, want 1", len(entries))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The radio reboots for the write; the apps stay connected.
	time.Sleep(500 * time.Millisecond)
	if watcher.Closed(0) || a.Closed(0) {
		t.Error("an app was disconnected by the radio's reboot")
	}
}

// Heartbeats are answered by the gateway; the radio never sees them.
func TestHeartbeatAnsweredLocally(t *testing.T) {
	h := newHarness(t, fastSim(17, 3))
	c := dialRaw(t, h.listen(viewer, false))
	time.Sleep(200 * time.Millisecond) // the broker's own first heartbeat
	before := h.sim.Stats().FramesIn
	for range 3 {
		c.Send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := 0
		for _, m := range c.Frames() {
			if q := m.GetQueueStatus(); q != nil && q.GetMeshPacketId() == 0 && q.GetMaxlen() > 0 {
				n++
			}
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeat answers, want 3", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := h.sim.Stats().FramesIn; got != before {
		t.Errorf("the radio read %d frames", got-before)
	}
}

// Apps connecting, leaving politely and hanging up never touch the
// upstream link, and leave no goroutine behind.
func TestDisconnectsLeaveTheUpstreamAlone(t *testing.T) {
	h := newHarness(t, fastSim(18, 5))
	addr := h.listen(operator, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	settle := func() int {
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	base := settle()
	for i := range 4 {
		if i%2 == 0 {
			c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{WakeDelay: -1})
			if err != nil {
				t.Fatal(err)
			}
			_ = c.Close() // disconnect, then close
		} else {
			r := dialRaw(t, addr)
			r.Handshake(uint32(i + 1))
			r.Close() // hang up
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.br.VirtualClients() != 0 || len(h.sess.List()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d virtual clients and %d sessions left", h.br.VirtualClients(), len(h.sess.List()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := h.br.Status()
	if st.State.String() != "connected" || st.Reconnects != 0 {
		t.Errorf("the upstream link: %s after %d reconnects", st.State, st.Reconnects)
	}
	if s := h.sim.Stats(); s.Accepted != 1 || s.Kicked != 0 {
		t.Errorf("the radio accepted %d connections, kicked %d", s.Accepted, s.Kicked)
	}
	for _, err := range h.served() {
		if err != nil {
			t.Errorf("Serve returned %v for an app that left", err)
		}
	}
	for n := settle(); n > base; n = settle() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before the apps:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
	}
}

// Kicking a virtual client's session closes its connection.
func TestKickClosesTheClient(t *testing.T) {
	h := newHarness(t, fastSim(19, 3))
	c := dialRaw(t, h.listen(viewer, true))
	c.Handshake(9)
	list := h.sess.List()
	if len(list) != 1 {
		t.Fatalf("%d sessions", len(list))
	}
	if err := h.sess.Kick(list[0].ID, "kicked by ada"); err != nil {
		t.Fatal(err)
	}
	if !c.Closed(3 * time.Second) {
		t.Fatal("the kicked app is still connected")
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(h.served()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not return")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.served()[0]; !errors.Is(err, ErrEnded) || !strings.Contains(err.Error(), "kicked by ada") {
		t.Errorf("Serve returned %v", err)
	}
}

var _ = sim.Config{}
