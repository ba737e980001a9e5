package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/vnode"
)

// Node listener refusal reasons (Stats.NodeRefused).
const (
	NodeRefusedSource    = "source"     // the address is outside the listener's allow list
	NodeRefusedFull      = "full"       // the listener has MaxConns connections open
	NodeRefusedPerSource = "per_source" // the address has MaxPerSource connections open
	NodeRefusedSessions  = "sessions"   // the gateway (or the address) is at its session cap
)

var nodeRefusals = []string{NodeRefusedSource, NodeRefusedFull, NodeRefusedPerSource, NodeRefusedSessions}

// DefaultNodeAllow is who a node listener serves unless told otherwise:
// this host only.
var DefaultNodeAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Defaults for a node listener's connection caps.
const (
	DefaultNodeMaxConns     = 32
	DefaultNodeMaxPerSource = 8
)

// NodeListener is a plain TCP listener that serves one radio's virtual
// node to apps on a trusted network (the phone app's "network" connection,
// Home Assistant), without authentication: whoever connects from an
// allowed address gets Role on Radio, and nothing else. Each connection is
// a session of kind node named node@ADDR, listed, kickable and counted in
// the session caps (ADDR is its key for the per-key cap).
type NodeListener struct {
	Radio string
	Role  auth.Role
	// Allow lists the source ranges served; a connection from anywhere
	// else is closed at once and logged. Empty: DefaultNodeAllow.
	Allow []netip.Prefix
	// MaxConns and MaxPerSource cap the listener's open connections, in
	// total and per address (an IPv6 /64), so that it cannot exhaust the
	// gateway. Defaults DefaultNodeMaxConns and DefaultNodeMaxPerSource.
	MaxConns, MaxPerSource int
}

func (nl *NodeListener) fill() {
	if len(nl.Allow) == 0 {
		nl.Allow = DefaultNodeAllow
	}
	if nl.MaxConns <= 0 {
		nl.MaxConns = DefaultNodeMaxConns
	}
	if nl.MaxPerSource <= 0 {
		nl.MaxPerSource = DefaultNodeMaxPerSource
	}
}

func (nl *NodeListener) allows(ip netip.Addr) bool {
	for _, p := range nl.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ServeNode serves nl's radio on ln until ctx ends, then closes ln and
// waits for its clients to finish (they end with ctx).
func (s *Server) ServeNode(ctx context.Context, ln net.Listener, nl NodeListener) error {
	nl.fill()
	allow := make([]string, len(nl.Allow))
	for i, p := range nl.Allow {
		allow[i] = p.String()
	}
	s.log.Info("node listening", "addr", ln.Addr().String(), "radio", nl.Radio, "role", nl.Role.String(),
		"allow", strings.Join(allow, ","))
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	lim := &nodeLimit{max: nl.MaxConns, perSource: nl.MaxPerSource, bySource: map[netip.Addr]int{}}
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait a little, as
			// net/http does, rather than spin or give up.
			s.log.Warn("node listener accept", "addr", ln.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		ip := ap.Addr().Unmap()
		if !nl.allows(ip) {
			s.refuseNode(c, nl.Radio, NodeRefusedSource, "the address is not in node-allow")
			continue
		}
		src := sourceOf(c.RemoteAddr())
		if reason := lim.take(src); reason != "" {
			detail := fmt.Sprintf("too many virtual node connections (%d)", nl.MaxConns)
			if reason == NodeRefusedPerSource {
				detail = fmt.Sprintf("too many virtual node connections from this address (%d)", nl.MaxPerSource)
			}
			s.refuseNode(c, nl.Radio, reason, detail)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lim.release(src)
			s.serveNodeConn(ctx, c, ip, nl)
		}()
	}
}

// refuseNode counts, logs and closes a connection a node listener refused.
func (s *Server) refuseNode(c net.Conn, radio, reason, detail string) {
	n, _ := s.count.nodeRefused.LoadOrStore(reason, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
	s.log.Warn("node connection refused", "remote", c.RemoteAddr().String(), "radio", radio, "limit", reason, "reason", detail)
	_ = c.Close()
}

// serveNodeConn serves one app: a session of kind node, then the virtual
// node until the app leaves or the session ends.
func (s *Server) serveNodeConn(ctx context.Context, c net.Conn, ip netip.Addr, nl NodeListener) {
	name := "node@" + ip.String()
	id := auth.Identity{Name: name, Fingerprint: name, Role: nl.Role, Radios: []string{nl.Radio}}
	rec, err := s.sessions.Open(sessions.User{
		Name: id.Name, Fingerprint: id.Fingerprint, Role: id.Role.String(), RemoteAddr: c.RemoteAddr().String(),
		Kind: sessions.Node, Command: "listen " + c.LocalAddr().String(),
	})
	if err != nil {
		s.count.sessionsRefused.Add(1)
		s.refuseNode(c, nl.Radio, NodeRefusedSessions, err.Error())
		return
	}
	s.count.sessionsOpened.Add(1)
	defer rec.Close()
	s.log.Info("node client", "session", rec.ID(), "user", name, "remote", c.RemoteAddr().String(), "radio", nl.Radio, "role", nl.Role.String())
	err = vnode.Serve(ctx, c, vnode.Deps{Backend: s.core, Caller: backend.Caller{Identity: id, Session: rec, Via: "node"},
		Radio: nl.Radio, Logger: s.log, IdleTimeout: s.cfg.NodeIdleTimeout})
	s.log.Info("node client closed", "session", rec.ID(), "user", name, "radio", nl.Radio, "why", endReason(err))
}

// nodeLimit counts a node listener's open connections.
type nodeLimit struct {
	max, perSource int

	mu       sync.Mutex
	total    int
	bySource map[netip.Addr]int
}

// take counts a connection from src, or says which cap it would exceed.
func (l *nodeLimit) take(src netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return NodeRefusedFull
	}
	if l.bySource[src] >= l.perSource {
		return NodeRefusedPerSource
	}
	l.total++
	l.bySource[src]++
	return ""
}

func (l *nodeLimit) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}
