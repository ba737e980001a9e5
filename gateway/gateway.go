// Package gateway wires meshgate together once: listeners, store, radios,
// automation, sessions, the core and the SSH server, and metrics. The
// command line and test harnesses build a gateway with New and run it with
// Serve, so the wiring exists in one place.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/check"
	"github.com/meshgate/meshgate/config"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/metrics"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/server"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// Options are what New needs beyond the configuration.
type Options struct {
	// Version is shown in the SSH banner.
	Version string
	// Logger receives the gateway's structured log; nil discards it.
	Logger *slog.Logger
	// Listener, when set, serves SSH instead of a listener on cfg.Listen
	// (tests pass one on 127.0.0.1:0). The gateway closes it.
	Listener net.Listener
}

// Gateway is one running meshgate.
type Gateway struct {
	cfg  *config.Config
	log  *slog.Logger
	ln   net.Listener
	mln  net.Listener
	keys *auth.Keys
	db   *store.Store
	auto *radio.Automation
	reg  *radio.Registry
	mgr  *sessions.Manager
	core *backend.Backend
	srv  *server.Server
	// nodes are the plain TCP virtual node listeners (--node-listen).
	nodes     []nodeListener
	nodeAddrs []net.Addr

	stopRadios context.CancelFunc
	closeOnce  sync.Once
}

// nodeListener is one --node-listen listener and what it serves.
type nodeListener struct {
	ln net.Listener
	nl server.NodeListener
}

// New builds a gateway from a validated configuration. The listeners come
// first: an address in use (most often a gateway already running) is the
// commonest reason not to start, and it is reported alone, before
// anything has been logged, opened or dialled. On error everything opened
// so far is released.
func New(cfg *config.Config, o Options) (g *Gateway, err error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g = &Gateway{cfg: cfg, log: logger, stopRadios: func() {}}
	defer func() {
		if err != nil {
			g.Close()
			g = nil
		}
	}()
	if g.ln = o.Listener; g.ln == nil {
		if g.ln, err = Listen(cfg.Listen, "--listen"); err != nil {
			return g, err
		}
	}
	if cfg.MetricsListen != "" {
		if g.mln, err = Listen(cfg.MetricsListen, "--metrics-listen"); err != nil {
			return g, fmt.Errorf("metrics: %w", err)
		}
	}
	for _, n := range cfg.NodeListen {
		ln, err := Listen(n.Listen, "--node-listen")
		if err != nil {
			return g, fmt.Errorf("node-listen %s: %w", n.Radio, err)
		}
		g.nodes = append(g.nodes, nodeListener{ln: ln})
		g.nodeAddrs = append(g.nodeAddrs, ln.Addr())
	}
	// The same checks as `meshgate check`: warnings are logged, a fatal
	// finding (e.g. an authorized_keys file others can write) stops us.
	rep := check.Run(cfg)
	for _, f := range rep.Findings {
		if f.Severity == check.Warning {
			logger.Warn("config check", "where", f.Where, "problem", f.Msg)
		}
	}
	if err := rep.Err(); err != nil {
		return g, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return g, fmt.Errorf("data directory: %w", err)
	}
	hostKey, err := server.LoadHostKey(cfg.HostKeyPath())
	if err != nil {
		return g, err
	}
	if cfg.Demo {
		g.keys = auth.AcceptAny(auth.Admin)
	} else if g.keys, err = auth.Load(cfg.AuthorizedKeysPath(), logger); err != nil {
		return g, err
	}
	ranges, _ := cfg.DialRanges()
	proxies, _ := cfg.ProxyRanges()
	// History, rules, filters, beacons and the audit log live in SQLite in
	// the data directory; they survive restarts and crashes.
	if g.db, err = store.Open(filepath.Join(cfg.DataDir, "meshgate.db"), store.Options{Logger: logger}); err != nil {
		return g, err
	}
	g.auto = radio.NewAutomation(g.db, logger)
	// Radios outlive the SSH server by a moment during shutdown, so they
	// get their own context, cancelled after the server has stopped.
	rctx, stop := context.WithCancel(context.Background())
	g.reg = radio.NewRegistry(rctx, radio.Config{
		Grace:      cfg.LinkGrace,
		Client:     meshtastic.Options{Heartbeat: cfg.Heartbeat},
		Store:      g.db,
		Automation: g.auto,
		Logger:     logger,
	}, ranges)
	g.stopRadios = func() { stop(); g.reg.Wait() }
	for _, r := range cfg.Radios {
		b, err := g.reg.Add(r.Name, r.Address)
		if err != nil {
			return g, err
		}
		b.SetAlwaysOn(r.AlwaysOn)
	}
	g.mgr = sessions.NewManager(sessions.Config{
		MaxSessions: cfg.MaxSessions, MaxPerKey: cfg.MaxSessionsPerKey,
		IdleTimeout: cfg.IdleTimeout, ReapInterval: cfg.ReapInterval, PacketLog: cfg.PacketLog, Logger: logger,
	})
	g.core = backend.New(backend.Deps{Radios: g.reg, Sessions: g.mgr, Store: g.db, Automation: g.auto, Logger: logger})
	var begin, rate, full int // zero: the server's defaults
	if cfg.MaxStartups != "" {
		if begin, rate, full, err = cfg.Startups(); err != nil {
			return g, fmt.Errorf("%w: max-startups: %w", config.ErrInvalid, err)
		}
	}
	penalty := cfg.PerSourcePenalty
	if penalty == 0 {
		penalty = -1 // off
	}
	g.srv, err = server.New(server.Config{
		HostKey: hostKey, Version: o.Version, HandshakeTimeout: cfg.HandshakeTimeout, MaxAuthTries: cfg.MaxAuthTries,
		MaxSessionsPerConn: cfg.MaxSessionsPerConnection,
		MaxUnauthenticated: full, StartupsBegin: begin, StartupsRate: rate, MaxUnauthPerSource: cfg.MaxStartupsPerSource,
		PenaltyBase: penalty, PenaltyMax: cfg.PerSourcePenaltyMax,
		MaxConnections: cfg.MaxConnections, MaxConnectionsPerKey: cfg.MaxConnectionsPerKey, NoSessionGrace: cfg.NoSessionGrace,
		ShutdownGrace: cfg.ShutdownGrace, Demo: cfg.Demo, TrustedProxies: proxies, Backend: g.core,
	}, g.keys, g.mgr, g.reg, logger)
	if err != nil {
		return g, err
	}
	if len(g.nodes) > 0 {
		role, err := auth.ParseRole(cfg.NodeRole)
		if err != nil {
			return g, fmt.Errorf("%w: node-role: %w", config.ErrInvalid, err)
		}
		allow, err := cfg.NodeAllowRanges()
		if err != nil {
			return g, err
		}
		for i, n := range cfg.NodeListen {
			g.nodes[i].nl = server.NodeListener{Radio: n.Radio, Role: role, Allow: allow}
		}
	}
	return g, nil
}

