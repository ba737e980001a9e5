package server

import (
	"net"
	"net/netip"
	"sync"
)

// sessionLimiter bounds the session channels served at once on one SSH
// connection (sshd's MaxSessions): one authenticated connection must not
// multiplex an unbounded number of commands. A slot is held from the start
// of the session handler until it returns.
type sessionLimiter struct {
	max int

	mu   sync.Mutex
	open map[any]int // by connection (*gossh.ServerConn)
}

func newSessionLimiter(max int) *sessionLimiter {
	return &sessionLimiter{max: max, open: map[any]int{}}
}

// acquire takes a slot on conn. When the connection is full it returns
// false and how many sessions it has open.
func (l *sessionLimiter) acquire(conn any) (ok bool, open int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.open[conn]; n >= l.max {
		return false, n
	}
	l.open[conn]++
	return true, 0
}

// release gives a slot on conn back.
func (l *sessionLimiter) release(conn any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[conn]--; l.open[conn] <= 0 {
		delete(l.open, conn)
	}
}

// conns is how many connections hold a slot (for tests).
func (l *sessionLimiter) conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// connLimiter bounds connections that have not authenticated yet, in total
// and per source address, so a flood of slow or failing handshakes cannot
// starve real users (sshd's MaxStartups and PerSourceMaxStartups). A slot
// is taken in ConnCallback and given back once the client authenticates or
// the connection closes, whichever comes first.
type connLimiter struct {
	maxTotal, maxPerSource int

	mu       sync.Mutex
	total    int
	bySource map[netip.Addr]int
	held     map[net.Conn]netip.Addr
}

func newConnLimiter(total, perSource int) *connLimiter {
	return &connLimiter{maxTotal: total, maxPerSource: perSource, bySource: map[netip.Addr]int{}, held: map[net.Conn]netip.Addr{}}
}

// sourceOf groups IPv6 clients by /64, since one host usually owns a
// whole /64 and could otherwise dodge the per-source limit.
func sourceOf(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// acquire reports whether c may proceed to the handshake.
func (l *connLimiter) acquire(c net.Conn) (ok bool, reason string) {
	src := sourceOf(c.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.maxTotal {
		return false, "too many unauthenticated connections"
	}
	if l.bySource[src] >= l.maxPerSource {
		return false, "too many unauthenticated connections from this address"
	}
	l.total++
	l.bySource[src]++
	l.held[c] = src
	return true, ""
}

// release gives c's slot back; calling it again is harmless.
func (l *connLimiter) release(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	src, ok := l.held[c]
	if !ok {
		return
	}
	delete(l.held, c)
	l.total--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// limitedConn gives its limiter slot back when it closes, however the
// connection ends.
type limitedConn struct {
	net.Conn
	l *connLimiter
}

func (c *limitedConn) Close() error {
	c.l.release(c)
	return c.Conn.Close()
}

// authenticated frees the slot early: the client is no longer a stranger.
func (c *limitedConn) authenticated() { c.l.release(c) }

func (l *connLimiter) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
