package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Refusal reasons, as counted and exported (Stats.Refused).
const (
	// Before authentication (sshd's MaxStartups, PerSourceMaxStartups and
	// PerSourcePenalties).
	RefusedStartupsFull   = "startups_full"   // MaxUnauthenticated connections are authenticating
	RefusedStartupsRandom = "startups_random" // random early drop between StartupsBegin and MaxUnauthenticated
	RefusedPerSource      = "per_source"      // the source has MaxUnauthPerSource connections authenticating
	RefusedPenalty        = "penalty"         // the source failed to log in too often lately
	RefusedStalled        = "stalled"         // a stalled handshake was closed to make room (StallIdle)
	// At authentication.
	RefusedConnections       = "connections"         // MaxConnections authenticated connections are open
	RefusedConnectionsPerKey = "connections_per_key" // the key has MaxConnectionsPerKey connections open
)

var refusalReasons = []string{RefusedStartupsFull, RefusedStartupsRandom, RefusedPerSource, RefusedPenalty,
	RefusedStalled, RefusedConnections, RefusedConnectionsPerKey}

// preAuthReason reports whether reason is one of the unauthenticated
// connection limits (counted in Stats.RefusedPreAuth as well).
func preAuthReason(reason string) bool {
	switch reason {
	case RefusedStartupsFull, RefusedStartupsRandom, RefusedPerSource, RefusedPenalty, RefusedStalled:
		return true
	}
	return false
}

// sessionLimiter bounds the session channels served at once on one SSH
// connection (sshd's MaxSessions): one authenticated connection must not
// multiplex an unbounded number of commands. A slot is held from the start
// of the session handler until it returns. It also tells the connection
// table when a connection's sessions come and go, which starts and stops
// that connection's no-session timer.
type sessionLimiter struct {
	max   int
	table *connTable // nil: no table to tell

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
	if l.table != nil {
		l.table.sessions(conn, +1)
	}
	return true, 0
}

// release gives a slot on conn back.
func (l *sessionLimiter) release(conn any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[conn]--; l.open[conn] <= 0 {
		delete(l.open, conn)
	}
	if l.table != nil {
		l.table.sessions(conn, -1)
	}
}

// conns is how many connections hold a slot (for tests).
func (l *sessionLimiter) conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// startups is sshd's MaxStartups start:rate:full. Below begin
// unauthenticated connections every new one is served; from begin on a new
// one is dropped with a probability rising linearly from rate% to 100% at
// full; at full every new one is dropped. Early random drops make a flood
// that fills the table cost its sender most of its attempts while others
// still get a fair chance.
type startups struct {
	begin, rate, full int
}

// drop reports whether a new connection is dropped with n authenticating,
// drawing from rnd (an int in [0,100)) only between begin and full.
func (st startups) drop(n int, rnd func(int) int) (bool, string) {
	switch {
	case n >= st.full:
		return true, RefusedStartupsFull
	case n < st.begin:
		return false, ""
	}
	p := st.rate + (100-st.rate)*(n-st.begin)/(st.full-st.begin)
	if rnd(100) < p {
		return true, RefusedStartupsRandom
	}
	return false, ""
}

// connLimiter bounds connections that have not authenticated yet, in total
// and per source address, so a flood of slow or failing handshakes cannot
// starve real users (sshd's MaxStartups and PerSourceMaxStartups), and
// keeps sources that keep failing to log in out for a while (sshd's
// PerSourcePenalties). A slot is taken in ConnCallback and given back once
// the client authenticates or the connection closes, whichever comes first.
//
// Admission has two steps so that a PROXY protocol header is read only
// while the connection holds a slot: admit counts it against the total
// (the header is not needed for that), admitSource then checks the source
// the header names.
type connLimiter struct {
	st           startups
	maxPerSource int
	rand         func(int) int // [0,n); called with mu held
	pen          *penaltyBox
	// stallIdle and stallAge say when a connection counts as stalled and
	// may be closed to make room (Config.StallIdle); stallIdle < 0: never.
	stallIdle, stallAge time.Duration
	// known are sources with a successful login in the last knownFor;
	// they may go knownReserve places beyond the table when it is full
	// (Config.KnownSourceReserve).
	known        map[netip.Addr]time.Time
	knownFor     time.Duration
	knownReserve int

	mu       sync.Mutex
	total    int
	bySource map[netip.Addr]int
	held     map[*limitedConn]slot
}

