package main

import (
	"context"
	"time"
)

// stage is what a scenario starts from: a simulated radio behind its
// killable endpoint, a gateway configured to keep it connected, a key the
// gateway knows, and markers going in at a steady rate.
type stage struct {
	cr *chaosRadio
	u  *user
	g  *gateway
	mk *markers
	// teardown stops the markers, the gateway and the radio.
	teardown func()
}

// stageOpts size a stage.
type stageOpts struct {
	name        string        // the gateway's directory, and the user's name
	role        string        // the user's role
	seed        int64         // the simulated mesh
	nodes       int           // its peers
	traffic     time.Duration // mean gap of the radio's own traffic (0: quiet)
	markers     int           // marker packets a second
	notStarted  bool          // leave the gateway stopped (the crash loop starts it)
	extraConfig string        // more YAML for the gateway
}

func setup(ctx context.Context, e *env, o stageOpts) (*stage, error) {
	cr, err := startRadio(o.seed, o.nodes, o.traffic)
	if err != nil {
		return nil, err
	}
	u := newUser(o.name, o.role)
	g, err := newGateway(e.bin, e.root, o.name, gatewayConfig{radioAddr: cr.addr, alwaysOn: true, extra: o.extraConfig}, []*user{u})
	if err != nil {
		cr.close()
		return nil, err
	}
	if !o.notStarted {
		if err := g.start(ctx); err != nil {
			cr.close()
			return nil, err
		}
	}
	mk := &markers{cr: cr}
	mctx, stopMarkers := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); mk.run(mctx, o.markers) }()
	return &stage{cr: cr, u: u, g: g, mk: mk, teardown: func() {
		stopMarkers()
		<-done
		g.stop()
		cr.close()
	}}, nil
}
