package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/vnode"
)

// Local forwarding (ssh -N -L 4403:base:4403 mesh@gw) is served for one
// target only: a radio's virtual node, RADIO:4403, where RADIO is the name
// of a configured radio the key may use (the core decides). Nothing is
// dialled: the channel is handed to package vnode, which answers it as the
// radio's own client API would. Every other target is refused with the
// reason as the channel-open failure message (ssh prints it).
//
// Each forwarded connection is a session of kind node: listed by
// `sessions`, kickable, counted in the gateway's and the key's session
// caps and in the connection's, and it keeps its connection out of the
// no-session timer while it is open. The app is idle when it sends
// nothing at all for the node idle timeout (vnode.DefaultIdleTimeout, the
// firmware's own 15 minutes); every frame it sends, heartbeats included,
// counts as activity, so an integration that only listens (Home
// Assistant, a logger) stays as long as it heartbeats, while a forgotten
// tunnel whose app is gone cannot hold a session.

// forwardData is RFC 4254 §7.2's direct-tcpip channel data.
type forwardData struct {
	DestAddr   string
	DestPort   uint32
	OriginAddr string
	OriginPort uint32
}

// directTCPIP serves one direct-tcpip channel.
func (s *Server) directTCPIP(_ *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	remote := conn.RemoteAddr().String()
	reject := func(why gossh.RejectionReason, user, msg string) {
		s.count.forwardsRefused.Add(1)
		s.log.Info("forward refused", "remote", remote, "user", user, "reason", msg)
		_ = newChan.Reject(why, "meshgate: "+msg)
	}
	var d forwardData
	if err := gossh.Unmarshal(newChan.ExtraData(), &d); err != nil {
		reject(gossh.ConnectionFailed, "", "malformed forward request")
		return
	}
	select {
	case <-s.stopping:
		reject(gossh.ConnectionFailed, "", errShuttingDown.Error())
		return
	default:
	}
	// Identity comes only from the key the client signed with, looked up
	// again now, as for a session.
	pk, _ := ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey)
	if pk == nil {
		reject(gossh.Prohibited, "", "public key authentication required")
		return
	}
	id, err := s.keys.Authorize(pk, conn.RemoteAddr(), time.Now())
	if err != nil {
		reject(gossh.Prohibited, "", "access denied")
		return
	}
	target := net.JoinHostPort(d.DestAddr, strconv.FormatUint(uint64(d.DestPort), 10))
	if d.DestPort != vnode.Port {
		reject(gossh.Prohibited, id.Name, fmt.Sprintf("forwarding is served only to a radio's virtual node, RADIO:%d, not %s", vnode.Port, target))
		return
	}
	caller := backend.Caller{Identity: id, Via: "node"}
	name, err := s.core.NodeTarget(caller, d.DestAddr)
	if err != nil {
		reject(gossh.Prohibited, id.Name, err.Error())
		return
	}
	// A forward is a session on its connection: it takes one of the
	// connection's slots and stops the no-session timer while open.
	if ok, n := s.perConn.acquire(conn); !ok {
		s.count.refusedConn.Add(1)
		reject(gossh.ResourceShortage, id.Name, fmt.Sprintf("too many sessions on this connection (%d of %d); open another connection", n, s.cfg.MaxSessionsPerConn))
		return
	}
	defer s.perConn.release(conn)
	s.conns.tunnel(conn)
	rec, err := s.sessions.Open(sessions.User{
		Name: id.Name, Fingerprint: id.Fingerprint, Role: id.Role.String(), RemoteAddr: remote,
		Kind: sessions.Node, Command: "forward " + target,
	})
	if err != nil {
		if errors.Is(err, sessions.ErrKeyFull) {
			s.count.refusedKey.Add(1)
		} else {
			s.count.sessionsRefused.Add(1)
		}
		reject(gossh.ResourceShortage, id.Name, err.Error())
		return
	}
	s.count.sessionsOpened.Add(1)
	defer rec.Close()
	s.grants.add(rec, pk, conn.RemoteAddr(), id)
	defer s.grants.remove(rec)
	ch, reqs, err := newChan.Accept()
	if err != nil {
		return
	}
	go gossh.DiscardRequests(reqs)
	caller.Session = rec
	s.log.Info("forward", "session", rec.ID(), "user", id.Name, "remote", remote, "radio", name)
	err = s.serveChannel(ctx, conn, ch, func(c net.Conn) error {
		return vnode.Serve(ctx, c, vnode.Deps{Backend: s.core, Caller: caller, Radio: name, Logger: s.log,
			IdleTimeout: s.cfg.NodeIdleTimeout})
	})
	s.log.Info("forward closed", "session", rec.ID(), "user", id.Name, "radio", name, "why", endReason(err))
}

// endReason words what vnode.Serve returned for the log.
func endReason(err error) string {
	if err == nil {
		return "the app left"
	}
	return err.Error()
}

// serveChannel runs serve on a net.Conn joined to ch by a pipe, so that
// serve gets the deadlines a channel lacks (a write to an app that stopped
// reading times out instead of blocking). When serve returns the channel
// is closed; a client that does not answer the close within endGrace
// (its window full, a write stuck) has its connection closed, so nothing
// is left waiting on it.
func (s *Server) serveChannel(ctx context.Context, conn *gossh.ServerConn, ch gossh.Channel, serve func(net.Conn) error) error {
	local, pipe := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // app → gateway
		defer wg.Done()
		_, _ = io.Copy(pipe, ch)
		_ = pipe.Close()
	}()
	go func() { // gateway → app
		defer wg.Done()
		_, _ = io.Copy(ch, pipe)
		_ = ch.Close()
	}()
	err := serve(local)
	_ = local.Close()
	_ = pipe.Close()
	_ = ch.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		<-done
	case <-time.After(endGrace):
		s.log.Info("connection closed", "remote", conn.RemoteAddr().String(), "reason", "a forwarded channel did not close")
		_ = conn.Close()
		<-done
	}
	return err
}
