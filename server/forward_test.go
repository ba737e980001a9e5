package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/sessions"
)

// normalise clears what changes with the clock between two handshakes:
// nodes' last_heard and uptime.
func normalise(m *pb.FromRadio) *pb.FromRadio {
	ni := m.GetNodeInfo()
	if ni == nil {
		return m
	}
	ni = proto.Clone(ni).(*pb.NodeInfo)
	ni.LastHeard = 0
	if ni.DeviceMetrics != nil {
		ni.DeviceMetrics.UptimeSeconds = nil
	}
	return &pb.FromRadio{PayloadVariant: &pb.FromRadio_NodeInfo{NodeInfo: ni}}
}

// The handshake an app gets through ssh -L carries what the radio gives
// its own client, frame for frame, with the app's nonce.
func TestForwardHandshakeIsTheRadios(t *testing.T) {
	goroutineBaseline(t)
	ada := newUser(t, "ada", `role="admin"`)
	g := startGateway(t, gwOptions{users: []*user{ada}})
	_, app := g.tunnel(t, ada)
	got := app.Handshake(0x5eed)

	// The radio's own handshake, on its console stream (the gateway holds
	// its one TCP client slot).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); _ = g.sims["base"].ServeStream(ctx, b) }()
	direct := newNodeApp(t, a)
	want := direct.Handshake(0x5eed)
	for len(want) > 0 && want[0].GetRebooted() { // a console's boot notice
		want = want[1:]
	}
	cancel()
	direct.Close()
	<-done

	if len(got) != len(want) {
		t.Errorf("%d frames through the gateway, %d from the radio", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !proto.Equal(normalise(got[i]), normalise(want[i])) {
			t.Errorf("frame %d:\n got  %v\n want %v", i, got[i], want[i])
		}
	}
}

// Three apps at once, over one SSH connection and over two more, get the
// same live packets; none is disconnected, the radio keeps its one
// client, and each is a session of kind node.
func TestForwardThreeClients(t *testing.T) {
	goroutineBaseline(t)
	vera := newUser(t, "vera", `role="viewer"`)
	g := startGateway(t, gwOptions{users: []*user{vera}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var clients []*meshtastic.Client
	for i := range 3 {
		c, err := g.dial(t, vera)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conn, err := forward(t, c, "base:4403")
		if err != nil {
			t.Fatalf("forward %d: %v", i, err)
		}
		mc, err := meshtastic.Connect(ctx, sshLink{conn}, meshtastic.Options{WakeDelay: -1})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer mc.Close()
		clients = append(clients, mc)
	}
	from := rfNode(t, g, 0).GetNum()
	var ids []uint32
	for i := range 4 {
		id := uint32(0x7100 + i)
		inject(g, from, id, "live "+string(rune('a'+i)))
		ids = append(ids, id)
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
	if st := g.sims["base"].Stats(); st.Accepted != 1 || st.Kicked != 0 {
		t.Errorf("the radio accepted %d connections and kicked %d; want the gateway's one", st.Accepted, st.Kicked)
	}
	var nodes int
	for _, s := range g.mgr.List() {
		if s.User.Kind == sessions.Node && s.Radio == "base" && s.User.Name == "vera" {
			nodes++
		}
	}
	if nodes != 3 {
		t.Errorf("%d node sessions, want 3", nodes)
	}
	if n := g.reg.Names(); len(n) == 0 {
		t.Fatal("no radios")
	}
	br, _ := g.reg.Get("base")
	if st := br.VirtualStats(); st.Clients != 3 || st.FramesOut == 0 {
		t.Errorf("virtual stats %+v; want 3 clients and frames out", st)
	}
}

// A forward anywhere but a radio's virtual node the key may use is
// refused, with the reason in the channel-open failure; the connection
// stays usable.
func TestForwardRefused(t *testing.T) {
	goroutineBaseline(t)
	ada := newUser(t, "ada", `role="admin"`)
	fred := newUser(t, "fred", `role="operator",radios="field"`)
	g := startGateway(t, gwOptions{users: []*user{ada, fred}, radios: []string{"base", "field"}})
	c, err := g.dial(t, ada)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		u      *user
		target string
		want   string
	}{
		{ada, "base:22", "only to a radio's virtual node"},
		{ada, "base:4404", "only to a radio's virtual node"},
		{ada, "127.0.0.1:4403", `no radio named \"127.0.0.1\"`},
		{ada, "localhost:4403", `no radio named \"localhost\"`},
		{ada, g.addr, "only to a radio's virtual node"},
		{ada, "nosuch:4403", `no radio named \"nosuch\"`},
		{fred, "base:4403", `may not use radio \"base\"`},
	} {
		cc := c
		if tc.u != ada {
			if cc, err = g.dial(t, tc.u); err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
		}
		conn, err := forward(t, cc, tc.target)
		if err == nil {
			conn.Close()
			t.Errorf("%s to %s: accepted", tc.u.name, tc.target)
			continue
		}
		if !strings.Contains(err.Error(), "administratively prohibited") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s to %s: %v; want prohibited, %q", tc.u.name, tc.target, err, tc.want)
		}
	}
	if st := g.srv.Stats(); st.ForwardsRefused != 7 {
		t.Errorf("%d forwards refused, want 7", st.ForwardsRefused)
	}
	// The connection still serves what it may.
	conn, err := forward(t, c, "field:4403")
	if err != nil {
		t.Fatal(err)
	}
	newNodeApp(t, conn).Handshake(9)
	if len(g.mgr.List()) != 1 {
		t.Errorf("sessions %+v, want the one forward", g.mgr.List())
	}
}

// An admin's kick closes a virtual client; the SSH connection carrying
// it closes with it only after its no-session grace.
func TestForwardKick(t *testing.T) {
	goroutineBaseline(t)
	ada := newUser(t, "ada", `role="admin"`)
	otto := newUser(t, "otto", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{ada, otto}})
	_, app := g.tunnel(t, otto)
	app.Handshake(5)
	r := g.run(t, ada, "sessions")
	if !strings.Contains(r.stdout, "otto") || !strings.Contains(r.stdout, "node") {
		t.Fatalf("sessions:\n%s", r.stdout)
	}
	var id string
	for _, s := range g.mgr.List() {
		if s.User.Kind == sessions.Node {
			id = s.ID
		}
	}
	if r := g.run(t, ada, "kick "+id); r.code != 0 {
		t.Fatalf("kick: %+v", r)
	}
	if !app.Closed(3 * time.Second) {
		t.Fatal("the kicked app is still connected")
	}
	eventually(t, 3*time.Second, "the session to close", func() bool { return g.mgr.Count() == 0 })
}

// A connection whose only session is a forward is not closed by the
// no-session timer while the forward is open. Once the app leaves, the
// tunnel waits the node idle timeout (not the shorter no-session grace)
// for the next app, then closes.
func TestForwardCountsAsSession(t *testing.T) {
	goroutineBaseline(t)
	otto := newUser(t, "otto", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{otto}, server: Config{NoSessionGrace: 300 * time.Millisecond,
		NodeIdleTimeout: 1500 * time.Millisecond}})
	_, app := g.tunnel(t, otto)
	app.Handshake(1)
	time.Sleep(800 * time.Millisecond)
	if app.Closed(0) {
		t.Fatal("the forward was closed while open")
	}
	if st := g.srv.Stats(); st.ClosedNoSession != 0 || st.Authenticated != 1 {
		t.Fatalf("stats %+v: the connection was closed with a forward open", st)
	}
	app.Close()
	time.Sleep(700 * time.Millisecond) // past the no-session grace
	if st := g.srv.Stats(); st.ClosedNoSession != 0 {
		t.Fatalf("stats %+v: the tunnel closed at the no-session grace, between two apps", st)
	}
	eventually(t, 5*time.Second, "the tunnel to close after the node idle timeout", func() bool {
		return g.srv.Stats().ClosedNoSession == 1
	})
}