// NodeAddrs are the node listeners' addresses, in configuration order.
func (g *Gateway) NodeAddrs() []net.Addr { return g.nodeAddrs }

// Addr is the SSH listener's address.
func (g *Gateway) Addr() net.Addr { return g.ln.Addr() }

// Backend is the gateway's core.
func (g *Gateway) Backend() *backend.Backend { return g.core }

// ReloadKeys re-reads authorized_keys (SIGHUP); the file is also watched.
func (g *Gateway) ReloadKeys() error {
	if g.cfg.Demo {
		return nil
	}
	if err := g.keys.Reload(); err != nil {
		return err
	}
	// Sessions already open follow the new file at once.
	g.srv.CheckGrants(time.Now())
	return nil
}

// Serve runs the gateway until ctx ends, then shuts down gracefully:
// sessions are told and given the grace period, the radios stop, and the
// store closes last.
func (g *Gateway) Serve(ctx context.Context) error {
	defer g.Close()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var wg sync.WaitGroup
	if !g.cfg.Demo {
		wg.Add(1)
		go func() { defer wg.Done(); g.keys.Watch(wctx, 2*time.Second) }()
		// Watch reloads on its own when the file changes; this picks up
		// those reloads and expiry-time passing within a few seconds.
		wg.Add(1)
		go func() { defer wg.Done(); g.srv.WatchGrants(wctx, server.DefaultGrantCheck) }()
	}
	metricsDone := make(chan error, 1)
	if g.mln != nil {
		mln := g.mln
		g.mln = nil // Serve closes it
		go func() {
			metricsDone <- metrics.Serve(wctx, mln, metrics.Sources{Server: g.srv, Sessions: g.mgr, Radios: g.reg, Automation: g.auto}, g.log)
		}()
	} else {
		metricsDone <- nil
	}
	// Virtual node listeners end with ctx, their clients with them.
	nodes := g.nodes
	g.nodes = nil // ServeNode closes them
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.srv.ServeNode(wctx, n.ln, n.nl); err != nil {
				g.log.Error("node listener", "addr", n.ln.Addr().String(), "err", err)
			}
		}()
	}
	err := g.srv.Serve(ctx, g.ln)
	stopWatch()
	wg.Wait()
	if merr := <-metricsDone; merr != nil {
		g.log.Error("metrics endpoint", "err", merr)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	g.log.Info("stopped")
	return nil
}

// Close releases what the gateway holds: listeners, radios, then the
// store (radios finish with the store before it closes, so none logs its
// reads as failed). Serve calls it on the way out; calling it again is
// harmless.
func (g *Gateway) Close() {
	g.closeOnce.Do(func() {
		if g.ln != nil {
			_ = g.ln.Close()
		}
		if g.mln != nil {
			_ = g.mln.Close()
		}
		for _, n := range g.nodes {
			_ = n.ln.Close()
		}
		g.stopRadios()
		if g.db != nil {
			_ = g.db.Close()
		}
	})
}

// Listen opens a TCP listener on addr. When the address is taken or
// forbidden the error says so in one line, with what to do about it; flag
// names the setting that chooses the address.
func Listen(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	cause := err
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		cause = oe.Err // without "listen tcp ADDR:", which we say our way
	}
	hint := ""
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		cause = errors.New("address already in use")
		hint = " (another meshgate running? choose another address with " + flag + ")"
	case errors.Is(err, syscall.EACCES):
		cause = errors.New("permission denied")
		hint = " (ports below 1024 need privileges; choose another address with " + flag + ")"
	}
	return nil, &listenError{msg: fmt.Sprintf("listen on %s: %v%s", addr, cause, hint), err: err}
}

// listenError is Listen's one-line message over the original error.
type listenError struct {
	msg string
	err error
}

func (e *listenError) Error() string { return e.msg }
func (e *listenError) Unwrap() error { return e.err }