// slot is a connection's place in the pre-auth count.
type slot struct {
	src     netip.Addr
	sourced bool      // counted in bySource too (admitSource passed)
	since   time.Time // when it was admitted
}

func newConnLimiter(st startups, perSource int, rnd func(int) int, pen *penaltyBox) *connLimiter {
	return &connLimiter{st: st, maxPerSource: perSource, rand: rnd, pen: pen,
		bySource: map[netip.Addr]int{}, held: map[*limitedConn]slot{}, known: map[netip.Addr]time.Time{}}
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

// admit takes a slot in the total for c, or says why not. When
// MaxStartups would drop c, a stalled connection gives up its slot to it
// instead, if there is one and c's source (src, when known before a PROXY
// header) is neither penalised nor at its cap; the caller closes that
// connection (evict).
func (l *connLimiter) admit(c *limitedConn, src netip.Addr, now time.Time) (ok bool, reason string, stalled *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.lastRead.Store(now.UnixNano())
	if drop, reason := l.st.drop(l.total, l.rand); drop {
		if src.IsValid() && (l.pen.refused(src, now) > 0 || l.bySource[src] >= l.maxPerSource) {
			return false, reason, nil
		}
		if l.isKnownLocked(src, now) && l.total < l.st.full+l.knownReserve {
			// Someone from this address logged in lately: a flood of
			// strangers from elsewhere does not crowd them out.
			l.total++
			l.held[c] = slot{since: now}
			return true, "", nil
		}
		if stalled = l.stalledLocked(now); stalled == nil {
			return false, reason, nil
		}
		l.releaseLocked(stalled)
	}
	l.total++
	l.held[c] = slot{since: now}
	return true, "", stalled
}

// knownMax bounds the table of sources with a recent login.
const knownMax = 4096

func (l *connLimiter) isKnownLocked(src netip.Addr, now time.Time) bool {
	at, ok := l.known[src]
	return ok && src.IsValid() && now.Sub(at) < l.knownFor
}

// loggedIn records a successful login from src.
func (l *connLimiter) loggedIn(src netip.Addr, now time.Time) {
	if !src.IsValid() || l.knownReserve <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.known[src]; !ok && len(l.known) >= knownMax {
		for a, at := range l.known { // forget the expired, or the oldest
			if now.Sub(at) >= l.knownFor {
				delete(l.known, a)
			}
		}
		if len(l.known) >= knownMax {
			var oldest netip.Addr
			for a, at := range l.known {
				if !oldest.IsValid() || at.Before(l.known[oldest]) {
					oldest = a
				}
			}
			delete(l.known, oldest)
		}
	}
	l.known[src] = now
}

// stalledLocked picks the connection that has been silent longest, if it
// has been silent for stallIdle or held its slot for stallAge.
func (l *connLimiter) stalledLocked(now time.Time) *limitedConn {
	if l.stallIdle < 0 {
		return nil
	}
	var pick *limitedConn
	var pickIdle time.Duration
	for c, sl := range l.held {
		idle := now.Sub(time.Unix(0, c.lastRead.Load()))
		if idle < l.stallIdle && now.Sub(sl.since) < l.stallAge {
			continue
		}
		if pick == nil || idle > pickIdle {
			pick, pickIdle = c, idle
		}
	}
	return pick
}

// admitSource checks c's source against its penalty and the per-source
// cap. On refusal c's slot is given back; detail says more for the log.
func (l *connLimiter) admitSource(c *limitedConn, src netip.Addr, now time.Time) (ok bool, reason, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[c]; !ok {
		return false, RefusedStartupsFull, "closed"
	}
	if d := l.pen.refused(src, now); d > 0 {
		l.releaseLocked(c)
		return false, RefusedPenalty, fmt.Sprintf("too many failed logins from this address; refused for another %s", d.Round(time.Second))
	}
	if l.bySource[src] >= l.maxPerSource {
		l.releaseLocked(c)
		return false, RefusedPerSource, "too many unauthenticated connections from this address"
	}
	l.bySource[src]++
	sl := l.held[c]
	sl.src, sl.sourced = src, true
	l.held[c] = sl
	return true, "", ""
}

// release gives c's slot back; calling it again is harmless.
func (l *connLimiter) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked(c)
}

