package main

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"
)

// runContention has another app take the radio every 5 s (the radio
// serves one TCP client and drops the previous one), as a phone app set to
// auto-reconnect does. It measures how soon the gateway says "contended",
// how often it still dials the radio while contended (each dial kicks the
// other app), and how long after the other app leaves the sessions see
// live packets again.
func runContention(ctx context.Context, e *env) (*report, error) {
	s := e.set
	st, err := setup(ctx, e, stageOpts{name: "contention", role: "operator", seed: 13, nodes: 30, traffic: 2 * time.Second, markers: 5})
	if err != nil {
		return nil, err
	}
	defer st.teardown()
	cr, u, g, mk := st.cr, st.u, st.g, st.mk
	w, err := follow(g.sshAddr, u, true)
	if err != nil {
		return nil, err
	}
	defer w.close()
	if err := waitLive(ctx, mk, []*watcher{w}, time.Now(), 30*time.Second); err != nil {
		return nil, err
	}

	// The other app dials the radio itself, not the endpoint the gateway
	// uses, so the endpoint counts only the gateway's dials.
	other := cr.inner.Addr().String()
	start := time.Now()
	linksAtStart := cr.acceptedLinks()
	octx, stopOther := context.WithTimeout(ctx, s.contention)
	defer stopOther()
	var grabs atomic.Int64
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			grabs.Add(1)
			_ = grab(octx, other, 5*time.Second)
			select {
			case <-octx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var contendedAt time.Time
	var linksAtContended int
	for octx.Err() == nil {
		if contendedAt.IsZero() && g.radioState() == "contended" {
			contendedAt = time.Now()
			linksAtContended = cr.acceptedLinks()
			e.logf("contention: contended after %s", ms(contendedAt.Sub(start)))
		}
		sleep(octx, 200*time.Millisecond)
	}
	end := time.Now()
	linksAtEnd := cr.acceptedLinks()

	// The other app is gone. On its own the gateway tries again at its
	// next contended retry (5 minutes or more after the last); wait for
	// that up to recoveryWait, then do what a user who knows the app has
	// gone does: reconnect.
	nextTry := radioRetryAt(g, u)
	var back, manual time.Duration
	recovered := waitFor(ctx, s.recoveryWait, func() bool {
		_, ok := mk.firstSeen(w, end, time.Now())
		return ok
	})
	if recovered {
		t, _ := mk.firstSeen(w, end, time.Now())
		back = t.Sub(end)
	}
	var reconnectErr error
	if !recovered {
		asked := time.Now()
		if _, reconnectErr = u.run(g.sshAddr, "", "reconnect -r base --json"); reconnectErr == nil {
			if waitFor(ctx, 30*time.Second, func() bool { _, ok := mk.firstSeen(w, asked, time.Now()); return ok }) {
				t, _ := mk.firstSeen(w, asked, time.Now())
				manual = t.Sub(asked)
			}
		}
	}

	r := &report{}
	r.add("contention", "%s, the other app connecting every 5 s (%d times)", s.contention, grabs.Load())
	r.add("gateway dials before it said contended", "%d", linksAtContended-linksAtStart)
	if contendedAt.IsZero() {
		r.add("time to \"contended\"", "never")
	} else {
		perMin := float64(linksAtEnd-linksAtContended) / end.Sub(contendedAt).Minutes()
		r.add("time to \"contended\"", "%s", ms(contendedAt.Sub(start)))
		r.add("gateway dials while contended", "%d in %s (%.2f a minute)", linksAtEnd-linksAtContended, end.Sub(contendedAt).Round(time.Second), perMin)
		r.check(perMin < 1, "fewer than 1 dial a minute while contended")
	}
	if !nextTry.IsZero() {
		r.add("the gateway's next try when the other app left", "in %s", nextTry.Sub(end).Round(time.Second))
	}
	if recovered {
		r.add("other app gone to live packets, on its own", "%s", ms(back))
	} else {
		r.add("other app gone to live packets, on its own", "not within %s", s.recoveryWait)
		switch {
		case reconnectErr != nil:
			r.add("`reconnect` to live packets", "failed: %v", reconnectErr)
		case manual > 0:
			r.add("`reconnect` to live packets", "%s", ms(manual))
		default:
			r.add("`reconnect` to live packets", "not within 30 s")
		}
		r.check(reconnectErr == nil && manual > 0, "reconnect brings the radio back at once")
	}
	r.add("follow session survived", "%t", !w.ended.Load())
	r.check(!contendedAt.IsZero() && contendedAt.Sub(start) < 30*time.Second, "\"contended\" shown within 30 s")
	r.check(!w.ended.Load(), "the session survives")
	return r, nil
}

// radioRetryAt is when the gateway will next try base, as radios --json
// says (zero if it says nothing).
func radioRetryAt(g *gateway, u *user) time.Time {
	out, err := u.run(g.sshAddr, "", "radios --json")
	if err != nil {
		return time.Time{}
	}
	var rs []struct {
		Name    string    `json:"name"`
		RetryAt time.Time `json:"retry_at"`
	}
	if json.Unmarshal([]byte(out), &rs) != nil {
		return time.Time{}
	}
	for _, r := range rs {
		if r.Name == "base" {
			return r.RetryAt
		}
	}
	return time.Time{}
}
