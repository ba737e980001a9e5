package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
)

// chaosRadio is a simulated radio behind a TCP endpoint that can be killed
// and restarted. The gateway dials the endpoint; the simulator itself keeps
// running behind it (its node database survives, as a radio's flash does),
// so a kill looks to the gateway like a radio losing power or Wi-Fi: open
// links are cut and new dials are refused until the endpoint is back.
type chaosRadio struct {
	sim    *sim.Radio
	addr   string // the endpoint the gateway dials
	inner  net.Listener
	peer   uint32 // a node of the mesh that markers come from
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	ln    net.Listener
	conns map[*proxyConn]struct{}
	// cutAfter, when > 0, cuts the next accepted link after that many
	// bytes from the radio: a kill in the middle of the handshake.
	cutAfter   int
	cutPending bool // a handshake cut is armed or under way
	accepted   int  // links accepted since start
	rng        *rand.Rand
	// delivered are the marker ids the gateway was sent in full, read
	// from the frames the endpoint forwarded: what "arrived" means when
	// the database is checked (the radio itself drops packets when its
	// queue to the client overflows).
	delivered map[uint32]bool
}

type proxyConn struct {
	outer, inner net.Conn
	// half, when set, makes the radio-to-gateway copier forward half of
	// its next read and then cut: a kill in the middle of a frame.
	half     chan struct{}
	halfOnce sync.Once
}

// startRadio runs a simulator with nodes peers and background traffic
// every gap (0: quiet), behind an endpoint on 127.0.0.1.
func startRadio(seed int64, nodes int, gap time.Duration) (*chaosRadio, error) {
	r, err := sim.New(sim.Config{Seed: seed, Nodes: nodes, TrafficInterval: gap, LongName: "Chaos Base"})
	if err != nil {
		return nil, err
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cr := &chaosRadio{sim: r, inner: inner, cancel: cancel, done: make(chan struct{}),
		conns: make(map[*proxyConn]struct{}), rng: rand.New(rand.NewPCG(uint64(seed), 7)),
		delivered: make(map[uint32]bool)}
	go func() { defer close(cr.done); _ = r.Serve(ctx, inner) }()
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() {
			cr.peer = n.GetNum()
			break
		}
	}
	ln, err := listenLow() // it is closed and reopened: see freeAddr
	if err != nil {
		cr.close()
		return nil, err
	}
	cr.addr = ln.Addr().String()
	cr.serve(ln)
	return cr, nil
}

// serve accepts links on ln and joins each to a fresh link to the
// simulator.
func (cr *chaosRadio) serve(ln net.Listener) {
	cr.mu.Lock()
	cr.ln = ln
	cr.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			in, err := net.Dial("tcp", cr.inner.Addr().String())
			if err != nil {
				c.Close()
				continue
			}
			pc := &proxyConn{outer: c, inner: in, half: make(chan struct{})}
			cr.mu.Lock()
			cut := cr.cutAfter
			cr.cutAfter = 0
			cr.accepted++
			cr.conns[pc] = struct{}{}
			cr.mu.Unlock()
			go cr.pipe(pc, cut)
		}
	}()
}

// pipe copies both ways until either side ends, cutting after cut bytes
// from the radio when cut > 0, or mid-read when half is closed.
func (cr *chaosRadio) pipe(pc *proxyConn, cut int) {
	defer func() {
		pc.outer.Close()
		pc.inner.Close()
		cr.mu.Lock()
		delete(cr.conns, pc)
		if cut > 0 {
			cr.cutPending = false
		}
		cr.mu.Unlock()
	}()
	go func() {
		_, _ = io.Copy(pc.inner, pc.outer)
		pc.inner.Close()
	}()
	// Whatever reaches the gateway is also parsed, to note the markers
	// it was sent whole.
	pr, pw := io.Pipe()
	defer pw.Close()
	go cr.note(pr)
	buf := make([]byte, 4096)
	sent := 0
	for {
		n, err := pc.inner.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			select {
			case <-pc.half:
				_, _ = pc.outer.Write(chunk[:max(1, n/2)])
				return
			default:
			}
			if cut > 0 && sent+n >= cut {
				// The radio dies again in the middle of the handshake:
				// the endpoint goes away with the link.
				cr.closeListener()
				_, _ = pc.outer.Write(chunk[:max(1, cut-sent)])
				return
			}
			if _, werr := pc.outer.Write(chunk); werr != nil {
				return
			}
			_, _ = pw.Write(chunk)
			sent += n
		}
		if err != nil {
			return
		}
	}
}

