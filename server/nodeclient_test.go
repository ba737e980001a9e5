package server

import (
	"net"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// nodeApp is an app speaking the radio's client API, frame by frame, over
// a forwarded channel or a plain TCP connection.
type nodeApp struct {
	tb   testing.TB
	conn net.Conn
	mu   sync.Mutex
	got  []*pb.FromRadio
	done chan struct{}
	err  error
}

// forward opens ssh -L's channel to host:port on c.
func forward(tb testing.TB, c *gossh.Client, hostPort string) (net.Conn, error) {
	tb.Helper()
	return c.Dial("tcp", hostPort)
}

// newNodeApp reads conn's frames in the background until it closes.
func newNodeApp(tb testing.TB, conn net.Conn) *nodeApp {
	a := &nodeApp{tb: tb, conn: conn, done: make(chan struct{})}
	go a.read()
	tb.Cleanup(a.close)
	return a
}

func (a *nodeApp) close() {
	_ = a.conn.Close()
	<-a.done
}

func (a *nodeApp) read() {
	defer close(a.done)
	fr := frame.NewReader(a.conn, frame.WithPartialTimeout(0))
	for {
		it, err := fr.Next()
		if err != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
			return
		}
		if it.Kind != frame.KindFrame {
			continue
		}
		m := &pb.FromRadio{}
		if err := proto.Unmarshal(it.Payload, m); err != nil {
			a.tb.Errorf("a frame that is not a FromRadio: %v", err)
			continue
		}
		a.mu.Lock()
		a.got = append(a.got, m)
		a.mu.Unlock()
	}
}

// closed reports whether the gateway closed the connection, waiting up
// to d for it.
func (a *nodeApp) closed(d time.Duration) bool {
	select {
	case <-a.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (a *nodeApp) send(m *pb.ToRadio) {
	a.tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		a.tb.Fatal(err)
	}
	if err := frame.NewWriter(a.conn).WriteFrame(b); err != nil {
		a.tb.Fatal(err)
	}
}

func (a *nodeApp) sendPacket(p *pb.MeshPacket) {
	a.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}})
}

func (a *nodeApp) heartbeat() {
	a.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
}

func (a *nodeApp) frames() []*pb.FromRadio {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*pb.FromRadio(nil), a.got...)
}

// await waits until a received frame satisfies f and returns it.
func (a *nodeApp) await(d time.Duration, what string, f func(*pb.FromRadio) bool) *pb.FromRadio {
	a.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, m := range a.frames() {
			if f(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			a.tb.Fatalf("no %s within %s (%d frames received)", what, d, len(a.frames()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// handshake asks for a config and returns the frames up to and including
// config_complete_id.
func (a *nodeApp) handshake(nonce uint32) []*pb.FromRadio {
	a.tb.Helper()
	start := len(a.frames())
	a.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: nonce}})
	a.await(10*time.Second, "config_complete_id", func(m *pb.FromRadio) bool {
		_, ok := m.GetPayloadVariant().(*pb.FromRadio_ConfigCompleteId)
		return ok && m.GetConfigCompleteId() == nonce
	})
	all := a.frames()[start:]
	for i, m := range all {
		if _, ok := m.GetPayloadVariant().(*pb.FromRadio_ConfigCompleteId); ok && m.GetConfigCompleteId() == nonce {
			return all[:i+1]
		}
	}
	return nil
}

// answer waits for the packet answering request id.
func (a *nodeApp) answer(d time.Duration, id uint32) *pb.MeshPacket {
	a.tb.Helper()
	return a.await(d, "answer", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == id
	}).GetPacket()
}

// routingError is the error_reason of a ROUTING_APP answer.
func routingError(p *pb.MeshPacket) (pb.Routing_Error, bool) {
	d := p.GetDecoded()
	if d.GetPortnum() != pb.PortNum_ROUTING_APP {
		return 0, false
	}
	r := &pb.Routing{}
	if err := proto.Unmarshal(d.GetPayload(), r); err != nil {
		return 0, false
	}
	return r.GetErrorReason(), true
}

func appText(id, to uint32, text string, ack bool) *pb.MeshPacket {
	return &pb.MeshPacket{Id: id, To: to, WantAck: ack, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(text)}}}
}

func appAdmin(id, to uint32, m *pb.AdminMessage) *pb.MeshPacket {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return &pb.MeshPacket{Id: id, To: to, WantAck: true, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_ADMIN_APP, Payload: b, WantResponse: true}}}
}

// sshLink is a forwarded channel as the protocol library's transport, so
// that a meshtastic.Client can run over it like the python CLI does.
type sshLink struct {
	net.Conn
}

func (l sshLink) CloseWrite() error {
	if cw, ok := l.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
func (l sshLink) SetReadDeadline(time.Time) error { return nil }
func (l sshLink) Kind() transport.Kind            { return transport.TCP }
func (l sshLink) Remote() string                  { return "ssh forward" }
