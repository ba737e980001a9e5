package sim

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func TestTextDMAck(t *testing.T) {
	cfg := fastConfig(11)
	cfg.Limits.Text = -1
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	c.handshake(1)
	pe := peerWhere(t, tr.Radio, func(p *peer) bool { return p.reachable && !p.viaMQTT && p.hops == 1 })

	p := text(pe.num, 0x1001, "hello")
	p.WantAck = true
	p.From = 0xDEADBEEF // ignored
	c.packet(p)
	qs := c.waitFor(waitLong, "queue status", queueStatusFor(0x1001)).GetQueueStatus()
	if qs.Res != 0 || qs.Maxlen != txQueueMax || qs.Free == 0 {
		t.Errorf("queue status %v", qs)
	}
	ack := c.waitFor(waitLong, "ack", routingFor(0x1001))
	if routingError(t, ack) != pb.Routing_NONE || ack.GetPacket().From != pe.num || ack.GetPacket().To != tr.MyNodeNum() {
		t.Errorf("ack %v", ack)
	}
	if h := ack.GetPacket(); h.HopStart-h.HopLimit != 1 || h.RxSnr == 0 && h.RxRssi == nil {
		t.Errorf("ack hop/rx fields %v", h)
	}
	// No echo of our own packet.
	c.none(50*time.Millisecond, "echo", func(m *pb.FromRadio) bool { return m.GetPacket().GetId() == 0x1001 })

	// A broadcast with want_ack is acked implicitly by our own node.
	b := text(Broadcast, 0x1002, "all")
	b.WantAck = true
	c.packet(b)
	ack = c.waitFor(waitLong, "implicit ack", routingFor(0x1002))
	if routingError(t, ack) != pb.Routing_NONE || ack.GetPacket().From != tr.MyNodeNum() {
		t.Errorf("implicit ack %v", ack)
	}
}

func TestUnreachableAndUnknown(t *testing.T) {
	cfg := fastConfig(12)
	cfg.Limits.Text = -1
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	c.handshake(1)

	p := text(0x12345678, 0x2001, "anyone?") // not in the mesh
	p.WantAck = true
	c.packet(p)
	m := c.waitFor(waitLong, "nak", routingFor(0x2001))
	if routingError(t, m) != pb.Routing_MAX_RETRANSMIT || m.GetPacket().From != tr.MyNodeNum() {
		t.Errorf("unknown node: %v", m)
	}

	pe := peerWhere(t, tr.Radio, func(p *peer) bool { return !p.reachable })
	p = text(pe.num, 0x2002, "hello?")
	p.WantAck = true
	c.packet(p)
	if m := c.waitFor(waitLong, "nak", routingFor(0x2002)); routingError(t, m) != pb.Routing_MAX_RETRANSMIT {
		t.Errorf("unreachable node: %v", m)
	}
}

