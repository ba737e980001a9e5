package chart

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func plain(_ uint8, s string) string { return s }

// Every dot of a cell sets its own braille bit.
func TestBrailleDots(t *testing.T) {
	want := [4][2]rune{{'⠁', '⠈'}, {'⠂', '⠐'}, {'⠄', '⠠'}, {'⡀', '⢀'}}
	for y := range 4 {
		for x := range 2 {
			c := New(1, 1)
			c.Set(x, y, 1)
			if got := c.Render(plain)[0]; got != string(want[y][x]) {
				t.Errorf("dot (%d,%d): %q, want %q", x, y, got, string(want[y][x]))
			}
		}
	}
	c := New(1, 1)
	for y := range 4 {
		for x := range 2 {
			c.Set(x, y, 1)
		}
	}
	if c.Render(plain)[0] != "⣿" {
		t.Error("a full cell")
	}
}

func TestLineAndClasses(t *testing.T) {
	c := New(4, 2) // 8×8 dots
	c.Line(0, 0, 7, 7, 1)
	rows := c.Render(plain)
	if rows[0] != "⠑⢄  " || rows[1] != "  ⠑⢄" {
		t.Errorf("diagonal:\n%s", strings.Join(rows, "\n"))
	}
	c.Line(-100, 3, 100, 3, 2) // clipped
	c.Line(0, 0, 1<<30, 0, 3)  // too far: ignored
	var classes []uint8
	c.Render(func(cl uint8, s string) string { classes = append(classes, cl); return s })
	if classes[0] != 2 {
		t.Errorf("the higher class does not win: %v", classes)
	}
	c.Text(1, 0, "ab", 5)
	if got := c.Render(plain)[0]; !strings.HasPrefix(got[utf8.RuneLen('⠑'):], "ab") {
		t.Errorf("label: %q", got)
	}
	if c.Free(1, 0, 1) || !c.Free(0, 1, 4) || c.Free(3, 1, 2) {
		t.Error("Free")
	}
}

// Runs of one class are styled once.
func TestRenderRuns(t *testing.T) {
	c := New(6, 1)
	c.Text(0, 0, "aaa", 1)
	c.Text(3, 0, "bbb", 2)
	calls := 0
	c.Render(func(cl uint8, s string) string { calls++; return s })
	if calls != 2 {
		t.Errorf("%d style calls for two runs", calls)
	}
}

func TestSparkline(t *testing.T) {
	if got := Sparkline([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 8, 0, 0); got != "▁▂▃▄▅▆▇█" {
		t.Errorf("ramp: %q", got)
	}
	if got := Sparkline([]float64{0, 0, 7, 7}, 2, 0, 7); got != "▁█" {
		t.Errorf("averaged: %q", got)
	}
	if got := Sparkline([]float64{3, math.NaN(), 3}, 3, 0, 0); got != "▄ ▄" {
		t.Errorf("flat with a gap: %q", got)
	}
	if got := Sparkline([]float64{1, 2}, 4, 0, 0); utf8.RuneCountInString(got) != 4 {
		t.Errorf("spread: %q", got)
	}
	if Sparkline(nil, 5, 0, 0) != "" || Sparkline([]float64{1}, 0, 0, 0) != "" {
		t.Error("empty")
	}
}

func TestSlots(t *testing.T) {
	end := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := []Sample{{end.Add(-23 * time.Hour), 10}, {end.Add(-23 * time.Hour), 20}, {end.Add(-time.Minute), 5}, {end.Add(-30 * time.Hour), 99}}
	got := Slots(s, 24, end, 24*time.Hour)
	if len(got) != 24 || got[1] != 15 || !math.IsNaN(got[0]) || got[23] != 5 || !math.IsNaN(got[10]) {
		t.Errorf("slots: %v", got)
	}
}

func FuzzCanvas(f *testing.F) {
	f.Add(3, 2, 0, 0, 5, 7, "hi")
	f.Add(0, 0, -1, -1, 1<<40, 3, "")
	f.Add(1000, 1, 999, 3, -5, 2, "\x00\xff")
	f.Fuzz(func(t *testing.T, cols, rows, x, y, x1, y1 int, s string) {
		if cols*rows > 1<<16 || cols > 1<<12 || rows > 1<<12 {
			return
		}
		c := New(cols, rows)
		c.Set(x, y, 1)
		c.Line(x, y, x1, y1, 2)
		c.Text(x, y, s, 3)
		c.Free(x, y, len(s))
		if got := c.Render(plain); len(got) != max(rows, 0) {
			t.Fatalf("%d rows rendered for %d", len(got), rows)
		}
	})
}

func FuzzSparkline(f *testing.F) {
	f.Add(1.0, 2.0, math.NaN(), 10, 0.0, 0.0)
	f.Add(math.Inf(1), -1e308, 1e308, 1<<20, 5.0, -5.0)
	f.Fuzz(func(t *testing.T, a, b, c float64, width int, lo, hi float64) {
		s := Sparkline([]float64{a, b, c}, width, lo, hi)
		if width > 0 && utf8.RuneCountInString(s) != min(width, 4096) {
			t.Fatalf("%d cells for width %d", utf8.RuneCountInString(s), width)
		}
	})
}

func BenchmarkCanvas(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		c := New(158, 44)
		w, h := c.Size()
		for i := range 200 {
			c.Set(i*7%w, i*13%h, uint8(i%4))
		}
		for i := range 10 {
			c.Line(i*30%w, 0, w-1-i*20%w, h-1, 5)
		}
		c.Render(plain)
	}
}
