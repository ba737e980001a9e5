// Package server is the SSH daemon: host key, public-key authentication
// against our own authorized_keys loader, pre-auth connection limits, a cap
// on sessions per connection, one session record per login, exec commands
// and graceful shutdown. It knows the sessions, radio and auth packages and
// owns none of them.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"github.com/pires/go-proxyproto"
	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/vnode"
)

// Authorizer decides who may log in; *auth.Keys implements it.
type Authorizer interface {
	Authorize(key gossh.PublicKey, remote net.Addr, now time.Time) (auth.Identity, error)
}

// Config holds the daemon's settings. Zero values take the defaults.
type Config struct {
	HostKey gossh.Signer
	Version string // shown in the SSH banner as SSH-2.0-meshgate_<Version>
	// HandshakeTimeout bounds key exchange plus authentication (sshd's
	// LoginGraceTime). Default 20 s.
	HandshakeTimeout time.Duration
	// MaxAuthTries is the number of failed keys per connection. Default 4.
	MaxAuthTries int
	// MaxUnauthenticated caps connections that have not logged in yet, in
	// total and per source address. Defaults 32 and 8.
	MaxUnauthenticated, MaxUnauthPerSource int
	// StartupsBegin and StartupsRate are the start and rate of sshd's
	// MaxStartups start:rate:full, whose full is MaxUnauthenticated: with
	// StartupsBegin or more connections authenticating, a new one is
	// dropped with a probability of StartupsRate percent, rising linearly
	// to 100 % at MaxUnauthenticated. Defaults 16 and 30 (16:30:32);
	// StartupsBegin at or above MaxUnauthenticated turns random drops off.
	StartupsBegin, StartupsRate int
	// Rand returns a random int in [0,n) for random early drops. Default
	// math/rand/v2's IntN; tests inject their own.
	Rand func(n int) int
	// StallIdle and StallAge let a new connection take the place of a
	// stalled one when MaxStartups would drop it: one that has sent
	// nothing for StallIdle, or has held its place for StallAge. The
	// longest silent goes first. A real client sends its key exchange and
	// login in a few round trips; slow connections trickling bytes from
	// hundreds of addresses kept every place taken and locked the team out
	// (meshchaos abuse). Defaults 1 s and 10 s; a negative StallIdle turns
	// it off.
	StallIdle, StallAge time.Duration
	// KnownSourceReserve is how many places beyond MaxUnauthenticated
	// connections from addresses that logged in within KnownSourceFor may
	// take when the table is full: strangers crowding the table from
	// thousands of addresses keep the team's logins waiting, not
	// refused. Defaults 16 and 24 h; a negative reserve turns it off.
	KnownSourceReserve int
	KnownSourceFor     time.Duration
	// PenaltyBase is what a failed login costs its source the first time,
	// doubling with each further failure up to PenaltyMax; a source is
	// refused while its penalty exceeds three times PenaltyBase (sshd's
	// PerSourcePenalties). A failed login is a connection that tried to
	// authenticate and did not, or ran out of HandshakeTimeout. Trusted
	// proxies' own addresses are exempt. Defaults 5 s and 10 min; a
	// negative PenaltyBase turns penalties off.
	PenaltyBase, PenaltyMax time.Duration
	// PenaltySources caps the sources the penalty table remembers; when it
	// is full, new sources go unpenalised. Default 4096.
	PenaltySources int
	// MaxConnections and MaxConnectionsPerKey cap authenticated
	// connections, in total and per key. Defaults 64 and 8, or the session
	// manager's MaxSessions and MaxPerKey if larger, so that every session
	// allowed can have a connection of its own.
	MaxConnections, MaxConnectionsPerKey int
	// NoSessionGrace is how long an authenticated connection may go
	// without a session (ssh -N without a forward, or one whose sessions
	// all ended; an open forward to a radio's virtual node is a session)
	// before it is closed. Default 30 s.
	NoSessionGrace time.Duration
	// ProxyHeaderTimeout bounds the wait for a PROXY protocol header.
	// Default 5 s.
	ProxyHeaderTimeout time.Duration
	// Now is the clock for penalties and the connection table. Default
	// time.Now.
	Now func() time.Time
	// MaxSessionsPerConn caps the sessions (exec commands, UIs) served at
	// once on one SSH connection, like sshd's MaxSessions. Default 10.
	MaxSessionsPerConn int
	// ShutdownGrace is how long sessions get to finish on shutdown before
	// their connections are closed. Default 5 s.
	ShutdownGrace time.Duration
	// MaxWidth and MaxHeight clamp terminal sizes: a client asking for a
	// huge PTY must not make the server allocate hundreds of megabytes.
	MaxWidth, MaxHeight int
	// Demo marks a gateway that accepts any key; the banner says so.
	Demo bool
	// TrustedProxies lists the load balancers allowed to send a PROXY
	// protocol header (v1 or v2) giving the real client address. A header
	// from any other address is refused, so clients cannot spoof their
	// source. Empty: PROXY protocol off.
	TrustedProxies []netip.Prefix
	// NodeIdleTimeout drops a virtual node client (a forward to
	// RADIO:4403, a node listener's client) that sent nothing, not even a
	// heartbeat, for this long. Default vnode.DefaultIdleTimeout (15 min,
	// the firmware's own).
	NodeIdleTimeout time.Duration
	// Backend is the core every front end calls (policy, history, rules,
	// audit). Nil: one is built from the radios and sessions given to New,
	// without a database.
	Backend *backend.Backend
}

