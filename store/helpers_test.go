package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "meshgate.db") }

// openAt opens a store for a test. Its clock stands still at t0 unless
// the test brings its own, so retention never races the test's records.
func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTest(t testing.TB, opts Options) *Store { return openAt(t, dbPath(t), opts) }

func flush(t testing.TB, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// addAll queues every message, waiting for room rather than dropping.
func addAll(s *Store, msgs ...Message) {
	for _, m := range msgs {
		for !s.AddMessage(m) {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

var all = Page{Limit: 10000}

func u32(v uint32) *uint32 { return &v }

var ctx = context.Background()
