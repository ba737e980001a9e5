package vnode

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// harness is a simulated radio behind a real broker and the core, with
// virtual node listeners on loopback.
type harness struct {
	tb    testing.TB
	sim   *sim.Radio
	addr  string // the simulated radio's own address
	reg   *radio.Registry
	br    *radio.Broker
	be    *backend.Backend
	db    *store.Store
	sess  *sessions.Manager
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error // what Serve returned, in order
	calls int
}

var (
	viewer   = auth.Identity{Name: "vera", Fingerprint: "SHA256:vera", Role: auth.Viewer}
	operator = auth.Identity{Name: "otto", Fingerprint: "SHA256:otto", Role: auth.Operator}
	admin    = auth.Identity{Name: "ada", Fingerprint: "SHA256:ada", Role: auth.Admin}
)

// fastSim is a simulated radio with short delays and no rate limits of its
// own, so the tests do not wait on the firmware's clocks; the broker's
// pacing is still in front of it.
func fastSim(seed int64, nodes int) sim.Config {
	c := simtest.Fast(seed, nodes)
	c.Limits = sim.RateLimits{Text: -1, Traceroute: -1, Position: -1}
	return c
}

// newHarness serves cfg's radio and starts the gateway's side of it. The
// broker connects at once (a configured radio stays connected).
func newHarness(tb testing.TB, cfg sim.Config) *harness {
	tb.Helper()
	r, addr := simtest.Start(tb, cfg)
	return newHarnessFor(tb, r, addr)
}

func newHarnessFor(tb testing.TB, r *sim.Radio, addr string) *harness {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "meshgate.db"), store.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	base := radio.Config{Grace: time.Second, TextPace: 50 * time.Millisecond, TracePace: 50 * time.Millisecond,
		TraceTimeout: 5 * time.Second, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
	base.Client.WakeDelay = -1
	reg := radio.NewRegistry(ctx, base, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	br, err := reg.Add("base", addr)
	if err != nil {
		tb.Fatal(err)
	}
	sm := sessions.NewManager(sessions.Config{})
	h := &harness{tb: tb, sim: r, addr: addr, reg: reg, br: br, db: db, sess: sm, ctx: ctx, stop: cancel,
		be: backend.New(backend.Deps{Radios: reg, Sessions: sm, Store: db, ConnectWait: 5 * time.Second})}
	tb.Cleanup(func() {
		cancel()
		h.wg.Wait()
		reg.Wait()
		_ = db.Close()
	})
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := br.WaitConnected(wctx); err != nil {
		tb.Fatal(err)
	}
	return h
}

// listen serves the virtual node to id on a loopback port and returns its
// address. With withSession each connection gets a session of kind node.
func (h *harness) listen(id auth.Identity, withSession bool) string {
	h.tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.tb.Fatal(err)
	}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		<-h.ctx.Done()
		_ = ln.Close()
	}()
	go func() {
		defer h.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c := backend.Caller{Identity: id, Via: "node"}
			if withSession {
				s, err := h.sess.Open(sessions.User{Name: id.Name, Fingerprint: id.Fingerprint, Role: id.Role.String(),
					RemoteAddr: conn.RemoteAddr().String(), Kind: sessions.Node})
				if err != nil {
					_ = conn.Close()
					continue
				}
				c.Session = s
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				err := Serve(h.ctx, conn, Deps{Backend: h.be, Caller: c, Radio: "base"})
				if c.Session != nil {
					c.Session.Close()
				}
				h.mu.Lock()
				h.errs = append(h.errs, err)
				h.mu.Unlock()
			}()
		}
	}()
	return ln.Addr().String()
}

// served returns what the Serve calls returned so far.
func (h *harness) served() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

// rawClient speaks frames to a virtual node (or a radio) directly.
type rawClient struct {
	tb   testing.TB
	conn net.Conn
	fr   *frame.Reader
	mu   sync.Mutex
	got  []*pb.FromRadio
	done chan struct{}
	err  error
}

func dialRaw(tb testing.TB, addr string) *rawClient {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c := &rawClient{tb: tb, conn: conn, fr: frame.NewReader(conn, frame.WithPartialTimeout(0)), done: make(chan struct{})}
	go c.read()
	tb.Cleanup(func() { c.close() })
	return c
}

func (c *rawClient) close() {
	_ = c.conn.Close()
	<-c.done
}

func (c *rawClient) read() {
	defer close(c.done)
	for {
		it, err := c.fr.Next()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		if it.Kind != frame.KindFrame {
			continue
		}
		m := &pb.FromRadio{}
		if err := proto.Unmarshal(it.Payload, m); err != nil {
			c.tb.Errorf("a frame that is not a FromRadio: %v", err)
			continue
		}
		c.mu.Lock()
		c.got = append(c.got, m)
		c.mu.Unlock()
	}
}

// closed reports whether the other side closed the connection.
func (c *rawClient) closed() bool {
	select {
	case <-c.done:
		return errors.Is(c.err, io.EOF) || c.err != nil
	default:
		return false
	}
}

func (c *rawClient) send(m *pb.ToRadio) {
	c.tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		c.tb.Fatal(err)
	}
	if err := frame.NewWriter(c.conn).WriteFrame(b); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *rawClient) wantConfig(nonce uint32) {
	c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: nonce}})
}

func (c *rawClient) sendPacket(p *pb.MeshPacket) {
	c.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}})
}

// frames returns everything received so far.
func (c *rawClient) frames() []*pb.FromRadio {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*pb.FromRadio(nil), c.got...)
}

// await waits until some received frame satisfies f and returns it.
func (c *rawClient) await(d time.Duration, what string, f func(*pb.FromRadio) bool) *pb.FromRadio {
	c.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, m := range c.frames() {
			if f(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("no %s within %s (%d frames received)", what, d, len(c.frames()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// handshake asks for a config and returns the frames up to and including
// config_complete_id.
func (c *rawClient) handshake(nonce uint32) []*pb.FromRadio {
	c.tb.Helper()
	start := len(c.frames())
	c.wantConfig(nonce)
	c.await(10*time.Second, "config_complete_id", func(m *pb.FromRadio) bool {
		_, ok := m.GetPayloadVariant().(*pb.FromRadio_ConfigCompleteId)
		return ok && m.GetConfigCompleteId() == nonce
	})
	all := c.frames()[start:]
	for i, m := range all {
		if _, ok := m.GetPayloadVariant().(*pb.FromRadio_ConfigCompleteId); ok && m.GetConfigCompleteId() == nonce {
			return all[:i+1]
		}
	}
	return nil
}

// answers returns the packets received that answer request id.
func (c *rawClient) answers(id uint32) []*pb.MeshPacket {
	var out []*pb.MeshPacket
	for _, m := range c.frames() {
		if p := m.GetPacket(); p != nil && p.GetDecoded().GetRequestId() == id {
			out = append(out, p)
		}
	}
	return out
}

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

func textPacket(id, to uint32, text string, ack bool) *pb.MeshPacket {
	return &pb.MeshPacket{Id: id, To: to, WantAck: ack, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(text)}}}
}

// direct returns a node of the simulated mesh that hears the radio
// directly (one hop, answers fast).
func (h *harness) nodes(n int) []uint32 {
	h.tb.Helper()
	var out []uint32
	for _, ni := range h.sim.Nodes()[1:] {
		if ni.HopsAway != nil && ni.GetHopsAway() == 0 && !ni.GetViaMqtt() {
			out = append(out, ni.GetNum())
		}
		if len(out) == n {
			return out
		}
	}
	h.tb.Fatalf("the simulated mesh has fewer than %d direct neighbours", n)
	return nil
}
