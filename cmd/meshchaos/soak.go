package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"
)

// runSoak keeps a busy gateway running: many UI and follow sessions, the
// radio at 5 packets/s, auto-reply rules answering and a beacon. It
// samples memory, goroutines, open files and the database's size, and
// reports their trend after warm-up.
func runSoak(ctx context.Context, e *env) (*report, error) {
	s := e.set
	st, err := setup(ctx, e, stageOpts{name: "soak", role: "admin", seed: 15, nodes: 60, traffic: 200 * time.Millisecond, markers: 1})
	if err != nil {
		return nil, err
	}
	defer st.teardown()
	u, g, mk := st.u, st.g, st.mk
	for _, c := range []string{
		`rules add -r base --trigger "?" --reply "ack {sender_short}" --cooldown 1m --sender-cooldown 10m`,
		`rules add -r base --trigger weather --reply "no weather here" --cooldown 2m`,
		`rules add -r base --trigger "^(net|check)" --match regex --reply "copy {sender_short}, {hops} hops" --cooldown 5m`,
		`beacon set -r base --template "{my_name} soak {uptime}, {nodes} nodes" --interval 15m`,
		`beacon start -r base`,
	} {
		if _, err := u.run(g.sshAddr, "", c); err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
	}

	var ws []*watcher
	defer func() {
		for _, w := range ws {
			w.close()
		}
	}()
	for i := range s.soakSessions {
		open := follow
		if i%2 == 1 {
			open = openUI
		}
		w, err := open(g.sshAddr, u, true)
		if err != nil {
			return nil, fmt.Errorf("session %d: %w", i, err)
		}
		ws = append(ws, w)
	}
	if err := waitLive(ctx, mk, ws, time.Now(), 60*time.Second); err != nil {
		return nil, err
	}
	start := time.Now()
	var samples []sample
	for ctx.Err() == nil {
		sm := g.sample()
		samples = append(samples, sm)
		e.logf("soak %s: RSS %s, %d goroutines, %d files, database %.1f MB + WAL %.1f MB, %d drops", time.Since(start).Round(time.Second),
			mib(sm.rssKiB), sm.goroutines, sm.fds, float64(sm.dbBytes)/1e6, float64(sm.walBytes)/1e6, sm.drops)
		if time.Since(start) >= s.soak {
			break
		}
		for _, w := range ws {
			w.forget()
		}
		sleep(ctx, s.soakEvery)
	}
	// Still live at the end?
	liveErr := waitLive(ctx, mk, ws, time.Now(), 30*time.Second)
	ended := 0
	for _, w := range ws {
		if w.ended.Load() {
			ended++
		}
	}
	m, _ := g.metrics()
	rows := countRows(filepath.Join(g.dir, "meshgate.db"))

	// Trends after warm-up: the first sixth of the run (at least two
	// samples) is left out.
	warm := max(2, len(samples)/6)
	var xs, rss, gor, fds, dbb []float64
	for _, sm := range samples[min(warm, len(samples)):] {
		xs = append(xs, sm.at.Sub(start).Hours())
		rss = append(rss, float64(sm.rssKiB)/1024)
		gor = append(gor, float64(sm.goroutines))
		fds = append(fds, float64(sm.fds))
		dbb = append(dbb, float64(sm.dbBytes)/1e6)
	}
	first, last := samples[0], samples[len(samples)-1]
	r := &report{}
	r.add("run", "%s, %d sessions (half UI, half follow), radio at 5 packets/s, 3 rules, a beacon every 15 min, sampled every %s", s.soak, len(ws), s.soakEvery)
	r.add("RSS", "%s at start, %s at end; after warm-up %+.2f MiB/h", mib(first.rssKiB), mib(last.rssKiB), slope(xs, rss))
	r.add("goroutines", "%d at start, %d at end; after warm-up %+.1f/h", first.goroutines, last.goroutines, slope(xs, gor))
	r.add("open files", "%d at start, %d at end; after warm-up %+.1f/h", first.fds, last.fds, slope(xs, fds))
	dbRate := slope(xs, dbb)
	r.add("database", "%.1f MB at start, %.1f MB at end (%+.1f MB/h); %d packet rows", float64(first.dbBytes)/1e6, float64(last.dbBytes)/1e6, dbRate, rows)
	if rows > 0 {
		perRow := float64(last.dbBytes) / float64(rows)
		r.add("database bound", "packet retention keeps 200,000 rows: about %.0f MB at %.0f bytes a row", 200000*perRow/1e6, perRow)
	}
	r.add("packets in / replies / fan-out drops", "%.0f / %.0f / %.0f", m[`meshgate_radio_packets_in_total{radio="base"}`],
		m["meshgate_responder_replies_total"], m[`meshgate_radio_fanout_drops_total{radio="base"}`])
	r.add("sessions ended during the run", "%d of %d", ended, len(ws))
	hours := last.at.Sub(start).Hours()
	r.check(ended == 0 && liveErr == nil, "every session open and live at the end")
	// Flat: growth over the run under 10% of the level (or 2 MiB, 20
	// goroutines, 5 files), measured on the trend, not on single samples.
	// A short run is all warm-up (the UIs' logs fill for about 15
	// minutes), so only a run of 20 minutes or more is judged.
	if s.soak < 20*time.Minute {
		r.add("trend", "not judged: a run under 20 min is all warm-up (the long run is 1 h)")
	} else if hours > 0 && len(xs) >= 3 {
		r.check(slope(xs, rss)*hours <= max(2, 0.1*rss[0]), "RSS flat after warm-up")
		r.check(slope(xs, gor)*hours <= max(20, 0.1*gor[0]), "goroutines flat after warm-up")
		r.check(slope(xs, fds)*hours <= 5, "open files flat after warm-up")
	}
	return r, nil
}

func countRows(path string) int {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	_ = db.QueryRow("SELECT count(*) FROM packets").Scan(&n)
	return n
}