func TestTextRateLimit(t *testing.T) {
	tr := startRadio(t, fastConfig(13))
	c := dial(t, tr.addr)
	c.handshake(1)
	c.packet(text(Broadcast, 0x3001, "one"))
	c.waitFor(waitLong, "status", queueStatusFor(0x3001))
	// The refusal is addressed to the packet's from: a client that sets it
	// to our node number hears it.
	p := text(Broadcast, 0x3002, "two")
	p.From = tr.MyNodeNum()
	c.packet(p)
	qs := c.waitFor(waitLong, "status", queueStatusFor(0x3002)).GetQueueStatus()
	if qs.Res != 0 {
		t.Errorf("rate-limited text status res=%d", qs.Res)
	}
	m := c.waitFor(waitLong, "rate limit error", routingFor(0x3002))
	if routingError(t, m) != pb.Routing_RATE_LIMIT_EXCEEDED || m.GetPacket().From != tr.MyNodeNum() || m.GetPacket().To != tr.MyNodeNum() {
		t.Errorf("got %v", m)
	}
	// Left unset (0), the NAK goes out over the air to node 0: the client
	// only gets the same QueueStatus as for an accepted packet.
	c.packet(text(Broadcast, 0x3003, "three"))
	if qs := c.waitFor(waitLong, "status", queueStatusFor(0x3003)).GetQueueStatus(); qs.Res != 0 {
		t.Errorf("status res=%d", qs.Res)
	}
	c.none(300*time.Millisecond, "a refusal addressed to node 0", routingFor(0x3003))
	if s := tr.Stats(); s.ClientPackets != 1 || s.RateLimited != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestReadPollingTimesTheTextLimit: the firmware reads the link every
// 250 ms when it has heard nothing for 2 s and every 5 ms otherwise, and
// times the text limit at the read. Two texts written 2.1 s apart are read
// 1.9 s apart when the first waited for an idle poll and the second did not.
func TestReadPollingTimesTheTextLimit(t *testing.T) {
	tr := startRadio(t, fastConfig(14)) // polling on: the firmware default
	c := dial(t, tr.addr)
	c.handshake(1)
	c.heartbeat(0)
	c.waitFor(waitLong, "heartbeat answer", queueStatusFor(0))
	read := time.Now() // the radio read the heartbeat just now
	time.Sleep(time.Until(read.Add(2050 * time.Millisecond)))
	a := text(Broadcast, 0x3101, "first")
	a.From = tr.MyNodeNum()
	c.packet(a) // idle now: read at the next 250 ms poll, 2.25 s after the heartbeat
	sent := time.Now()
	c.waitFor(waitLong, "status", queueStatusFor(0x3101))
	if d := time.Since(sent); d < 150*time.Millisecond {
		t.Errorf("a frame written while the radio was idle was read after %v, want about 200 ms", d)
	}
	time.Sleep(time.Until(sent.Add(2100 * time.Millisecond)))
	b := text(Broadcast, 0x3102, "second")
	b.From = tr.MyNodeNum()
	c.packet(b) // read at once: 1.9 s after the first
	if m := c.waitFor(waitLong, "refusal", routingFor(0x3102)); routingError(t, m) != pb.Routing_RATE_LIMIT_EXCEEDED {
		t.Fatalf("second text: %v, want RATE_LIMIT_EXCEEDED", m)
	}
}

func TestPollerSchedule(t *testing.T) {
	p := &poller{idle: 250 * time.Millisecond, busy: 5 * time.Millisecond, rng: rand.New(rand.NewPCG(1, 2))}
	t0 := time.Unix(1000, 0)
	if d := p.wait(t0); d < 0 || d >= 255*time.Millisecond {
		t.Fatalf("first read after %v", d)
	}
	p.read(t0)
	if d := p.wait(t0.Add(1900 * time.Millisecond)); d >= 5*time.Millisecond {
		t.Fatalf("read within the busy window after %v", d)
	}
	if d := p.wait(t0.Add(2010 * time.Millisecond)); d < 240*time.Millisecond || d >= 245*time.Millisecond {
		t.Fatalf("idle read after %v, want the poll at 2.25 s", d)
	}
	if d := p.wait(t0.Add(2300 * time.Millisecond)); d < 200*time.Millisecond || d >= 205*time.Millisecond {
		t.Fatalf("idle read after %v, want the poll at 2.5 s", d)
	}
	off := &poller{idle: -1, busy: 5 * time.Millisecond, rng: p.rng}
	if d := off.wait(t0); d != 0 {
		t.Fatalf("polling off: %v", d)
	}
}

func TestSlowPortRateLimitAndDuplicates(t *testing.T) {
	tr := startRadio(t, fastConfig(14))
	c := dial(t, tr.addr)
	c.handshake(1)
	pos := func(id uint32) *pb.MeshPacket {
		return &pb.MeshPacket{To: Broadcast, Id: id, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum: pb.PortNum_POSITION_APP}}}
	}
	c.packet(pos(0x4001))
	c.waitFor(waitLong, "status", queueStatusFor(0x4001))
	c.packet(pos(0x4002)) // within 10 s: status only, silently dropped
	c.waitFor(waitLong, "status", queueStatusFor(0x4002))
	c.none(100*time.Millisecond, "anything else", func(m *pb.FromRadio) bool { return true })

	// A reused id is dropped without any answer.
	c.packet(text(Broadcast, 0x4001, "dup"))
	c.none(100*time.Millisecond, "answer to a duplicate", func(m *pb.FromRadio) bool { return true })
	if s := tr.Stats(); s.Duplicates != 1 || s.RateLimited != 1 || s.ClientPackets != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestTracerouteRateLimitAndBroadcast(t *testing.T) {
	tr := startRadio(t, fastConfig(15))
	c := dial(t, tr.addr)
	c.handshake(1)
	pe := peerWhere(t, tr.Radio, func(p *peer) bool { return p.reachable && p.traces && !p.viaMQTT })
	trace := func(to, id uint32, hops uint32) *pb.MeshPacket {
		return &pb.MeshPacket{To: to, Id: id, HopLimit: hops, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum: pb.PortNum_TRACEROUTE_APP, WantResponse: true}}}
	}
	c.packet(trace(Broadcast, 0x5000, 3))
	n := c.waitFor(waitLong, "notification", func(m *pb.FromRadio) bool { return m.GetClientNotification() != nil })
	if n.GetClientNotification().GetReplyId() != 0x5000 {
		t.Errorf("notification %v", n)
	}
	c.waitFor(waitLong, "status", queueStatusFor(0x5000))

	c.packet(trace(pe.num, 0x5001, 3))
	c.waitFor(waitLong, "status", queueStatusFor(0x5001))
	c.packet(trace(pe.num, 0x5002, 3))
	n = c.waitFor(waitLong, "notification", func(m *pb.FromRadio) bool { return m.GetClientNotification() != nil })
	if !strings.Contains(n.GetClientNotification().GetMessage(), "30 seconds") {
		t.Errorf("notification %v", n)
	}
	c.waitFor(waitLong, "status", queueStatusFor(0x5002))
	c.waitFor(waitLong, "reply to the first", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0x5001
	})
	c.none(100*time.Millisecond, "reply to the limited one", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0x5002
	})
}