// An app that sends nothing for the node idle timeout is dropped; one
// that only listens but heartbeats stays.
func TestForwardIdle(t *testing.T) {
	goroutineBaseline(t)
	vera := newUser(t, "vera", `role="viewer"`)
	g := startGateway(t, gwOptions{users: []*user{vera}, server: Config{NodeIdleTimeout: 400 * time.Millisecond}})
	c, err := g.dial(t, vera)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	open := func() *nodeApp {
		conn, err := forward(t, c, "base:4403")
		if err != nil {
			t.Fatal(err)
		}
		a := newNodeApp(t, conn)
		a.Handshake(2)
		return a
	}
	silent, beating := open(), open()
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				beating.Heartbeat()
			}
		}
	}()
	if !silent.Closed(3 * time.Second) {
		t.Error("a silent app was not dropped")
	}
	if beating.Closed(0) {
		t.Error("an app that heartbeats was dropped")
	}
	close(stop)
	<-beat
}

// The plain TCP listener serves allowed sources with its role, refuses
// everyone else at once, and caps connections per address.
func TestNodeListener(t *testing.T) {
	goroutineBaseline(t)
	g := startGateway(t, gwOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- g.srv.ServeNode(ctx, ln, NodeListener{Radio: "base", Role: auth.Viewer,
			Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, MaxPerSource: 2})
	}()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	dialFrom := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		conn, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	app := newNodeApp(t, dialFrom("127.0.0.1"))
	app.Handshake(3)
	// A viewer: its text is refused as the firmware refuses, and nothing
	// reaches the radio.
	before := g.sims["base"].Stats().ClientPackets
	app.SendPacket(appText(0x4242, meshtastic.Broadcast, "hi", false))
	if e, ok := routingError(app.Answer(5*time.Second, 0x4242)); !ok || e != pb.Routing_NOT_AUTHORIZED {
		t.Errorf("answer %v, want NOT_AUTHORIZED", e)
	}
	var s sessions.Info
	for _, si := range g.mgr.List() {
		s = si
	}
	if s.User.Kind != sessions.Node || s.User.Name != "node@127.0.0.1" || s.User.Role != "viewer" || s.Radio != "base" {
		t.Errorf("session %+v", s)
	}

	refused := newNodeApp(t, dialFrom("127.0.0.2"))
	if !refused.Closed(3 * time.Second) {
		t.Error("a connection from outside node-allow was served")
	}
	second := newNodeApp(t, dialFrom("127.0.0.1"))
	second.Handshake(4)
	third := newNodeApp(t, dialFrom("127.0.0.1"))
	if !third.Closed(3 * time.Second) {
		t.Error("a third connection from one address was served (cap 2)")
	}
	st := g.srv.Stats()
	if st.NodeRefused[NodeRefusedSource] != 1 || st.NodeRefused[NodeRefusedPerSource] != 1 {
		t.Errorf("node refusals %v", st.NodeRefused)
	}
	if g.sims["base"].Stats().ClientPackets != before {
		t.Error("the viewer's text reached the radio")
	}
	if !strings.Contains(g.logs.String(), "node connection refused") {
		t.Error("the refusal was not logged")
	}
}
