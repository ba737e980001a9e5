package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// markerRun measures marker text to screen: a sender session types a
// unique marker, and each viewer session's output stream is watched for
// it. Latency runs from the sender's last keystroke to the marker's first
// byte on a viewer's screen, so it covers everything a user waits for:
// the gateway's input, its core, the radio's send, the fan-out, every
// session's frame and the SSH writes.
type markerRun struct {
	addr                   string
	cfg                    *gossh.ClientConfig
	command                string // run by every session; "" opens a shell
	viewerKeys, senderKeys string // typed once, after the first screen
	sessions, markers      int
	every                  time.Duration
	rssOf                  int // process whose memory to read with the sessions open
}

// markerResult is one run's latencies.
type markerResult struct {
	open      int
	latencies []time.Duration
	// spread is each sighting after the marker's first one: the cost of
	// fanning one event out to every session's screen, without the
	// radio's own time to take the text (which the gateway does not set).
	spread []time.Duration
	// last is each marker's last sighting after its first: one slow
	// marker (a burst of the radio's own traffic, a collection) moves a
	// p99 of a dozen markers on its own, and this shows whether it did.
	last []time.Duration
	// crowded is, per marker, whether a viewer drew something else (the
	// radio's own traffic) from 100 ms before the marker's Enter to its
	// last sighting: two fan-outs then share the cores.
	crowded []bool
	misses  int
	rss     int // KiB, of rssOf, at the end with the sessions open
	// cpu is the CPU time process rssOf used from the first marker to
	// the end of the last, and wall how long that was.
	cpu, wall time.Duration
}

// viewer is one watched session.
type viewer struct {
	client *gossh.Client
	want   atomic.Pointer[markerWait]
	other  *others
	seenAt atomic.Int64 // when this viewer last saw a marker, in Unix ns
}

// others records when viewers received output that was not a marker.
type others struct {
	mu sync.Mutex
	at []time.Time
}

func (o *others) add(t time.Time) {
	o.mu.Lock()
	o.at = append(o.at, t)
	o.mu.Unlock()
}

// within reports whether any such output came between from and to.
func (o *others) within(from, to time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, t := range o.at {
		if !t.Before(from) && !t.After(to) {
			return true
		}
	}
	return false
}

// markerWait is the marker a viewer looks for and where its sighting goes.
type markerWait struct {
	text []byte
	sent time.Time
	seen chan time.Duration
}

func (r markerRun) run() (markerResult, error) {
	var res markerResult
	var viewers []*viewer
	other := &others{}
	defer func() {
		for _, v := range viewers {
			_ = v.client.Close()
		}
	}()
	for range r.sessions {
		v := &viewer{other: other}
		c, stdin, err := r.open(v.watch)
		if err != nil {
			return res, fmt.Errorf("viewer %d: %w", len(viewers)+1, err)
		}
		v.client = c
		viewers = append(viewers, v)
		if _, err := io.WriteString(stdin, r.viewerKeys); err != nil {
			return res, err
		}
	}
	res.open = len(viewers)
	sender, in, err := r.open(func([]byte) {})
	if err != nil {
		return res, fmt.Errorf("sender: %w", err)
	}
	defer sender.Close()
	if _, err := io.WriteString(in, r.senderKeys); err != nil {
		return res, err
	}
	time.Sleep(2 * time.Second) // the screens settle
	cpu0, start := cpuTime(r.rssOf), time.Now()
	for i := range r.markers {
		mk := markerText(i)
		// Viewers look for the marker's end: a renderer rewrites a line
		// from its first changed cell, and the marker's first letters may
		// match what the line held before.
		w := &markerWait{text: []byte(mk[len(mk)-7:]), seen: make(chan time.Duration, len(viewers))}
		if _, err := io.WriteString(in, mk); err != nil {
			return res, err
		}
		time.Sleep(50 * time.Millisecond) // typed, not pasted
		w.sent = time.Now()
		for _, v := range viewers {
			v.want.Store(w)
		}
		if _, err := io.WriteString(in, "\r"); err != nil {
			return res, err
		}
		deadline := time.After(10 * time.Second)
		got := 0
		var these []time.Duration
	collect:
		for got < len(viewers) {
			select {
			case d := <-w.seen:
				these = append(these, d)
				got++
			case <-deadline:
				break collect
			}
		}
		res.misses += len(viewers) - got
		res.latencies = append(res.latencies, these...)
		if len(these) > 0 {
			first := slices.Min(these)
			for _, d := range these {
				res.spread = append(res.spread, d-first)
			}
			res.last = append(res.last, slices.Max(these)-first)
			res.crowded = append(res.crowded, other.within(w.sent.Add(-100*time.Millisecond), w.sent.Add(slices.Max(these))))
		}
		time.Sleep(r.every)
	}
	res.cpu, res.wall = cpuTime(r.rssOf)-cpu0, time.Since(start)
	res.rss = rss(r.rssOf)
	return res, nil
}

