package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runAbuse floods the gateway with logins by unknown keys from many
// addresses and holds hundreds of half-open connections that trickle
// bytes, while team members run commands from their own addresses. Their
// latency is compared with a calm run, and no stranger may get in.
func runAbuse(ctx context.Context, e *env) (*report, error) {
	s := e.set
	cr, err := startRadio(16, 40, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer cr.close()
	var team []*user
	for i := range s.abuseUsers {
		team = append(team, newUser(fmt.Sprintf("member%d", i+1), "operator"))
	}
	g, err := newGateway(e.bin, e.root, "abuse", gatewayConfig{radioAddr: cr.addr, alwaysOn: true}, team)
	if err != nil {
		return nil, err
	}
	if err := g.start(ctx); err != nil {
		return nil, err
	}
	defer g.stop()

	// The team: each member from 127.0.0.(2+i), one command after another.
	type result struct {
		at    time.Time
		took  time.Duration
		tries int
		err   error
	}
	var mu sync.Mutex
	var results []result
	tctx, stopTeam := context.WithCancel(ctx)
	defer stopTeam()
	var twg sync.WaitGroup
	for i, u := range team {
		twg.Add(1)
		go func() {
			defer twg.Done()
			local := fmt.Sprintf("127.0.0.%d", 2+i)
			for tctx.Err() == nil {
				start := time.Now()
				var err error
				tries := 0
				// A person retries a refused login a few times.
				for tries < 5 && tctx.Err() == nil {
					tries++
					if _, err = u.run(g.sshAddr, local, "radios --json"); err == nil {
						break
					}
					sleep(tctx, 200*time.Millisecond)
				}
				mu.Lock()
				results = append(results, result{start, time.Since(start), tries, err})
				mu.Unlock()
				sleep(tctx, 250*time.Millisecond)
			}
		}()
	}
	window := func(from, to time.Time) (d durations, failed, retried int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.at.Before(from) || r.at.After(to) {
				continue
			}
			if r.err != nil {
				failed++
				continue
			}
			if r.tries > 1 {
				retried++
			}
			d = append(d, r.took)
		}
		return d, failed, retried
	}
	sleep(ctx, 2*time.Second)
	calmFrom := time.Now()
	sleep(ctx, s.calm)
	calmTo := time.Now()

	// The strangers.
	actx, stopAbuse := context.WithTimeout(ctx, s.abuseWindow)
	defer stopAbuse()
	var halfOpened atomic.Int64
	var awg sync.WaitGroup
	for i := range s.halfOpen {
		awg.Add(1)
		go func() {
			defer awg.Done()
			halfOpen(actx, g.sshAddr, fmt.Sprintf("127.2.%d.%d", i/250, i%250+1), &halfOpened)
		}()
	}
	var admitted, refusedEarly, authFailed, otherErr atomic.Int64
	stranger := newUser("stranger", "admin") // not in authorized_keys
	jobs := make(chan int)
	for range 64 {
		awg.Add(1)
		go func() {
			defer awg.Done()
			for j := range jobs {
				local := fmt.Sprintf("127.1.%d.%d", (j%1000)/250, j%250+1)
				c, err := stranger.dial(g.sshAddr, local)
				switch {
				case err == nil:
					admitted.Add(1)
					c.Close()
				case isAuthFailure(err):
					authFailed.Add(1)
				case isEarlyClose(err):
					refusedEarly.Add(1)
				default:
					otherErr.Add(1)
				}
			}
		}()
	}
	abuseFrom := time.Now()
	interval := s.abuseWindow / time.Duration(max(1, s.abuseLogins))
	sent := 0
	for sent < s.abuseLogins && actx.Err() == nil {
		due := int(time.Since(abuseFrom) / interval)
		for ; sent < min(due, s.abuseLogins); sent++ {
			select {
			case jobs <- sent:
			case <-actx.Done():
			}
		}
		sleep(actx, 5*time.Millisecond)
	}
	close(jobs)
	<-actx.Done()
	abuseTo := time.Now()
	awg.Wait()
	stopTeam()
	twg.Wait()
	m, _ := g.metrics()

	calm, calmFailed, _ := window(calmFrom, calmTo)
	busy, busyFailed, busyRetried := window(abuseFrom, abuseTo)
	ratio := 0.0
	if calm.pct(99) > 0 {
		ratio = float64(busy.pct(99)) / float64(calm.pct(99))
	}
	r := &report{}
	r.add("strangers", "%d logins by an unknown key from 1,000 addresses in %s (%d attempted); %d half-open connections from %d addresses (%d opened in all)",
		s.abuseLogins, s.abuseWindow, sent, s.halfOpen, s.halfOpen, halfOpened.Load())
	r.add("stranger logins", "%d admitted, %d refused by key, %d closed before authentication (limits, penalties), %d other errors",
		admitted.Load(), authFailed.Load(), refusedEarly.Load(), otherErr.Load())
	r.add("team command latency, calm", "%s; %d failed", calm, calmFailed)
	r.add("team command latency, under abuse", "%s; %d needed a retry, %d failed", busy, busyRetried, busyFailed)
	r.add("p99 under abuse / calm", "%.2f", ratio)
	r.add("gateway refusals (pre-auth limits)", "%.0f", m["meshgate_connections_refused_total"])
	r.check(admitted.Load() == 0, "no stranger admitted")
	r.check(busyFailed == 0, "no team command fails")
	r.check(ratio > 0 && ratio <= 2, "team p99 within 2x of the calm run")
	return r, nil
}

// halfOpen keeps one slow connection open from local: it sends the start
// of an SSH version line a byte at a time, every 5 s, and opens a new one
// when the gateway gives up on it.
func halfOpen(ctx context.Context, addr, local string, opened *atomic.Int64) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	line := []byte("SSH-2.0-slowloris")
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		opened.Add(1)
		go func() { <-ctx.Done(); c.Close() }()
		for i := 0; ctx.Err() == nil; i = (i + 1) % len(line) {
			if _, err := c.Write(line[i : i+1]); err != nil {
				break
			}
			sleep(ctx, 5*time.Second)
		}
		c.Close()
	}
}

func isAuthFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

func isEarlyClose(err error) bool {
	if err == nil {
		return false
	}
	t := err.Error()
	return strings.Contains(t, "EOF") || strings.Contains(t, "connection reset") || strings.Contains(t, "handshake failed") || strings.Contains(t, "refused")
}
