package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"charm.land/log/v2"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/check"
	"github.com/meshgate/meshgate/config"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/metrics"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/server"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// demoRadios are the simulated radios --demo runs.
var demoRadios = []config.Radio{
	{Name: "base", Address: "sim://?seed=1&nodes=40&traffic=4s&name=Base%20Station"},
	{Name: "field", Address: "sim://?seed=2&nodes=25&traffic=6s&name=Field%20Kit"},
}

// loadServeConfig merges defaults, the config file, MESHGATE_* variables
// and flags, in that order of precedence.
func loadServeConfig(args []string, environ []string, stderr io.Writer, name string) (*config.Config, error) {
	synopsis := "[serve] [flags]"
	if name != "serve" {
		synopsis = name + " [flags]  (takes every serve flag)"
	}
	fs := newFlagSet(name, synopsis, stderr)
	cfgPath := fs.String("config", "", "YAML config file (see meshgate.example.yaml) [$MESHGATE_CONFIG]")
	type setting struct {
		s config.Setting
		v string
	}
	var given []setting
	for _, s := range config.Settings() {
		usage := s.Usage
		if d := s.Default(); d != "" {
			usage += " (default " + d + ")"
		}
		usage += " [$" + s.EnvName() + "]"
		if s.Name == "demo" {
			fs.BoolFunc(s.Name, usage, func(v string) error { given = append(given, setting{s, v}); return nil })
			continue
		}
		fs.Func(s.Name, usage, func(v string) error { given = append(given, setting{s, v}); return nil })
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	cfg := config.Default()
	path := *cfgPath
	if path == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "MESHGATE_CONFIG="); ok {
				path = v
			}
		}
	}
	if path != "" {
		if err := cfg.LoadFile(path); err != nil {
			return nil, err
		}
	}
	if err := cfg.ApplyEnv(environ); err != nil {
		return nil, err
	}
	flagRadios := false
	for _, g := range given {
		if g.s.Name == "radio" && !flagRadios {
			cfg.Radios, flagRadios = nil, true // flags replace radios from elsewhere
		}
		if err := g.s.Set(&cfg, g.v); err != nil {
			return nil, fmt.Errorf("%w: --%s: %v", errUsage, g.s.Name, err)
		}
	}
	if cfg.Demo {
		if cfg.Listen == config.Default().Listen {
			cfg.Listen = "127.0.0.1:2222"
		}
		if !loopbackListen(cfg.Listen) {
			return nil, fmt.Errorf("%w: --demo accepts any key as admin, so it only listens on loopback (got %s)", config.ErrInvalid, cfg.Listen)
		}
		if len(cfg.Radios) == 0 {
			cfg.Radios = demoRadios
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// loopbackListen reports whether addr only listens on loopback.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	l := log.NewWithOptions(w, log.Options{ReportTimestamp: true, TimeFormat: time.RFC3339})
	switch cfg.LogFormat {
	case "json":
		l.SetFormatter(log.JSONFormatter)
	case "logfmt":
		l.SetFormatter(log.LogfmtFormatter)
	}
	lvl, _ := log.ParseLevel(cfg.LogLevel)
	l.SetLevel(lvl)
	return slog.New(l)
}

// listen opens a TCP listener on addr. When the address is taken or
// forbidden the error says so in one line, with what to do about it; flag
// names the setting that chooses the address.
func listen(addr, flag string) (net.Listener, error) {
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

// listenError is listen's one-line message over the original error.
type listenError struct {
	msg string
	err error
}

func (e *listenError) Error() string { return e.msg }
func (e *listenError) Unwrap() error { return e.err }

// runServe runs the gateway until SIGINT/SIGTERM.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadServeConfig(args, os.Environ(), stderr, "serve")
	if err != nil {
		return err
	}
	// The listeners come first: an address in use (most often a gateway
	// already running) is the commonest reason not to start, and it is
	// reported alone, before anything has been logged, opened or dialled.
	ln, err := listen(cfg.Listen, "--listen")
	if err != nil {
		return err
	}
	defer ln.Close()
	var mln net.Listener
	if cfg.MetricsListen != "" {
		if mln, err = listen(cfg.MetricsListen, "--metrics-listen"); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer mln.Close()
	}
	logger := newLogger(cfg, stderr)
	// The same checks as `meshgate check`: warnings are logged, a fatal
	// finding (e.g. an authorized_keys file others can write) stops us.
	rep := check.Run(cfg)
	for _, f := range rep.Findings {
		if f.Severity == check.Warning {
			logger.Warn("config check", "where", f.Where, "problem", f.Msg)
		}
	}
	if err := rep.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	hostKey, err := server.LoadHostKey(cfg.HostKeyPath())
	if err != nil {
		return err
	}
	var keys *auth.Keys
	if cfg.Demo {
		keys = auth.AcceptAny(auth.Admin)
	} else {
		keys, err = auth.Load(cfg.AuthorizedKeysPath(), logger)
		if err != nil {
			return err
		}
	}
	ranges, _ := cfg.DialRanges()
	proxies, _ := cfg.ProxyRanges()
	// History, rules, filters, beacons and the audit log live in SQLite in
	// the data directory; they survive restarts and crashes.
	db, err := store.Open(filepath.Join(cfg.DataDir, "meshgate.db"), store.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	automation := radio.NewAutomation(db, logger)

	// Radios outlive the SSH server by a moment during shutdown, so they
	// get their own context, cancelled after the server has stopped.
	rctx, stopRadios := context.WithCancel(context.Background())
	reg := radio.NewRegistry(rctx, radio.Config{
		Grace:      cfg.LinkGrace,
		Client:     meshtastic.Options{Heartbeat: cfg.Heartbeat},
		Store:      db,
		Automation: automation,
		Logger:     logger,
	}, ranges)
	// On every way out, the radios stop and finish with the store before
	// it closes (deferred above); a broker still running then would log
	// each of its reads as "store: closed".
	defer func() { stopRadios(); reg.Wait() }()
	for _, r := range cfg.Radios {
		b, err := reg.Add(r.Name, r.Address)
		if err != nil {
			return err
		}
		b.SetAlwaysOn(r.AlwaysOn)
	}
	mgr := sessions.NewManager(sessions.Config{
		MaxSessions: cfg.MaxSessions, MaxPerKey: cfg.MaxSessionsPerKey,
		IdleTimeout: cfg.IdleTimeout, ReapInterval: cfg.ReapInterval, PacketLog: cfg.PacketLog, Logger: logger,
	})
	srv, err := server.New(server.Config{
		HostKey: hostKey, Version: version, HandshakeTimeout: cfg.HandshakeTimeout, MaxAuthTries: cfg.MaxAuthTries,
		MaxSessionsPerConn: cfg.MaxSessionsPerConnection,
		ShutdownGrace:      cfg.ShutdownGrace, Demo: cfg.Demo, TrustedProxies: proxies, Store: db,
	}, keys, mgr, reg, logger)
	if err != nil {
		return err
	}
	if cfg.Demo {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		fmt.Fprintf(stdout, "\n  DEMO MODE: any SSH key is accepted as admin; listening on %s only.\n"+
			"  Radios: base, field (simulated). Try:\n\n"+
			"    ssh -p %s mesh@127.0.0.1 help\n"+
			"    ssh -p %s mesh@127.0.0.1 nodes -r base\n\n", ln.Addr(), port, port)
	}
	// SIGHUP re-reads authorized_keys; the file is also watched.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for {
			select {
			case <-wctx.Done():
				return
			case <-hup:
				if err := keys.Reload(); err != nil {
					logger.Error("reloading authorized_keys", "err", err)
				}
			}
		}
	}()
	if !cfg.Demo {
		go keys.Watch(wctx, 2*time.Second)
	}
	metricsDone := make(chan error, 1)
	if mln != nil {
		go func() {
			metricsDone <- metrics.Serve(wctx, mln, metrics.Sources{Server: srv, Sessions: mgr, Radios: reg, Automation: automation}, logger)
		}()
	} else {
		metricsDone <- nil
	}
	err = srv.Serve(ctx, ln)
	stopWatch()
	if merr := <-metricsDone; merr != nil {
		logger.Error("metrics endpoint", "err", merr)
	}
	stopRadios()
	reg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}
