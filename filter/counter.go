package filter

import (
	"cmp"
	"slices"
	"sync"
)

// maxReasons bounds the distinct reasons a Counter keeps; beyond it they
// are counted under OtherReason. Reasons name filters, so this is only
// reached by a caller inventing reasons of its own.
const maxReasons = 256

// OtherReason collects counts past the Counter's limit of distinct reasons.
const OtherReason = "other"

// Counter counts packets judged by a Set, so hidden packets stay visible
// as numbers: a view shows "1234 packets, 56 filtered (blocked by #3: node
// !a1b2c3d4 ×50, ...)". The zero value is ready to use and it is safe for
// concurrent use.
type Counter struct {
	mu       sync.Mutex
	seen     uint64
	hidden   uint64
	byReason map[string]uint64
}

// Count records one verdict and returns ok, so it wraps a Set's answer:
//
//	if counter.Count(set.Allows(p, text)) { show(p) }
func (c *Counter) Count(ok bool, reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen++
	if ok {
		return true
	}
	c.hidden++
	if c.byReason == nil {
		c.byReason = make(map[string]uint64)
	}
	if _, known := c.byReason[reason]; !known && len(c.byReason) >= maxReasons {
		reason = OtherReason
	}
	c.byReason[reason]++
	return false
}

// ReasonCount is how many packets one reason hid.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// Counts is a snapshot of a Counter.
type Counts struct {
	Seen    uint64        `json:"seen"`     // packets judged
	Hidden  uint64        `json:"filtered"` // packets hidden
	Reasons []ReasonCount `json:"reasons"`  // most frequent first, then by reason
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Counts{Seen: c.seen, Hidden: c.hidden, Reasons: make([]ReasonCount, 0, len(c.byReason))}
	for r, n := range c.byReason {
		out.Reasons = append(out.Reasons, ReasonCount{r, n})
	}
	slices.SortFunc(out.Reasons, func(a, b ReasonCount) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
	return out
}

// Reset zeroes the counts, for example when the filters change.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen, c.hidden, c.byReason = 0, 0, nil
}