func (c *Config) fill() {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 20 * time.Second
	}
	if c.MaxAuthTries <= 0 {
		c.MaxAuthTries = 4
	}
	if c.MaxUnauthenticated <= 0 {
		c.MaxUnauthenticated = 32
	}
	if c.MaxUnauthPerSource <= 0 {
		c.MaxUnauthPerSource = 8
	}
	if c.StartupsBegin <= 0 {
		c.StartupsBegin = 16
	}
	c.StartupsBegin = min(c.StartupsBegin, c.MaxUnauthenticated)
	if c.StartupsRate <= 0 || c.StartupsRate > 100 {
		c.StartupsRate = 30
	}
	if c.Rand == nil {
		c.Rand = rand.IntN
	}
	if c.StallIdle == 0 {
		c.StallIdle = time.Second
	}
	if c.StallAge <= 0 {
		c.StallAge = 10 * time.Second
	}
	if c.KnownSourceReserve == 0 {
		c.KnownSourceReserve = 16
	}
	if c.KnownSourceFor <= 0 {
		c.KnownSourceFor = 24 * time.Hour
	}
	if c.PenaltyBase == 0 {
		c.PenaltyBase = 5 * time.Second
	}
	if c.PenaltyMax <= 0 {
		c.PenaltyMax = 10 * time.Minute
	}
	if c.PenaltySources <= 0 {
		c.PenaltySources = 4096
	}
	if c.NoSessionGrace <= 0 {
		c.NoSessionGrace = 30 * time.Second
	}
	if c.ProxyHeaderTimeout <= 0 {
		c.ProxyHeaderTimeout = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxSessionsPerConn <= 0 {
		c.MaxSessionsPerConn = 10
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 5 * time.Second
	}
	if c.MaxWidth <= 0 {
		c.MaxWidth = 500
	}
	if c.MaxHeight <= 0 {
		c.MaxHeight = 200
	}
	if c.Version == "" {
		c.Version = "dev"
	}
}

// Server is the SSH gateway.
type Server struct {
	cfg      Config
	keys     Authorizer
	sessions *sessions.Manager
	radios   *radio.Registry
	core     *backend.Backend
	log      *slog.Logger
	lim      *connLimiter
	conns    *connTable
	perConn  *sessionLimiter
	now      func() time.Time
	srv      *ssh.Server
	started  time.Time

	// handlers tracks running session handlers for graceful shutdown.
	handlers sync.WaitGroup
	// grants holds each open session's key, to re-check it (grants.go).
	grants   grants
	stopping chan struct{}
	stopOnce sync.Once
	count    counters
}

// ErrNoHostKey is returned by New without a host key.
var ErrNoHostKey = errors.New("server: no host key")