func (l *connLimiter) releaseLocked(c *limitedConn) {
	sl, ok := l.held[c]
	if !ok {
		return
	}
	delete(l.held, c)
	l.total--
	if !sl.sourced {
		return
	}
	if l.bySource[sl.src]--; l.bySource[sl.src] <= 0 {
		delete(l.bySource, sl.src)
	}
}

// strike records a failed login from src (see penaltyBox.strike).
func (l *connLimiter) strike(src netip.Addr, now time.Time) (refusedFor time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pen.strike(src, now)
}

func (l *connLimiter) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// penaltyBox is sshd's PerSourcePenalties, simplified: every connection
// from a source that fails to log in (it tried a key and did not get in,
// or ran out of handshake time) adds to the source's penalty, base for the
// first failure and doubling with each one after it, up to max. Once the
// penalty left exceeds three times base — the third failure in quick
// succession — new connections from the source are refused until it runs
// out. A source's failures are forgotten after max without any; a login
// that succeeds forgets nothing, for its own source or another. The table
// holds at most size sources; when it is full, a new source is not
// penalised (sshd's overflow:permissive) rather than evicting another.
// Not safe for concurrent use; connLimiter's lock guards it.
type penaltyBox struct {
	base, max time.Duration // base <= 0: off
	size      int
	exempt    func(netip.Addr) bool

	bySource map[netip.Addr]*penalty
}

type penalty struct {
	until   time.Time // the penalty runs out
	strikes int       // failures since the source was last forgotten
	active  bool      // refusing until until
}

func newPenaltyBox(base, max time.Duration, size int, exempt func(netip.Addr) bool) *penaltyBox {
	return &penaltyBox{base: base, max: max, size: size, exempt: exempt, bySource: map[netip.Addr]*penalty{}}
}

// refused returns how much longer src is refused (0: not refused).
func (b *penaltyBox) refused(src netip.Addr, now time.Time) time.Duration {
	p := b.bySource[src]
	if p == nil || !p.active {
		return 0
	}
	if !now.Before(p.until) {
		p.active = false
		return 0
	}
	return p.until.Sub(now)
}

// strike adds a failure to src's penalty and returns how long src is now
// refused (0: not refused yet).
func (b *penaltyBox) strike(src netip.Addr, now time.Time) time.Duration {
	if b.base <= 0 || !src.IsValid() || (b.exempt != nil && b.exempt(src)) {
		return 0
	}
	p := b.bySource[src]
	if p != nil && now.After(p.until.Add(b.max)) {
		delete(b.bySource, src) // quiet for long enough: forgotten
		p = nil
	}
	if p == nil {
		if len(b.bySource) >= b.size {
			b.sweep(now)
		}
		if len(b.bySource) >= b.size {
			return 0
		}
		p = &penalty{}
		b.bySource[src] = p
	}
	add := b.max
	if p.strikes < 30 {
		add = min(b.base<<p.strikes, b.max)
	}
	p.strikes++
	start := p.until
	if start.Before(now) {
		start = now
	}
	p.until = start.Add(add)
	if p.until.Sub(now) > b.max {
		p.until = now.Add(b.max)
	}
	if left := p.until.Sub(now); left > 3*b.base {
		p.active = true
	}
	if !p.active {
		return 0
	}
	return p.until.Sub(now)
}

