package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/meshgate/meshgate/config"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/logging"
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
	flagRadios, flagNodes := false, false
	for _, g := range given {
		if g.s.Name == "radio" && !flagRadios {
			cfg.Radios, flagRadios = nil, true // flags replace radios from elsewhere
		}
		if g.s.Name == "node-listen" && !flagNodes {
			cfg.NodeListen, flagNodes = nil, true // and node listeners
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
	return logging.New(w, cfg.LogFormat, cfg.LogLevel)
}

// runServe runs the gateway until SIGINT/SIGTERM.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadServeConfig(args, os.Environ(), stderr, "serve")
	if err != nil {
		return err
	}
	// The logger is built before the gateway opens its listeners but
	// writes nothing until one is open: a busy address is reported alone.
	logger := newLogger(cfg, stderr)
	g, err := gateway.New(cfg, gateway.Options{Version: version, Logger: logger})
	if err != nil {
		return err
	}
	if cfg.Demo {
		_, port, _ := net.SplitHostPort(g.Addr().String())
		fmt.Fprintf(stdout, "\n  DEMO MODE: any SSH key is accepted as admin; listening on %s only.\n"+
			"  Radios: base, field (simulated). Try:\n\n"+
			"    ssh -p %s mesh@127.0.0.1 help\n"+
			"    ssh -p %s mesh@127.0.0.1 nodes -r base\n\n", g.Addr(), port, port)
	}
	// SIGHUP re-reads authorized_keys; the file is also watched.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hctx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	go func() {
		for {
			select {
			case <-hctx.Done():
				return
			case <-hup:
				if err := g.ReloadKeys(); err != nil {
					logger.Error("reloading authorized_keys", "err", err)
				}
			}
		}
	}()
	return g.Serve(ctx)
}
