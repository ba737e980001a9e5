// Package vnode is the virtual node: it serves one app (the phone app, the
// python CLI, Home Assistant, a script) on a net.Conn as if it were the
// radio's own client API on TCP port 4403, while the radio's only real
// connection stays with its broker. Each app gets the handshake answered
// from the broker's shared state with its own nonce, the radio's live
// traffic, and the answers to its own packets with its own ids; what it
// may send is decided by the core (backend.NodeClient) from the caller's
// role. Apps never kick each other, the terminal users, or the upstream
// link: an app's connect and disconnect touch only its own connection.
//
// Front ends (SSH direct-tcpip forwarding to RADIO:4403, a plain TCP
// listener) call Serve once per accepted connection.
package vnode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Port is the TCP port the firmware serves its API on, and the port an SSH
// forward must name to reach a radio's virtual node.
const Port = 4403

// Defaults for zero Deps fields.
const (
	// DefaultIdleTimeout: the firmware drops an API client that has sent
	// nothing for 15 minutes (ServerAPI TCP_IDLE_TIMEOUT_MS); apps send a
	// heartbeat well within that, so one silent for longer is gone.
	DefaultIdleTimeout = 15 * time.Minute
	// DefaultWriteTimeout: a client that stops reading for this long is
	// dropped; until then its oldest frames are dropped instead.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultInFlight bounds the packets of one client being handled at
	// once (a text waiting its turn, a traceroute in the queue); more wait
	// unread, which slows the client down.
	DefaultInFlight = 8
)

// Deps are what Serve needs: the core, who is asking, and which radio.
type Deps struct {
	Backend *backend.Backend
	// Caller is the app's identity and session. The session (kind
	// sessions.Node) is touched by every frame the app sends, heartbeats
	// included, and ending it (kick, idle reaper, shutdown) closes conn.
	Caller backend.Caller
	Radio  string
	Logger *slog.Logger

	IdleTimeout  time.Duration
	WriteTimeout time.Duration
	InFlight     int
}

// Reasons Serve returns.
var (
	// ErrIdle: the app sent nothing for IdleTimeout.
	ErrIdle = errors.New("vnode: the app sent nothing for too long")
	// ErrEnded: the session was ended by the gateway (kick, idle reaper,
	// shutdown); the error says why.
	ErrEnded = errors.New("vnode: session ended")
)

// errBye: the app said disconnect.
var errBye = errors.New("vnode: the app disconnected")

// Serve runs one app's connection until the app leaves, the session is
// ended, or ctx ends, and closes conn. It returns nil when the app closed
// the connection or sent disconnect, ErrIdle or ErrEnded (wrapped) when
// the gateway dropped it, and the core's refusal when the caller may not
// use the radio (backend.ErrDenied and friends) — conn is closed at once
// then, as the firmware gives no reason either.
func Serve(ctx context.Context, conn net.Conn, d Deps) error {
	defer conn.Close()
	d.fill()
	n, err := d.Backend.OpenNode(ctx, d.Caller, d.Radio)
	if err != nil {
		return err
	}
	defer n.Close()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if s := d.Caller.Session; s != nil {
		s.SetCloser(func(reason string) {
			cancel(fmt.Errorf("%w: %s", ErrEnded, reason))
			_ = conn.Close()
		})
	}
	s := &server{d: d, conn: conn, n: n, log: d.Logger.With("radio", n.Radio(), "session", d.Caller.SessionID(), "user", d.Caller.Name),
		ctrl: make(chan ctrl, 4), sem: make(chan struct{}, d.InFlight)}
	s.last.Store(time.Now().UnixNano())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		cancel(s.readLoop(ctx))
	}()
	cancel(s.writeLoop(ctx))
	_ = conn.Close()
	s.wg.Wait()
	cause := context.Cause(ctx)
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case errors.Is(cause, errBye), errors.Is(cause, io.EOF), errors.Is(cause, syscall.ECONNRESET), errors.Is(cause, syscall.EPIPE):
		s.log.Debug("virtual node client left")
		return nil
	}
	s.log.Info("virtual node client dropped", "why", cause)
	return cause
}

func (d *Deps) fill() {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = DefaultWriteTimeout
	}
	if d.InFlight <= 0 {
		d.InFlight = DefaultInFlight
	}
}

// ctrl is a request from the reader to the writer.
type ctrl struct {
	handshake bool
	nonce     uint32
}

