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
	perConn  *sessionLimiter
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
		lim:      newConnLimiter(cfg.MaxUnauthenticated, cfg.MaxUnauthPerSource),
		perConn:  newSessionLimiter(cfg.MaxSessionsPerConn),
		stopping: make(chan struct{}),
		started:  time.Now(),
	}
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
	srv.ServerConfigCallback = func(ssh.Context) *gossh.ServerConfig {
		return &gossh.ServerConfig{MaxAuthTries: cfg.MaxAuthTries}
	}
	srv.SessionRequestCallback = func(_ ssh.Session, req string) bool {
		return req == "shell" || req == "exec" // no subsystems
	}
	srv.ConnectionFailedCallback = func(c net.Conn, err error) {
		s.log.Info("connection failed", "remote", c.RemoteAddr().String(), "err", err)
	}
	// Forwarding callbacks stay nil, which refuses all port forwarding;
	// agent and X11 requests are refused by the session handler.
	s.srv = srv
	return s, nil
}

// connCallback runs before the handshake: it applies the pre-auth limits.
func (s *Server) connCallback(ctx ssh.Context, c net.Conn) net.Conn {
	lc := &limitedConn{Conn: c, l: s.lim}
	ok, reason := s.lim.acquire(lc)
	if !ok {
		s.count.refusedPreAuth.Add(1)
		s.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
		return nil
	}
	s.count.connections.Add(1)
	s.log.Info("connect", "remote", c.RemoteAddr().String())
	ctx.SetValue(limitedConnKey{}, lc)
	return lc
}

type limitedConnKey struct{}

// publicKeyAuth only answers "may this key log in from here?". It runs for
// every key a client offers, including keys it cannot sign for, so it
// decides nothing about identity: the session handler looks the identity
// up again from the key the client actually signed with.
func (s *Server) publicKeyAuth(ctx ssh.Context, key ssh.PublicKey) bool {
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
		ReadHeaderTimeout: 5 * time.Second,
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
