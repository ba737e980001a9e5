package vnode

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
	"github.com/meshgate/meshgate/vnode/vnodetest"
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
type rawClient = vnodetest.App

func dialRaw(tb testing.TB, addr string) *rawClient { return vnodetest.Dial(tb, addr) }

var routingError = vnodetest.RoutingError

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