// markerText is a marker no screen shows by chance.
func markerText(i int) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("mk%s%03d", hex.EncodeToString(b), i)
}

// watch looks for the current marker in a chunk of output, with the
// previous chunk's tail so a marker split across reads is found.
func (v *viewer) watch(buf []byte) {
	w := v.want.Load()
	if w == nil || !bytes.Contains(buf, w.text) {
		// The rest of a marker's frame can come in a second read.
		if now := time.Now(); now.Sub(time.Unix(0, v.seenAt.Load())) > 20*time.Millisecond {
			v.other.add(now)
		}
		return
	}
	if v.want.CompareAndSwap(w, nil) {
		v.seenAt.Store(time.Now().UnixNano())
		w.seen <- time.Since(w.sent)
	}
}

// open starts a session with a 120×40 terminal running r.command, waits
// for its first output, and feeds what it prints to watch.
func (r markerRun) open(watch func([]byte)) (*gossh.Client, io.Writer, error) {
	c, err := gossh.Dial("tcp", r.addr, r.cfg)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.NewSession()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if err := s.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		c.Close()
		return nil, nil, err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	in, err := s.StdinPipe()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	first := make(chan struct{})
	go func() {
		var once sync.Once
		buf := make([]byte, 64<<10)
		keep := 0 // bytes of the previous read kept in front
		for {
			n, err := out.Read(buf[keep:])
			if n > 0 {
				once.Do(func() { close(first) })
				watch(buf[:keep+n])
				tail := min(64, keep+n)
				copy(buf, buf[keep+n-tail:keep+n])
				keep = tail
			}
			if err != nil {
				return
			}
		}
	}()
	if r.command == "" {
		err = s.Shell()
	} else {
		err = s.Start(r.command)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		c.Close()
		return nil, nil, fmt.Errorf("no output within 10 s")
	}
	return c, in, nil
}

// quantile is the q-th quantile of sorted ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func (res markerResult) String() string {
	ds, sp := sorted(res.latencies), sorted(res.spread)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	last := make([]string, len(res.last))
	for i, d := range res.last {
		last[i] = fmt.Sprintf("%.0f", float64(d.Microseconds())/1000)
		if res.crowded[i] {
			last[i] += "*"
		}
	}
	return fmt.Sprintf("%d sessions, %d sightings, %d missed: enter to screen p50 %s, p99 %s, max %s; "+
		"after the first screen p50 %s, p99 %s", res.open, len(ds), res.misses,
		ms(quantile(ds, 0.5)), ms(quantile(ds, 0.99)), ms(quantile(ds, 1)), ms(quantile(sp, 0.5)), ms(quantile(sp, 0.99))) +
		"; each marker's last screen after its first: " + strings.Join(last, ", ") + " ms" +
		" (*: other output on a viewer from 100 ms before the marker to its last screen)"
}
