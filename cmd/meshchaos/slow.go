package main

import (
	"context"
	"fmt"
	"time"
)

// runSlow opens sessions that never read (their SSH windows fill and stay
// full) beside sessions that do, with the radio busy. The gateway's
// memory must stay bounded and the readers' packet latency must not
// change.
func runSlow(ctx context.Context, e *env) (*report, error) {
	s := e.set
	st, err := setup(ctx, e, stageOpts{name: "slow", role: "operator", seed: 14, nodes: 40, markers: s.slowRate})
	if err != nil {
		return nil, err
	}
	defer st.teardown()
	u, g, mk := st.u, st.g, st.mk

	var normal, slow []*watcher
	defer func() {
		for _, w := range append(normal, slow...) {
			w.close()
		}
	}()
	for range s.slowNormal {
		w, err := follow(g.sshAddr, u, true)
		if err != nil {
			return nil, err
		}
		normal = append(normal, w)
	}
	if err := waitLive(ctx, mk, normal, time.Now(), 30*time.Second); err != nil {
		return nil, err
	}
	// The calm phase, as long as the slow one but at most a minute.
	calm := min(s.slow, time.Minute)
	sleep(ctx, 2*time.Second)
	calmFrom := time.Now()
	calmSample := g.settled(ctx)
	sleep(ctx, calm)
	calmTo := time.Now()
	sleep(ctx, 2*time.Second) // the last markers reach the readers

	for i := range s.slowClients {
		open := follow
		if i%2 == 1 {
			open = openUI
		}
		w, err := open(g.sshAddr, u, false)
		if err != nil {
			return nil, fmt.Errorf("slow session %d: %w", i, err)
		}
		slow = append(slow, w)
	}
	e.logf("slow: %d sessions stopped reading beside %d readers", len(slow), len(normal))
	slowFrom := time.Now()
	peak := g.sample()
	for time.Since(slowFrom) < s.slow && ctx.Err() == nil {
		sleep(ctx, time.Second)
		if sm := g.sample(); sm.rssKiB > peak.rssKiB {
			peak = sm
		}
	}
	slowTo := time.Now()
	sleep(ctx, 2*time.Second)
	m, _ := g.metrics()

	// The first part of the stall is the gateway filling 50 SSH windows
	// (2 MiB each) with output nobody reads: six times the calm work.
	// After that the stalled sessions only lose events. Both are shown;
	// the target is about the steady state.
	filled := slowFrom.Add(min(time.Minute, s.slow/4))
	var calmLat, fillLat, slowLat durations
	calmMissing, slowMissing := 0, 0
	for _, w := range normal {
		d, miss := mk.latencies(w, calmFrom, calmTo)
		calmLat = append(calmLat, d...)
		calmMissing += miss
		d, miss = mk.latencies(w, slowFrom, filled)
		fillLat = append(fillLat, d...)
		slowMissing += miss
		d, miss = mk.latencies(w, filled, slowTo)
		slowLat = append(slowLat, d...)
		slowMissing += miss
	}
	stillOpen := 0
	for _, w := range slow {
		if !w.ended.Load() {
			stillOpen++
		}
	}
	for _, w := range slow {
		w.close()
	}
	slow = nil
	sleep(ctx, 5*time.Second)
	after := g.settled(ctx)

	r := &report{}
	r.add("load", "%d packets/s; %d readers; %d sessions not reading (half UI) for %s", s.slowRate, len(normal), s.slowClients, s.slow)
	r.add("readers' latency, calm", "%s", calmLat)
	r.add("readers' latency, while the stalled sessions' windows fill", "%s", fillLat)
	r.add("readers' latency, beside the stalled sessions after that", "%s", slowLat)
	r.add("packets the readers missed", "%d calm, %d beside the stalled sessions", calmMissing, slowMissing)
	r.add("gateway RSS", "%s calm, peak %s, %s after they left", mib(calmSample.rssKiB), mib(peak.rssKiB), mib(after.rssKiB))
	r.add("gateway goroutines", "%d calm, %d at the peak, %d after", calmSample.goroutines, peak.goroutines, after.goroutines)
	r.add("events dropped for stalled sessions", "%.0f", m[`meshgate_radio_fanout_drops_total{radio="base"}`])
	r.add("stalled sessions still open at the end", "%d of %d", stillOpen, s.slowClients)
	r.check(slowMissing == 0, "readers miss nothing")
	r.check(slowLat.pct(99) <= max(2*calmLat.pct(99), calmLat.pct(99)+20*time.Millisecond), "readers' p99 latency unchanged (within 2x or 20 ms)")
	r.check(peak.rssKiB <= calmSample.rssKiB+s.slowClients*4096, "memory bounded (at most 4 MiB per stalled session)")
	r.check(after.goroutines <= calmSample.goroutines+5, "goroutines back after the stalled sessions leave")
	return r, nil
}
