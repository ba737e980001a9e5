// Package chart draws in a terminal's text cells: a braille canvas, where
// each cell holds 2×4 dots, for maps and lines, and sparklines of eighth
// blocks for time series. It knows nothing of styles: the caller colours
// runs of cells by their class.
package chart

import (
	"strings"
	"unicode/utf8"
)

// Canvas is a grid of cells, each 2 dots wide and 4 tall. A cell takes the
// highest class of the dots set in it, so that what matters most (a larger
// class number) keeps its colour where things overlap; a text label
// replaces the dots of its cells.
type Canvas struct {
	cols, rows int
	bits       []uint8 // braille dot bits per cell
	class      []uint8 // per cell
	text       []rune  // a label's rune per cell; 0 for none
}

// New makes an empty canvas of cols×rows cells (negative sizes are empty).
func New(cols, rows int) *Canvas {
	cols, rows = max(cols, 0), max(rows, 0)
	n := cols * rows
	return &Canvas{cols: cols, rows: rows, bits: make([]uint8, n), class: make([]uint8, n), text: make([]rune, n)}
}

// Size is the canvas's size in dots.
func (c *Canvas) Size() (w, h int) { return c.cols * 2, c.rows * 4 }

// dotBit is the braille bit of the dot at (x%2, y%4) in a cell (Unicode
// braille patterns: dots 1-3 and 7 down the left column, 4-6 and 8 down the
// right).
var dotBit = [4][2]uint8{{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}}

// Set sets the dot at (x, y); dots off the canvas are ignored.
func (c *Canvas) Set(x, y int, class uint8) {
	if x < 0 || y < 0 || x >= c.cols*2 || y >= c.rows*4 {
		return
	}
	i := (y/4)*c.cols + x/2
	c.bits[i] |= dotBit[y%4][x%2]
	c.class[i] = max(c.class[i], class)
}

// Line sets the dots from (x0, y0) to (x1, y1) (Bresenham), clipped to
// the canvas; very long lines are cut to what can be seen.
func (c *Canvas) Line(x0, y0, x1, y1 int, class uint8) {
	const far = 1 << 20 // beyond any canvas: keeps the loop bounded
	if abs(x0) > far || abs(y0) > far || abs(x1) > far || abs(y1) > far {
		return
	}
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	w, h := c.Size()
	for steps := 0; steps <= dx-dy; steps++ {
		if x0 >= 0 && y0 >= 0 && x0 < w && y0 < h {
			c.Set(x0, y0, class)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

// Text writes s from cell (col, row) rightwards, one rune a cell, cut at
// the edge. Labels replace dots and take their class.
func (c *Canvas) Text(col, row int, s string, class uint8) {
	if row < 0 || row >= c.rows {
		return
	}
	for _, r := range s {
		if col >= c.cols {
			return
		}
		if col >= 0 {
			i := row*c.cols + col
			if r < ' ' || r == utf8.RuneError {
				r = '?'
			}
			c.text[i], c.class[i] = r, class
		}
		col++
	}
}

// Free reports whether the cells from (col, row) for n cells hold no
// label (dots may be there), for placing labels without overlap.
func (c *Canvas) Free(col, row, n int) bool {
	if row < 0 || row >= c.rows || col < 0 || col+n > c.cols {
		return false
	}
	for i := row*c.cols + col; i < row*c.cols+col+n; i++ {
		if c.text[i] != 0 {
			return false
		}
	}
	return true
}

// Render returns one string per row. style paints a run of cells of one
// class; it gets the run's text, so a run costs one call.
func (c *Canvas) Render(style func(class uint8, s string) string) []string {
	out := make([]string, c.rows)
	var b, run strings.Builder
	for row := range c.rows {
		b.Reset()
		run.Reset()
		cur := uint8(0)
		flush := func() {
			if run.Len() > 0 {
				b.WriteString(style(cur, run.String()))
				run.Reset()
			}
		}
		for col := range c.cols {
			i := row*c.cols + col
			r, cl := c.text[i], c.class[i]
			if r == 0 {
				if c.bits[i] == 0 {
					r, cl = ' ', 0
				} else {
					r = rune(0x2800 + int(c.bits[i]))
				}
			}
			if cl != cur {
				flush()
				cur = cl
			}
			run.WriteRune(r)
		}
		flush()
		out[row] = b.String()
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
