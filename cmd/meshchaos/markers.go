package main

import (
	"context"
	"sort"
	"sync"
	"time"
)

// markers injects numbered text packets at the radio and remembers when
// each went in, so the time to a session's screen (or to the database)
// can be measured.
type markers struct {
	cr *chaosRadio
	mu sync.Mutex
	at []time.Time // at[i] is when marker markerBase+i was injected
}

// fire injects the next marker now and returns its id.
func (m *markers) fire() uint32 {
	m.mu.Lock()
	id := markerBase + uint32(len(m.at))
	m.at = append(m.at, time.Now())
	m.mu.Unlock()
	m.cr.inject(id)
	return id
}

// run fires perSecond markers a second until ctx ends, catching up in
// small bursts when the ticker is late (a 2 ms ticker is not reliable).
func (m *markers) run(ctx context.Context, perSecond int) {
	if perSecond <= 0 {
		return
	}
	start := time.Now()
	sent := 0
	t := time.NewTicker(min(10*time.Millisecond, time.Second/time.Duration(perSecond)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := int(time.Since(start).Seconds() * float64(perSecond))
		for ; sent < due; sent++ {
			m.fire()
		}
	}
}

// injected reports when marker id went in.
func (m *markers) injected(id uint32) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := int(id - markerBase)
	if id < markerBase || i >= len(m.at) {
		return time.Time{}, false
	}
	return m.at[i], true
}

// after returns the ids of markers injected in (from, to].
func (m *markers) between(from, to time.Time) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	lo := sort.Search(len(m.at), func(i int) bool { return m.at[i].After(from) })
	hi := sort.Search(len(m.at), func(i int) bool { return m.at[i].After(to) })
	ids := make([]uint32, 0, max(0, hi-lo))
	for i := lo; i < hi; i++ {
		ids = append(ids, markerBase+uint32(i))
	}
	return ids
}

// firstSeen is when w first saw any marker injected after from (and up to
// to): the moment the session was live again.
func (m *markers) firstSeen(w *watcher, from, to time.Time) (time.Time, bool) {
	var best time.Time
	for _, id := range m.between(from, to) {
		if t, ok := w.seenAt(id); ok && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	return best, !best.IsZero()
}

// latencies are, for every marker injected in (from, to] that w saw, the
// time from injection to w.
func (m *markers) latencies(w *watcher, from, to time.Time) (d durations, missing int) {
	for _, id := range m.between(from, to) {
		in, _ := m.injected(id)
		if t, ok := w.seenAt(id); ok {
			d = append(d, t.Sub(in))
		} else {
			missing++
		}
	}
	return d, missing
}
