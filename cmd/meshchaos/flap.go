package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// runFlap kills the radio's endpoint and restarts it again and again,
// sometimes between frames, sometimes in the middle of one, sometimes in
// the middle of the handshake, while UI and follow sessions stay open.
// It measures how many sessions survive, how long after the radio is back
// the sessions see live packets, and whether the gateway's goroutines and
// memory come back to where they were.
func runFlap(ctx context.Context, e *env) (*report, error) {
	s := e.set
	st, err := setup(ctx, e, stageOpts{name: "flap", role: "operator", seed: 11, nodes: 40, traffic: 3 * time.Second, markers: 10})
	if err != nil {
		return nil, err
	}
	defer st.teardown()
	cr, u, g, mk := st.cr, st.u, st.g, st.mk

	var ws []*watcher
	defer func() {
		for _, w := range ws {
			w.close()
		}
	}()
	for i := range s.flapUI + s.flapFollow {
		open := follow
		if i < s.flapUI {
			open = openUI
		}
		w, err := open(g.sshAddr, u, true)
		if err != nil {
			return nil, fmt.Errorf("session %d: %w", i, err)
		}
		ws = append(ws, w)
	}
	// Warm up: every session sees live packets, then the baseline.
	if err := waitLive(ctx, mk, ws, time.Now(), 30*time.Second); err != nil {
		return nil, fmt.Errorf("before the first kill: %w", err)
	}
	sleep(ctx, 3*time.Second)
	before := g.settled(ctx)
	e.logf("flap: %d sessions live; gateway %s RSS, %d goroutines", len(ws), mib(before.rssKiB), before.goroutines)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var recovery, uiRecovery durations
	modes := map[killMode]int{}
	late := 0 // session-cycles that saw nothing live before the next kill
	down := func() time.Duration {
		return time.Second + time.Duration(rng.Int64N(int64(max(0, s.flapDownMax-time.Second))+1))
	}
	for i := range s.flaps {
		if ctx.Err() != nil {
			break
		}
		mode := killMode(rng.IntN(3))
		modes[mode]++
		cr.kill(mode)
		// Down for at least a second, as a restarting radio or
		// meshtasticd is: an endpoint that is back before the gateway's
		// first retry (about 1 s) three times running cannot be told
		// from another app taking the radio (see radio/linkpolicy.go).
		sleep(ctx, down())
		if err := cr.restart(); err != nil {
			return nil, err
		}
		if mode == killHandshake {
			// The radio dies again inside the first handshake after the
			// restart (a boot loop), then comes back for good.
			waitFor(ctx, 70*time.Second, func() bool { return cr.handshakeCut() })
			sleep(ctx, down())
			if err := cr.restart(); err != nil {
				return nil, err
			}
		}
		back := time.Now()
		up := time.Second + time.Duration(rng.Int64N(int64(s.flapUpMax-time.Second)+1))
		sleep(ctx, up)
		// A session is back when it sees a marker injected after the
		// radio came back; sessions that are not back yet get until the
		// recovery horizon (the gateway backs off up to a minute).
		deadline := time.Now().Add(65 * time.Second)
		for _, w := range ws {
			for {
				if t, ok := mk.firstSeen(w, back, time.Now()); ok {
					if w.kind == "ui" {
						uiRecovery = append(uiRecovery, t.Sub(back))
					} else {
						recovery = append(recovery, t.Sub(back))
					}
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					late++
					break
				}
				sleep(ctx, 100*time.Millisecond)
			}
		}
		if (i+1)%10 == 0 {
			e.logf("flap: %d/%d kills; follow back %s", i+1, s.flaps, recovery)
		}
		for _, w := range ws {
			w.forget()
		}
	}
	// Let the last reconnect settle, then compare.
	sleep(ctx, 5*time.Second)
	survived := 0
	for _, w := range ws {
		if !w.ended.Load() {
			survived++
		}
	}
	live := waitLive(ctx, mk, ws, time.Now(), 60*time.Second)
	sleep(ctx, 3*time.Second)
	after := g.settled(ctx)

	r := &report{}
	r.add("kills", "%d (%d between frames, %d mid-frame, %d mid-handshake)", s.flaps, modes[killPlain], modes[killMidFrame], modes[killHandshake])
	r.add("sessions survived", "%d of %d (%d UI, %d follow)", survived, len(ws), s.flapUI, s.flapFollow)
	r.add("radio back to live packets, follow sessions", "%s", recovery)
	r.add("radio back to live packets, UI sessions", "%s", uiRecovery)
	r.add("session-cycles not live within 65 s", "%d", late)
	r.add("gateway reconnects", "%d", g.reconnects())
	r.add("goroutines before/after", "%d / %d", before.goroutines, after.goroutines)
	r.add("RSS before/after", "%s / %s", mib(before.rssKiB), mib(after.rssKiB))
	r.check(survived == len(ws), "every session survives")
	r.check(live == nil, "every session sees live packets after the last restart")
	r.check(late == 0, "every session live again before the next kill")
	// A UI holds a timer goroutine for 50 ms after each packet it draws
	// (its frame window); with the radio busy at the end they can all be
	// open at every reading, one per UI.
	r.check(after.goroutines <= before.goroutines+s.flapUI+5, "goroutines flat")
	r.check(after.rssKiB <= before.rssKiB*3/2+4096, "memory flat")
	return r, nil
}

// waitLive waits until every watcher has seen a marker injected after
// from.
func waitLive(ctx context.Context, mk *markers, ws []*watcher, from time.Time, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, w := range ws {
		for {
			if _, ok := mk.firstSeen(w, from, time.Now()); ok {
				break
			}
			if w.ended.Load() {
				return fmt.Errorf("a %s session ended: %v", w.kind, w.endErr.Load())
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("a %s session saw no live packet within %s (%d bytes read)", w.kind, limit, w.bytes.Load())
			}
			sleep(ctx, 100*time.Millisecond)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitFor polls cond until it holds or limit passes.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		sleep(ctx, 20*time.Millisecond)
	}
	return true
}