type server struct {
	d    Deps
	conn net.Conn
	n    *backend.NodeClient
	log  *slog.Logger
	ctrl chan ctrl
	sem  chan struct{}
	wg   sync.WaitGroup
	last atomic.Int64 // when the app last sent a frame (unix ns)

	in, malformed atomic.Uint64
}

// readLoop reads the app's ToRadio frames until the connection ends.
func (s *server) readLoop(ctx context.Context) error {
	fr := frame.NewReader(s.conn)
	for {
		it, err := fr.Next()
		if err != nil {
			return err
		}
		if it.Kind != frame.KindFrame {
			continue // text from the app: the firmware ignores it too
		}
		s.in.Add(1)
		s.last.Store(time.Now().UnixNano())
		if sess := s.d.Caller.Session; sess != nil {
			sess.Touch()
		}
		msg := &pb.ToRadio{}
		if err := pb.Unmarshal(it.Payload, msg); err != nil {
			s.malformed.Add(1)
			s.log.Debug("skipping a malformed frame from the app", "len", len(it.Payload), "err", err)
			continue
		}
		switch v := msg.GetPayloadVariant().(type) {
		case *pb.ToRadio_WantConfigId:
			if !s.send(ctx, ctrl{handshake: true, nonce: v.WantConfigId}) {
				return ctx.Err()
			}
		case *pb.ToRadio_Heartbeat:
			// Nonce 1 asks the radio to broadcast its NodeInfo: not an
			// app's to ask for the radio's other users; no answer, as
			// the firmware gives none.
			if v.Heartbeat.GetNonce() != 1 && !s.send(ctx, ctrl{}) {
				return ctx.Err()
			}
		case *pb.ToRadio_Disconnect:
			if v.Disconnect {
				return errBye
			}
		case *pb.ToRadio_Packet:
			if v.Packet == nil {
				continue
			}
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			s.wg.Add(1)
			go func(p *pb.MeshPacket) {
				defer s.wg.Done()
				defer func() { <-s.sem }()
				s.n.Packet(ctx, p)
			}(v.Packet)
		default:
			// MQTT client proxy messages (the gateway does not relay
			// MQTT for the radio) and XModem file transfers: ignored.
		}
	}
}

func (s *server) send(ctx context.Context, c ctrl) bool {
	select {
	case s.ctrl <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeLoop owns the connection's write side: handshakes, heartbeat
// answers, then the radio's live traffic once the app has a config.
func (s *server) writeLoop(ctx context.Context) error {
	bw := bufio.NewWriterSize(s.conn, 4096)
	w := frame.NewWriter(bw)
	var live <-chan []byte // nil until the first handshake starts
	frames := s.n.Frames()
	idle := time.NewTicker(min(s.d.IdleTimeout/4, time.Minute))
	defer idle.Stop()
	write := func(b []byte) error {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.d.WriteTimeout))
		return w.WriteFrame(b)
	}
	flush := func() error {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.d.WriteTimeout))
		return bw.Flush()
	}
	for {
		// Before the app asks for a config the firmware sends it no
		// packets: drop them rather than hold them.
		if live == nil {
		drain:
			for {
				select {
				case <-frames:
				default:
					break drain
				}
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-idle.C:
			if time.Since(time.Unix(0, s.last.Load())) > s.d.IdleTimeout {
				return ErrIdle
			}
			continue
		case c := <-s.ctrl:
			if !c.handshake {
				if err := s.marshalWrite(write, &pb.FromRadio{PayloadVariant: &pb.FromRadio_QueueStatus{QueueStatus: s.n.QueueStatus()}}); err != nil {
					return err
				}
				break
			}
			live = frames // from now on; what arrives meanwhile follows the config
			msgs, err := s.n.Handshake(ctx, c.nonce)
			if err != nil {
				_ = s.marshalWrite(write, &pb.FromRadio{PayloadVariant: &pb.FromRadio_ClientNotification{ClientNotification: &pb.ClientNotification{
					Time: uint32(time.Now().Unix()), Level: pb.LogRecord_ERROR, Message: "meshgate: " + err.Error()}}})
				_ = flush()
				return err
			}
			for _, m := range msgs {
				if err := s.marshalWrite(write, m); err != nil {
					return err
				}
			}
		case b := <-live:
			if err := write(b); err != nil {
				return err
			}
		}
		// Write on while more is ready; flush once nothing is.
		if len(live) == 0 && len(s.ctrl) == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

func (s *server) marshalWrite(write func([]byte) error, m *pb.FromRadio) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return write(b)
}
