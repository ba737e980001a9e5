package meshtastic_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
)

// BenchmarkHandshake200 measures a full connect + config handshake with a
// radio holding 200 nodes (199 others and its own), over loopback TCP.
func BenchmarkHandshake200(b *testing.B) {
	r, err := sim.New(sim.Config{Seed: 200, Nodes: 199})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	addr := ln.Addr().String()
	b.ReportAllocs()
	for b.Loop() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := meshtastic.Dial(dctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: -1})
		dcancel()
		if err != nil {
			b.Fatal(err)
		}
		if n := len(c.Snapshot().Nodes); n != 200 {
			b.Fatalf("nodes: %d", n)
		}
		_ = c.Close()
	}
}