// New builds the daemon. Nothing listens until Serve.
func New(cfg Config, keys Authorizer, mgr *sessions.Manager, radios *radio.Registry, logger *slog.Logger) (*Server, error) {
	cfg.fill()
	if cfg.MaxConnections <= 0 || cfg.MaxConnectionsPerKey <= 0 {
		var sc sessions.Config
		if mgr != nil {
			sc = mgr.Config()
		}
		if cfg.MaxConnections <= 0 {
			cfg.MaxConnections = max(64, sc.MaxSessions)
		}
		if cfg.MaxConnectionsPerKey <= 0 {
			cfg.MaxConnectionsPerKey = max(8, sc.MaxPerKey)
		}
	}
	if cfg.HostKey == nil {
		return nil, ErrNoHostKey
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	core := cfg.Backend
	if core == nil {
		core = backend.New(backend.Deps{Radios: radios, Sessions: mgr, Logger: logger})
	}
	s := &Server{
		cfg: cfg, keys: keys, sessions: mgr, radios: radios, core: core, log: logger,
		perConn:  newSessionLimiter(cfg.MaxSessionsPerConn),
		now:      cfg.Now,
		stopping: make(chan struct{}),
		started:  time.Now(),
	}
	pen := newPenaltyBox(cfg.PenaltyBase, cfg.PenaltyMax, cfg.PenaltySources, s.trustedProxy)
	s.lim = newConnLimiter(startups{cfg.StartupsBegin, cfg.StartupsRate, cfg.MaxUnauthenticated},
		cfg.MaxUnauthPerSource, cfg.Rand, pen)
	s.lim.stallIdle, s.lim.stallAge = cfg.StallIdle, cfg.StallAge
	s.lim.knownReserve, s.lim.knownFor = cfg.KnownSourceReserve, cfg.KnownSourceFor
	// A tunnel between two apps waits as long as an app may stay silent.
	tunnelGrace := cfg.NodeIdleTimeout
	if tunnelGrace <= 0 {
		tunnelGrace = vnode.DefaultIdleTimeout
	}
	s.conns = newConnTable(cfg.MaxConnections, cfg.MaxConnectionsPerKey, cfg.NoSessionGrace, tunnelGrace, s.closeIdle)
	s.perConn.table = s.conns
	srv, err := wish.NewServer(
		// The host key goes in first: without one, NewServer would write a
		// fresh key into the working directory.
		func(srv *ssh.Server) error { srv.AddHostKey(cfg.HostKey); return nil },
		wish.WithVersion("meshgate_"+cfg.Version),
		wish.WithPublicKeyAuth(s.publicKeyAuth),
		wish.WithMiddleware(s.handler),
	)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	srv.HandshakeTimeout = cfg.HandshakeTimeout
	srv.ConnCallback = s.connCallback
	srv.ServerConfigCallback = s.connConfig
	srv.SessionRequestCallback = func(_ ssh.Session, req string) bool {
		return req == "shell" || req == "exec" // no subsystems
	}
	srv.ConnectionFailedCallback = func(c net.Conn, err error) {
		s.log.Info("connection failed", "remote", c.RemoteAddr().String(), "err", err)
	}
	// Channels: sessions, and direct-tcpip for local forwards to a
	// radio's virtual node only (forward.go). The forwarding callbacks
	// stay nil, which refuses remote forwarding; agent and X11 requests
	// are refused by the session handler.
	srv.ChannelHandlers = map[string]ssh.ChannelHandler{
		"session":      ssh.DefaultSessionHandler,
		"direct-tcpip": s.directTCPIP,
	}
	s.srv = srv
	// The core lists and closes connections through the server.
	core.SetConnections(s)
	return s, nil
}

// connCallback runs before the handshake: it applies the pre-auth limits.
// The total (with random early drop) is checked first, on the raw
// connection; only then is a PROXY header read (RemoteAddr reads it), so
// a client that sends nothing holds a counted slot while it is waited for,
// at most ProxyHeaderTimeout. The source the header names is then checked
// against its penalty and the per-source cap. A peer that is not a
// trusted proxy cannot name another source, so its own address is checked
// before the header read too.
func (s *Server) connCallback(ctx ssh.Context, c net.Conn) net.Conn {
	lc := &limitedConn{Conn: c, s: s}
	raw := c
	if pc, ok := c.(*proxyproto.Conn); ok {
		raw = pc.Raw()
	}
	var rawSrc netip.Addr // unknown behind a trusted proxy until its header is read
	if src := sourceOf(raw.RemoteAddr()); !s.trustedProxy(src) {
		rawSrc = src
	}
	ok, reason, stalled := s.lim.admit(lc, rawSrc, s.now())
	if stalled != nil {
		stalled.evict()
		s.refuse(stalled.RemoteAddr(), RefusedStalled, "a stalled handshake made room for a new connection")
	}
	if !ok {
		s.refuse(raw.RemoteAddr(), reason, "too many unauthenticated connections")
		return nil
	}
	if src := sourceOf(raw.RemoteAddr()); !s.trustedProxy(src) {
		lc.src = src
		if ok, reason, detail := s.lim.admitSource(lc, src, s.now()); !ok {
			s.refuse(raw.RemoteAddr(), reason, detail)
			return nil
		}
		// A header from this peer is refused; reading it (for at most
		// ProxyHeaderTimeout) happens while the slot is held.
	} else {
		lc.src = sourceOf(c.RemoteAddr()) // reads the PROXY header
		if ok, reason, detail := s.lim.admitSource(lc, lc.src, s.now()); !ok {
			s.refuse(c.RemoteAddr(), reason, detail)
			return nil
		}
	}
	s.count.connections.Add(1)
	s.log.Info("connect", "remote", c.RemoteAddr().String())
	ctx.SetValue(limitedConnKey{}, lc)
	return lc
}

// refuse counts and logs a connection refused by a limit.
func (s *Server) refuse(remote net.Addr, reason, detail string) {
	s.count.refused(reason)
	s.log.Warn("connection refused", "remote", remote.String(), "limit", reason, "reason", detail)
}

// trustedProxy reports whether ip belongs to a trusted proxy.
func (s *Server) trustedProxy(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type limitedConnKey struct{}

// connConfig is each connection's x/crypto configuration. The connection
// counts as authenticated in VerifiedPublicKeyCallback, which x/crypto
// calls once PublicKeyCallback accepted a key and the client proved it
// holds it — with that key, just before it answers "authentication
// succeeded" and NewServerConn returns. That is where the pre-auth slot
// is freed and the connection enters the table, under the total and
// per-key caps; an error there refuses the login. PublicKeyCallback
// (publicKeyAuth) cannot be the hook: it also answers queries about keys
// the client merely offers. Nor can anything after NewServerConn:
// charm.land/ssh calls nothing of ours there until a channel opens, and
// ssh -N opens none. A connection whose login still fails (the success
// message cannot be sent) closes, which takes it out of the table.
func (s *Server) connConfig(ctx ssh.Context) *gossh.ServerConfig {
	cfg := serverConfig(s.cfg.MaxAuthTries)
	lc, _ := ctx.Value(limitedConnKey{}).(*limitedConn)
	if lc == nil {
		return cfg
	}
	cfg.AuthLogCallback = func(_ gossh.ConnMetadata, method string, err error) {
		if err != nil && method != "none" {
			lc.attempt()
		}
	}
	cfg.VerifiedPublicKeyCallback = func(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
		return perms, s.authenticated(lc, conn, key)
	}
	return cfg
}

// authenticated enters lc in the connection table, or refuses the login.
func (s *Server) authenticated(lc *limitedConn, conn gossh.ConnMetadata, key gossh.PublicKey) error {
	fp := gossh.FingerprintSHA256(key)
	remote := conn.RemoteAddr().String()
	id, err := s.keys.Authorize(key, conn.RemoteAddr(), time.Now())
	if err != nil { // authorized_keys changed since the key was accepted
		return err
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.closed {
		return net.ErrClosed
	}
	a, reason := s.conns.add(lc, string(conn.SessionID()), ConnInfo{User: id.Name, Fingerprint: fp, Remote: remote, Since: s.now()})
	if a == nil {
		lc.limited = true
		s.count.refused(reason)
		detail := fmt.Sprintf("too many connections (%d)", s.cfg.MaxConnections)
		if reason == RefusedConnectionsPerKey {
			detail = fmt.Sprintf("too many connections for this key (%d)", s.cfg.MaxConnectionsPerKey)
		}
		s.log.Warn("login refused", "remote", remote, "user", id.Name, "fingerprint", fp, "limit", reason, "reason", detail)
		// The banner tells the client why (ssh prints it) before the
		// usual "permission denied".
		return &gossh.BannerError{Err: errors.New(detail), Message: "meshgate: " + detail + "; close one and try again\r\n"}
	}
	lc.entry = a
	s.lim.release(lc) // the client is no longer a stranger
	s.lim.loggedIn(lc.src, s.now())
	return nil
}

// closeIdle closes a connection whose no-session grace ran out.
func (s *Server) closeIdle(a *authConn) {
	s.count.closedNoSession.Add(1)
	s.log.Info("connection closed", "conn", a.info.ID, "remote", a.info.Remote, "user", a.info.User,
		"reason", "no session for "+s.cfg.NoSessionGrace.String())
	_ = a.lc.Close()
}

// Connections lists the authenticated connections open now, oldest first.
func (s *Server) Connections() []ConnInfo { return s.conns.list() }

// CloseConnection closes the authenticated connection with the given ID,
// ending every session on it. It reports whether there was one.
func (s *Server) CloseConnection(id string) bool {
	a := s.conns.get(id)
	if a == nil {
		return false
	}
	s.log.Info("connection closed", "conn", id, "remote", a.info.Remote, "user", a.info.User, "reason", "closed by request")
	_ = a.lc.Close()
	return true
}

// publicKeyAuth only answers "may this key log in from here?". It runs for
// every key a client offers, including keys it cannot sign for, so it
// decides nothing about identity: the session handler looks the identity
// up again from the key the client actually signed with.
func (s *Server) publicKeyAuth(ctx ssh.Context, key ssh.PublicKey) bool {
	if lc, ok := ctx.Value(limitedConnKey{}).(*limitedConn); ok {
		lc.attempt()
	}
	select {
	case <-s.stopping:
		s.count.authFailed(errShuttingDown)
		return false
	default:
	}
	_, err := s.keys.Authorize(key, ctx.RemoteAddr(), time.Now())
	if err != nil {
		s.count.authFailed(err)
		s.log.Info("auth fail", "remote", ctx.RemoteAddr().String(), "user", ctx.User(),
			"fingerprint", gossh.FingerprintSHA256(key), "reason", err)
		return false
	}
	return true
}

// Serve accepts connections on ln until ctx ends, then shuts down: every
// session is told, radios keep running for their owner to close, and
// connections still open after the grace period are closed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if len(s.cfg.TrustedProxies) > 0 {
		ln = s.proxyListener(ln)
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "demo", s.cfg.Demo, "proxy_protocol", len(s.cfg.TrustedProxies) > 0)
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	reaper := make(chan struct{})
	go func() { defer close(reaper); s.sessions.Run(ctx) }()
	defer func() { <-reaper }()
	select {
	case err := <-errc:
		if errors.Is(err, ssh.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	s.shutdown()
	<-errc
	return nil
}

// shutdown tells every session, waits up to the grace period for them to
// finish, then closes whatever is left.
func (s *Server) shutdown() {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.log.Info("shutting down", "sessions", s.sessions.Count(), "grace", s.cfg.ShutdownGrace)
	if s.radios != nil {
		s.radios.Announce("the gateway is shutting down")
	}
	s.sessions.CloseAll("the gateway is shutting down")
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("grace period over; closing remaining connections")
	}
	// Shutdown closes the listener and idle connections; Close ends the
	// rest (Shutdown alone waits forever for open sessions).
	_ = s.srv.Shutdown(ctx)
	_ = s.srv.Close()
}

// proxyListener accepts a PROXY protocol header only from the trusted
// proxies (whose header then sets the client address every limit and log
// sees) and refuses connections that send one from anywhere else.
func (s *Server) proxyListener(ln net.Listener) net.Listener {
	trusted := s.cfg.TrustedProxies
	return &proxyproto.Listener{
		Listener:          ln,
		ReadHeaderTimeout: s.cfg.ProxyHeaderTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			ap, err := netip.ParseAddrPort(o.Upstream.String())
			if err != nil {
				return proxyproto.REJECT, nil
			}
			ip := ap.Addr().Unmap()
			for _, p := range trusted {
				if p.Contains(ip) {
					return proxyproto.USE, nil
				}
			}
			return proxyproto.REJECT, nil
		},
	}
}