func TestTooLarge(t *testing.T) {
	cfg := fastConfig(16)
	cfg.Limits.Text = -1
	tr := startRadio(t, cfg)
	c := dial(t, tr.addr)
	c.handshake(1)
	ok := text(Broadcast, 0x6001, strings.Repeat("a", 232))
	c.packet(ok)
	if qs := c.waitFor(waitLong, "status", queueStatusFor(0x6001)).GetQueueStatus(); qs.Res != 0 {
		t.Errorf("232-byte text refused: %v", qs)
	}
	big := text(Broadcast, 0x6002, strings.Repeat("a", 233))
	c.packet(big)
	if qs := c.waitFor(waitLong, "status", queueStatusFor(0x6002)).GetQueueStatus(); qs.Res != int32(pb.Routing_TOO_LARGE) {
		t.Errorf("233-byte text status %v", qs)
	}
	if m := c.waitFor(waitLong, "nak", routingFor(0x6002)); routingError(t, m) != pb.Routing_TOO_LARGE {
		t.Errorf("got %v", m)
	}
	// A DM to a node with a public key goes out PKI-encrypted: less room.
	pe := peerWhere(t, tr.Radio, func(p *peer) bool { return len(p.pubKey) == 32 && p.reachable })
	dm := text(pe.num, 0x6003, strings.Repeat("b", 221))
	c.packet(dm)
	if m := c.waitFor(waitLong, "nak", routingFor(0x6003)); routingError(t, m) != pb.Routing_TOO_LARGE {
		t.Errorf("got %v", m)
	}
	// A disabled channel cannot send.
	off := text(Broadcast, 0x6004, "x")
	off.Channel = 7
	c.packet(off)
	if m := c.waitFor(waitLong, "nak", routingFor(0x6004)); routingError(t, m) != pb.Routing_NO_CHANNEL {
		t.Errorf("got %v", m)
	}
}

func TestDataRequestReply(t *testing.T) {
	tr := startRadio(t, fastConfig(17))
	c := dial(t, tr.addr)
	c.handshake(1)
	pe := peerWhere(t, tr.Radio, func(p *peer) bool { return p.reachable && !p.viaMQTT })
	c.packet(&pb.MeshPacket{To: pe.num, Id: 0x7001, WantAck: true, HopLimit: 3, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
		Portnum: pb.PortNum_NODEINFO_APP, WantResponse: true}}})
	m := c.waitFor(waitLong, "nodeinfo reply", func(m *pb.FromRadio) bool { return m.GetPacket().GetDecoded().GetRequestId() == 0x7001 })
	if m.GetPacket().GetDecoded().GetPortnum() != pb.PortNum_NODEINFO_APP || m.GetPacket().From != pe.num {
		t.Errorf("reply %v", m)
	}
}
