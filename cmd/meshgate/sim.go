package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/meshgate/meshgate/meshtastic/sim"
)

// runSim serves a simulated radio on a TCP port or a pseudo-terminal.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "sim [--listen ADDR | --pty] [--seed N] [--nodes N] [--traffic D]", stderr)
	listen := fs.String("listen", "127.0.0.1:4403", "TCP address for the radio API (port 0 picks a free one)")
	pty := fs.Bool("pty", false, "serve on a pseudo-terminal instead of TCP, like a radio on USB serial")
	seed := fs.Int64("seed", 1, "the virtual mesh is the same for the same seed")
	nodes := fs.Int("nodes", 30, "nodes in the virtual mesh besides the radio itself")
	traffic := fs.Duration("traffic", 5*time.Second, "mean gap between live packets (0 = quiet)")
	name := fs.String("name", "", "long name of the radio's own node (default derived from its node number)")
	idle := fs.Duration("idle-timeout", sim.DefaultIdleTimeout, "drop a client silent for this long, as firmware does")
	verbose := fs.Bool("v", false, "log what the radio does")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	if *nodes < 0 || *nodes > 5000 {
		return fmt.Errorf("%w: --nodes must be 0-5000", errUsage)
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n := *nodes
	if n == 0 {
		n = -1 // the sim reads 0 as "default"
	}
	r, err := sim.New(sim.Config{
		Seed: *seed, Nodes: n, TrafficInterval: *traffic, LongName: *name, IdleTimeout: *idle, Logger: logger,
	})
	if err != nil {
		return err
	}
	if *pty {
		master, path, err := sim.OpenPTY()
		if err != nil {
			return err
		}
		defer master.Close()
		fmt.Fprintf(stdout, "simulated radio %s on serial://%s (Ctrl-C stops it)\n", nodeIDOf(r), path)
		err = r.ServeStream(ctx, master)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulated radio %s listening on %s (Ctrl-C stops it)\n", nodeIDOf(r), ln.Addr())
	return r.Serve(ctx, ln)
}

func nodeIDOf(r *sim.Radio) string { return fmt.Sprintf("!%08x", r.MyNodeNum()) }
