package server

import (
	"net"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/transport"
	"github.com/meshgate/meshgate/vnode/vnodetest"
)

// nodeApp is an app speaking the radio's client API, frame by frame, over
// a forwarded channel or a plain TCP connection.
type nodeApp = vnodetest.App

func newNodeApp(tb testing.TB, conn net.Conn) *nodeApp { return vnodetest.New(tb, conn) }

var routingError = vnodetest.RoutingError

// forward opens ssh -L's channel to host:port on c.
func forward(tb testing.TB, c *gossh.Client, hostPort string) (net.Conn, error) {
	tb.Helper()
	return c.Dial("tcp", hostPort)
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

// tunnel logs u in and opens an app on base's virtual node through an SSH
// forward (ssh -L 4403:base:4403). The connection closes when the test
// ends.
func (g *gateway) tunnel(t testing.TB, u *user) (*gossh.Client, *nodeApp) {
	t.Helper()
	c, err := g.dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	conn, err := forward(t, c, "base:4403")
	if err != nil {
		t.Fatal(err)
	}
	return c, newNodeApp(t, conn)
}
