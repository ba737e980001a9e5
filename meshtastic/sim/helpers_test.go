package sim

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

const waitLong = 5 * time.Second

// fastConfig keeps every delay short so the suite stays quick.
func fastConfig(seed int64) Config {
	return Config{
		Seed:            seed,
		Nodes:           25,
		AckDelay:        5 * time.Millisecond,
		TracerouteDelay: 10 * time.Millisecond,
		RebootDowntime:  300 * time.Millisecond,
		// Settings writes reboot the node; keep that quick too.
		AdminRebootDelay: 50 * time.Millisecond,
	}
}

type testRadio struct {
	*Radio
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startRadio serves a new radio on a loopback port until the test ends.
func startRadio(t *testing.T, cfg Config) *testRadio {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testRadio{Radio: r, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { tr.done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() { tr.stop(t) })
	return tr
}

// stop cancels Serve and checks it returns nil promptly.
func (tr *testRadio) stop(t *testing.T) {
	t.Helper()
	tr.cancel()
	select {
	case err, ok := <-tr.done:
		if ok && err != nil {
			t.Errorf("Serve returned %v", err)
		}
		if ok {
			close(tr.done)
		}
	case <-time.After(waitLong):
		t.Errorf("Serve did not return after cancel")
	}
}

// client is a minimal raw API client: frames in, FromRadio out.
type client struct {
	t    *testing.T
	conn net.Conn
	w    *frame.Writer
	in   chan *pb.FromRadio
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, w: frame.NewWriter(conn), in: make(chan *pb.FromRadio, 4096)}
	go func() {
		defer close(c.in)
		fr := frame.NewReader(conn)
		for {
			it, err := fr.Next()
			if err != nil {
				return
			}
			if it.Kind != frame.KindFrame {
				continue
			}
			m := &pb.FromRadio{}
			if err := proto.Unmarshal(it.Payload, m); err != nil {
				t.Errorf("radio sent an undecodable frame: %v", err)
				continue
			}
			c.in <- m
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *client) send(m *pb.ToRadio) {
	c.t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.w.WriteFrame(b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) wantConfig(nonce uint32) {
	c.t.Helper()
	c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: nonce}})
}

func (c *client) heartbeat(nonce uint32) {
	c.t.Helper()
	c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{Nonce: nonce}}})
}

func (c *client) packet(p *pb.MeshPacket) {
	c.t.Helper()
	c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}})
}

// next returns the next FromRadio, or nil on timeout or closed link.
func (c *client) next(d time.Duration) *pb.FromRadio {
	select {
	case m := <-c.in:
		return m
	case <-time.After(d):
		return nil
	}
}

// handshake runs a full config exchange and returns everything received
// up to and including config_complete_id.
func (c *client) handshake(nonce uint32) []*pb.FromRadio {
	c.t.Helper()
	c.wantConfig(nonce)
	var got []*pb.FromRadio
	for {
		m := c.next(waitLong)
		if m == nil {
			c.t.Fatalf("handshake: no config_complete after %d frames", len(got))
		}
		got = append(got, m)
		if m.GetConfigCompleteId() == nonce && isComplete(m) {
			return got
		}
	}
}

func isComplete(m *pb.FromRadio) bool {
	_, ok := m.PayloadVariant.(*pb.FromRadio_ConfigCompleteId)
	return ok
}

// waitFor returns the first FromRadio matching pred, failing after d.
func (c *client) waitFor(d time.Duration, what string, pred func(*pb.FromRadio) bool) *pb.FromRadio {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.t.Fatalf("link closed while waiting for %s", what)
			}
			if pred(m) {
				return m
			}
		case <-deadline:
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// none checks that nothing matching pred arrives within d.
func (c *client) none(d time.Duration, what string, pred func(*pb.FromRadio) bool) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return
			}
			if pred(m) {
				c.t.Fatalf("unexpected %s: %v", what, m)
			}
		case <-deadline:
			return
		}
	}
}

// closed waits for the radio to close the link.
func (c *client) closed(d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// routingFor matches a ROUTING_APP packet answering request id.
func routingFor(id uint32) func(*pb.FromRadio) bool {
	return func(m *pb.FromRadio) bool {
		d := m.GetPacket().GetDecoded()
		return d.GetPortnum() == pb.PortNum_ROUTING_APP && d.GetRequestId() == id
	}
}

func routingError(t *testing.T, m *pb.FromRadio) pb.Routing_Error {
	t.Helper()
	rt := &pb.Routing{}
	if err := proto.Unmarshal(m.GetPacket().GetDecoded().GetPayload(), rt); err != nil {
		t.Fatal(err)
	}
	return rt.GetErrorReason()
}

func queueStatusFor(id uint32) func(*pb.FromRadio) bool {
	return func(m *pb.FromRadio) bool {
		qs := m.GetQueueStatus()
		return qs != nil && qs.MeshPacketId == id
	}
}

func text(to, id uint32, s string) *pb.MeshPacket {
	return &pb.MeshPacket{To: to, Id: id, HopLimit: 3, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
		Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(s)}}}
}

// admin wraps an AdminMessage for our own node.
func admin(r *Radio, id uint32, want bool, m *pb.AdminMessage) *pb.MeshPacket {
	b, _ := proto.Marshal(m)
	return &pb.MeshPacket{To: r.MyNodeNum(), Id: id, HopLimit: 3, WantAck: true, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
		Portnum: pb.PortNum_ADMIN_APP, Payload: b, WantResponse: want}}}
}

// adminReply waits for the AdminMessage answering id and checks the
// packet around it: from and to our own node, request_id, a passkey.
func (c *client) adminReply(r *Radio, id uint32) *pb.AdminMessage {
	c.t.Helper()
	m := c.waitFor(waitLong, "admin reply", func(m *pb.FromRadio) bool {
		d := m.GetPacket().GetDecoded()
		return d.GetPortnum() == pb.PortNum_ADMIN_APP && d.GetRequestId() == id
	})
	if p := m.GetPacket(); p.From != r.MyNodeNum() || p.To != r.MyNodeNum() {
		c.t.Errorf("admin reply from %x to %x", p.From, p.To)
	}
	am := &pb.AdminMessage{}
	if err := proto.Unmarshal(m.GetPacket().GetDecoded().GetPayload(), am); err != nil {
		c.t.Fatal(err)
	}
	if len(am.SessionPasskey) != 8 {
		c.t.Errorf("admin reply without an 8-byte session passkey: %v", am)
	}
	return am
}

// peerWhere returns a simulated node matching pred.
func peerWhere(t *testing.T, r *Radio, pred func(*peer) bool) *peer {
	t.Helper()
	for _, p := range r.mesh.peers {
		if pred(p) {
			return p
		}
	}
	t.Skip("seed has no node of the wanted kind")
	return nil
}

var errTimeout = errors.New("timeout")

// eventually polls cond until it holds or d passes.
func eventually(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
