// Package simtest starts simulated radios for tests of the packages above
// the protocol layer: a real TCP listener on loopback, stopped (and waited
// for) when the test ends.
package simtest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic/sim"
)

// Fast returns a config whose acks, traceroutes, reboots and admin reboot
// delays are short enough for tests, keeping the firmware's rate limits.
func Fast(seed int64, nodes int) sim.Config {
	return sim.Config{
		Seed: seed, Nodes: nodes, AckDelay: 20 * time.Millisecond, TracerouteDelay: 30 * time.Millisecond,
		RebootDowntime: 300 * time.Millisecond, AdminRebootDelay: 100 * time.Millisecond,
	}
}

// Start serves a simulated radio on 127.0.0.1 until the test ends and
// returns it with its address.
func Start(tb testing.TB, cfg sim.Config) (*sim.Radio, string) {
	tb.Helper()
	r, err := sim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			tb.Error("simulated radio did not stop")
		}
	})
	return r, ln.Addr().String()
}
