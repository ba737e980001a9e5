// Package vnodetest is a test client of a radio's client API: an app
// that speaks frames over any connection (a radio, a virtual node, an SSH
// forward) and keeps every FromRadio it receives.
package vnodetest

import (
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// App is one client connection.
type App struct {
	tb   testing.TB
	conn net.Conn
	mu   sync.Mutex
	got  []*pb.FromRadio
	done chan struct{}
}

// New reads conn's frames in the background until it closes; the test's
// cleanup closes it.
func New(tb testing.TB, conn net.Conn) *App {
	a := &App{tb: tb, conn: conn, done: make(chan struct{})}
	go a.read()
	tb.Cleanup(a.Close)
	return a
}

// Dial connects to addr over TCP.
func Dial(tb testing.TB, addr string) *App {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	return New(tb, conn)
}

// Close hangs up and waits for the reader.
func (a *App) Close() {
	_ = a.conn.Close()
	<-a.done
}

func (a *App) read() {
	defer close(a.done)
	fr := frame.NewReader(a.conn, frame.WithPartialTimeout(0))
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
			a.tb.Errorf("a frame that is not a FromRadio: %v", err)
			continue
		}
		a.mu.Lock()
		a.got = append(a.got, m)
		a.mu.Unlock()
	}
}

// Closed reports whether the other side closed the connection, waiting
// up to d for it.
func (a *App) Closed(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-a.done:
			return true
		default:
			return false
		}
	}
	select {
	case <-a.done:
		return true
	case <-time.After(d):
		return false
	}
}

// WriteFrame writes payload as one frame, whatever it holds (fuzzing);
// unlike Send it returns the error, since a hang-up may follow.
func (a *App) WriteFrame(payload []byte) error {
	return frame.NewWriter(a.conn).WriteFrame(payload)
}

// Send writes one ToRadio.
func (a *App) Send(m *pb.ToRadio) {
	a.tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		a.tb.Fatal(err)
	}
	if err := frame.NewWriter(a.conn).WriteFrame(b); err != nil {
		a.tb.Fatal(err)
	}
}

// WantConfig starts a handshake with nonce.
func (a *App) WantConfig(nonce uint32) {
	a.Send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: nonce}})
}

// SendPacket sends a mesh packet.
func (a *App) SendPacket(p *pb.MeshPacket) {
	a.Send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}})
}

// Heartbeat sends a heartbeat.
func (a *App) Heartbeat() {
	a.Send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
}

// Frames returns everything received so far.
func (a *App) Frames() []*pb.FromRadio {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*pb.FromRadio(nil), a.got...)
}

// Await waits until a received frame satisfies f and returns it.
func (a *App) Await(d time.Duration, what string, f func(*pb.FromRadio) bool) *pb.FromRadio {
	a.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, m := range a.Frames() {
			if f(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			a.tb.Fatalf("no %s within %s (%d frames received)", what, d, len(a.Frames()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Handshake asks for a config and returns the frames up to and including
// config_complete_id.
func (a *App) Handshake(nonce uint32) []*pb.FromRadio {
	a.tb.Helper()
	start := len(a.Frames())
	a.WantConfig(nonce)
	complete := func(m *pb.FromRadio) bool {
		_, ok := m.GetPayloadVariant().(*pb.FromRadio_ConfigCompleteId)
		return ok && m.GetConfigCompleteId() == nonce
	}
	a.Await(10*time.Second, "config_complete_id", complete)
	all := a.Frames()[start:]
	for i, m := range all {
		if complete(m) {
			return all[:i+1]
		}
	}
	return nil
}

// Answers returns the packets received so far that answer request id.
func (a *App) Answers(id uint32) []*pb.MeshPacket {
	var out []*pb.MeshPacket
	for _, m := range a.Frames() {
		if p := m.GetPacket(); p != nil && p.GetDecoded().GetRequestId() == id {
			out = append(out, p)
		}
	}
	return out
}

// Answer waits up to d for the packet answering request id.
func (a *App) Answer(d time.Duration, id uint32) *pb.MeshPacket {
	a.tb.Helper()
	return a.Await(d, "answer", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == id
	}).GetPacket()
}

// RoutingError is the error_reason of a ROUTING_APP answer.
func RoutingError(p *pb.MeshPacket) (pb.Routing_Error, bool) {
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
