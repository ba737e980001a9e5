package main

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"time"
)

// settings size every scenario. The short preset runs in a few minutes
// (what `make chaos` does); the long one is the published run.
type settings struct {
	flaps                   int
	flapUpMax, flapDownMax  time.Duration
	flapUI, flapFollow      int
	crashes                 int
	crashRate               int // marker packets per second during the crash loop
	contention              time.Duration
	recoveryWait            time.Duration
	slow                    time.Duration
	slowClients, slowNormal int
	slowRate                int
	soak, soakEvery         time.Duration
	soakSessions            int
	abuseLogins             int
	abuseWindow             time.Duration
	halfOpen, abuseUsers    int
	calm                    time.Duration
}

func shortSettings() settings {
	return settings{
		flaps: 10, flapUpMax: 4 * time.Second, flapDownMax: 3 * time.Second, flapUI: 5, flapFollow: 5,
		crashes: 5, crashRate: 500,
		contention: 45 * time.Second, recoveryWait: 30 * time.Second,
		slow: 30 * time.Second, slowClients: 20, slowNormal: 5, slowRate: 100,
		soak: 90 * time.Second, soakEvery: 10 * time.Second, soakSessions: 20,
		abuseLogins: 1500, abuseWindow: 15 * time.Second, halfOpen: 100, abuseUsers: 5, calm: 10 * time.Second,
	}
}

func longSettings() settings {
	return settings{
		flaps: 100, flapUpMax: 10 * time.Second, flapDownMax: 3 * time.Second, flapUI: 20, flapFollow: 20,
		crashes: 20, crashRate: 500,
		contention: 5 * time.Minute, recoveryWait: time.Minute,
		slow: 5 * time.Minute, slowClients: 50, slowNormal: 10, slowRate: 100,
		soak: time.Hour, soakEvery: time.Minute, soakSessions: 100,
		abuseLogins: 10000, abuseWindow: 60 * time.Second, halfOpen: 300, abuseUsers: 10, calm: 30 * time.Second,
	}
}

func (s *settings) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.flaps, "flaps", s.flaps, "flap: times the radio's endpoint is killed and restarted")
	fs.DurationVar(&s.flapUpMax, "flap-up", s.flapUpMax, "flap: the radio stays up a random 1 s to this long between kills")
	fs.DurationVar(&s.flapDownMax, "flap-down", s.flapDownMax, "flap: the radio stays down a random 1 s to this long")
	fs.IntVar(&s.flapUI, "flap-ui", s.flapUI, "flap: terminal UI sessions kept open")
	fs.IntVar(&s.flapFollow, "flap-follow", s.flapFollow, "flap: packets --follow sessions kept open")
	fs.IntVar(&s.crashes, "crashes", s.crashes, "crash: times the gateway is killed with SIGKILL")
	fs.IntVar(&s.crashRate, "crash-rate", s.crashRate, "crash: packets per second the radio delivers")
	fs.DurationVar(&s.contention, "contention", s.contention, "contention: how long another app keeps taking the radio")
	fs.DurationVar(&s.recoveryWait, "recovery-wait", s.recoveryWait, "contention: how long to wait for the gateway to come back on its own after the other app leaves, before running reconnect")
	fs.DurationVar(&s.slow, "slow", s.slow, "slow: how long the slow clients stop reading")
	fs.IntVar(&s.slowClients, "slow-clients", s.slowClients, "slow: sessions that stop reading")
	fs.IntVar(&s.slowNormal, "slow-normal", s.slowNormal, "slow: sessions that keep reading, whose latency is measured")
	fs.IntVar(&s.slowRate, "slow-rate", s.slowRate, "slow: packets per second the radio delivers")
	fs.DurationVar(&s.soak, "soak", s.soak, "soak: how long it runs")
	fs.DurationVar(&s.soakEvery, "soak-every", s.soakEvery, "soak: how often memory, goroutines, files and the database are sampled")
	fs.IntVar(&s.soakSessions, "soak-sessions", s.soakSessions, "soak: sessions, half UI and half packets --follow")
	fs.IntVar(&s.abuseLogins, "abuse-logins", s.abuseLogins, "abuse: logins with unknown keys")
	fs.DurationVar(&s.abuseWindow, "abuse-window", s.abuseWindow, "abuse: the time the logins are spread over")
	fs.IntVar(&s.halfOpen, "half-open", s.halfOpen, "abuse: slow half-open connections held open")
	fs.IntVar(&s.abuseUsers, "abuse-users", s.abuseUsers, "abuse: team members running commands meanwhile, each from its own address")
	fs.DurationVar(&s.calm, "calm", s.calm, "abuse: the calm run the users' latency is compared with")
}

// durations summarises a set of durations.
type durations []time.Duration

func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (d durations) String() string {
	if len(d) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", ms(d.pct(50)), ms(d.pct(99)), ms(d.pct(100)), len(d))
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

// slope fits y = a + b·x by least squares and returns b (per x unit).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// mib formats KiB as MiB.
func mib(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