// killMode says how a kill cuts the open links.
type killMode int

const (
	killPlain     killMode = iota // close every link between frames
	killMidFrame                  // forward half of the next read, then close
	killHandshake                 // plain now; after the restart the radio dies again in the middle of the first handshake
)

func (m killMode) String() string {
	return [...]string{"plain", "mid-frame", "mid-handshake"}[m]
}

// closeListener stops accepting links (they are refused until restart).
func (cr *chaosRadio) closeListener() {
	cr.mu.Lock()
	ln := cr.ln
	cr.ln = nil
	cr.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// kill closes the endpoint and every open link.
func (cr *chaosRadio) kill(mode killMode) {
	cr.mu.Lock()
	ln := cr.ln
	cr.ln = nil
	conns := make([]*proxyConn, 0, len(cr.conns))
	for pc := range cr.conns {
		conns = append(conns, pc)
	}
	if mode == killHandshake {
		// The handshake of a 40-node radio is about 10 KB; cut somewhere
		// inside it.
		cr.cutAfter = 200 + cr.rng.IntN(8000)
		cr.cutPending = true
	}
	cr.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, pc := range conns {
		if mode == killMidFrame {
			pc.halfOnce.Do(func() { close(pc.half) })
			// The copier cuts at its next read; traffic makes one soon.
			// Close anyway after a moment so a quiet link dies too.
			time.AfterFunc(500*time.Millisecond, func() { pc.outer.Close(); pc.inner.Close() })
			continue
		}
		pc.outer.Close()
		pc.inner.Close()
	}
}

// restart opens the endpoint again on the same address.
func (cr *chaosRadio) restart() error {
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after close
		if ln, err = net.Listen("tcp", cr.addr); err == nil {
			cr.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("reopen %s: %w", cr.addr, err)
}

// note reads the frames forwarded to the gateway and records the marker
// packets among them.
func (cr *chaosRadio) note(r io.Reader) {
	fr := frame.NewReader(r)
	for {
		it, err := fr.Next()
		if err != nil {
			_, _ = io.Copy(io.Discard, r)
			return
		}
		if it.Kind != frame.KindFrame {
			continue
		}
		var m pb.FromRadio
		if proto.Unmarshal(it.Payload, &m) != nil {
			continue
		}
		if p := m.GetPacket(); p != nil && p.GetId() >= markerBase {
			cr.mu.Lock()
			cr.delivered[p.GetId()] = true
			cr.mu.Unlock()
		}
	}
}

// wasDelivered reports whether the gateway was sent marker id in full.
func (cr *chaosRadio) wasDelivered(id uint32) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.delivered[id]
}

// handshakeCut reports whether an armed mid-handshake cut has happened.
func (cr *chaosRadio) handshakeCut() bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return !cr.cutPending
}

// acceptedLinks is the number of links the endpoint accepted since start.
func (cr *chaosRadio) acceptedLinks() int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.accepted
}

// links is the number of gateway links open now.
func (cr *chaosRadio) links() int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return len(cr.conns)
}

// inject makes a text from a peer arrive at the radio with the given
// packet id, so a session that prints it can be timed.
func (cr *chaosRadio) inject(id uint32) {
	cr.sim.Inject(&pb.MeshPacket{
		From: cr.peer, To: 0xffffffff, Id: id, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: fmt.Appendf(nil, "chaos marker %d", id)}},
	})
}

func (cr *chaosRadio) close() {
	cr.kill(killPlain)
	cr.cancel()
	cr.inner.Close()
	<-cr.done
}

// grab connects as another app would and asks for the configuration,
// which makes the radio drop the gateway (it serves one TCP client). It
// holds the link for hold, reading and discarding.
func grab(ctx context.Context, addr string, hold time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	want := &pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: rand.Uint32()}}
	if err := writeToRadio(c, want); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(hold))
	go func() {
		select {
		case <-ctx.Done():
			c.Close()
		case <-time.After(hold):
		}
	}()
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}