// sweep forgets the sources whose failures are old enough.
func (b *penaltyBox) sweep(now time.Time) {
	for src, p := range b.bySource {
		if now.After(p.until.Add(b.max)) {
			delete(b.bySource, src)
		}
	}
}

// limitedConn is one connection as the limits see it: it holds a pre-auth
// slot until it authenticates, then an entry in the connection table, and
// gives back whichever it holds when it closes, however the connection
// ends.
type limitedConn struct {
	net.Conn
	s   *Server
	src netip.Addr // the client's source (after any PROXY header)

	lastRead atomic.Int64 // unix nanoseconds of the last byte from the client

	mu        sync.Mutex
	closed    bool
	entry     *authConn // set at authentication
	attempted bool      // the client tried to authenticate
	timedOut  bool      // a read or write hit the handshake deadline
	limited   bool      // refused by a connection limit at authentication
	evicted   bool      // closed while stalled, to make room
}

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead.Store(c.s.now().UnixNano())
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		if c.entry == nil {
			c.timedOut = true
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *limitedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		if c.entry == nil {
			c.timedOut = true
		}
		c.mu.Unlock()
	}
	return n, err
}

// Close gives back what the connection holds. A connection that never
// authenticated after trying to, or that ran out of handshake time, counts
// against its source (penaltyBox).
func (c *limitedConn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	entry, failed := c.entry, c.entry == nil && !c.limited && (c.attempted || c.timedOut || c.evicted)
	c.mu.Unlock()
	if first {
		c.s.lim.release(c)
		if entry != nil {
			c.s.conns.remove(entry)
		}
		if failed {
			if d := c.s.lim.strike(c.src, c.s.now()); d > 0 {
				c.s.log.Warn("source penalised", "remote", c.RemoteAddr().String(),
					"reason", "too many failed logins", "refused_for", d.Round(time.Second).String())
			}
		}
	}
	return c.Conn.Close()
}

// evict closes a stalled connection whose slot admit gave to another. It
// counts as a failed login for its source, as running out of handshake
// time does: a source whose connections keep stalling is refused soon.
func (c *limitedConn) evict() {
	c.mu.Lock()
	c.evicted = true
	c.mu.Unlock()
	_ = c.Conn.Close() // the handshake's read fails; Close then strikes
}

// authenticated frees the pre-auth slot: the client is no longer a
// stranger. Calling it again is harmless.
func (c *limitedConn) authenticated() {
	c.s.lim.release(c)
	c.s.lim.loggedIn(c.src, c.s.now())
}

// attempt notes that the client tried to authenticate.
func (c *limitedConn) attempt() {
	c.mu.Lock()
	c.attempted = true
	c.mu.Unlock()
}

// ConnInfo describes one authenticated connection.
type ConnInfo struct {
	ID          string    // short, unique while the server runs
	User        string    // the key's name in authorized_keys
	Fingerprint string    // SHA256 fingerprint of the key it logged in with
	Remote      string    // client address (after any PROXY header)
	Since       time.Time // when it authenticated
	Sessions    int       // sessions running on it now
}

// authConn is a connection table entry.
type authConn struct {
	info      ConnInfo
	sessionID string // the SSH session identifier, which finds the entry from a session
	lc        *limitedConn
	timer     *time.Timer // the no-session timer; nil while sessions run
	gone      bool        // removed from the table
	// tunnel: the connection has carried a forward to a virtual node.
	// Between apps it gets tunnelGrace rather than grace, so an app that
	// reconnects (Home Assistant restarting, a phone waking) finds its
	// tunnel still up.
	tunnel bool
}

// connTable is the table of live authenticated connections. It caps them
// in total and per key, and closes a connection that has had no session
// for grace: right after authentication (ssh -N) and whenever its last
// session ends. A forward to a radio's virtual node counts as a session
// while it is open; a connection with none can do nothing but hold
// memory and a table slot.
type connTable struct {
	max, maxPerKey int
	grace          time.Duration
	tunnelGrace    time.Duration
	idle           func(*authConn) // a connection's grace ran out; called without the lock

	mu        sync.Mutex
	seq       uint64
	byID      map[string]*authConn
	bySession map[string]*authConn
	perKey    map[string]int
}

func newConnTable(max, perKey int, grace, tunnelGrace time.Duration, idle func(*authConn)) *connTable {
	if tunnelGrace < grace {
		tunnelGrace = grace
	}
	return &connTable{max: max, maxPerKey: perKey, grace: grace, tunnelGrace: tunnelGrace, idle: idle,
		byID: map[string]*authConn{}, bySession: map[string]*authConn{}, perKey: map[string]int{}}
}

// add enters an authenticated connection, or says which cap it would
// exceed.
func (t *connTable) add(lc *limitedConn, sessionID string, info ConnInfo) (*authConn, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byID) >= t.max {
		return nil, RefusedConnections
	}
	if t.perKey[info.Fingerprint] >= t.maxPerKey {
		return nil, RefusedConnectionsPerKey
	}
	t.seq++
	info.ID = "c" + strconv.FormatUint(t.seq, 10)
	a := &authConn{info: info, sessionID: sessionID, lc: lc}
	t.byID[info.ID] = a
	t.bySession[sessionID] = a
	t.perKey[info.Fingerprint]++
	t.startTimerLocked(a)
	return a, ""
}

// remove takes a closed connection out of the table.
func (t *connTable) remove(a *authConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.gone {
		return
	}
	a.gone = true
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	delete(t.byID, a.info.ID)
	if t.bySession[a.sessionID] == a {
		delete(t.bySession, a.sessionID)
	}
	if t.perKey[a.info.Fingerprint]--; t.perKey[a.info.Fingerprint] <= 0 {
		delete(t.perKey, a.info.Fingerprint)
	}
}

// sessions adds delta to the sessions running on conn (a
// *gossh.ServerConn, found by its session identifier).
func (t *connTable) sessions(conn any, delta int) {
	sc, ok := conn.(interface{ SessionID() []byte })
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.bySession[string(sc.SessionID())]
	if a == nil || a.gone {
		return
	}
	a.info.Sessions = max(a.info.Sessions+delta, 0)
	switch {
	case a.info.Sessions > 0 && a.timer != nil:
		a.timer.Stop()
		a.timer = nil
	case a.info.Sessions == 0 && a.timer == nil:
		t.startTimerLocked(a)
	}
}

// tunnel marks conn as one that has carried a forward.
func (t *connTable) tunnel(conn any) {
	sc, ok := conn.(interface{ SessionID() []byte })
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.bySession[string(sc.SessionID())]; a != nil {
		a.tunnel = true
	}
}

func (t *connTable) startTimerLocked(a *authConn) {
	grace := t.grace
	if a.tunnel {
		grace = t.tunnelGrace
	}
	var tm *time.Timer
	tm = time.AfterFunc(grace, func() {
		t.mu.Lock()
		// A session that opened, or a newer timer, wins over this one.
		fire := !a.gone && a.timer == tm && a.info.Sessions == 0
		if fire {
			a.timer = nil
		}
		t.mu.Unlock()
		if fire {
			t.idle(a)
		}
	})
	a.timer = tm
}

// list returns the table, oldest first.
func (t *connTable) list() []ConnInfo {
	t.mu.Lock()
	out := make([]ConnInfo, 0, len(t.byID))
	for _, a := range t.byID {
		out = append(out, a.info)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b ConnInfo) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		if len(a.ID) != len(b.ID) {
			return len(a.ID) - len(b.ID)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// get finds a connection by ID.
func (t *connTable) get(id string) *authConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

func (t *connTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}
