package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshgate/meshgate/format"
)

// width is the number of terminal cells s takes, escape sequences aside.
// It measures like the renderer does by default (wcwidth), so columns
// line up on the screen.
func width(s string) int { return ansi.StringWidthWc(s) }

// cut shortens s to at most w cells, marking the cut with an ellipsis.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	return ansi.TruncateWc(s, w, "…")
}

// fit cuts or pads s to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := width(s)
	if n > w {
		s = ansi.TruncateWc(s, w, "…")
		n = width(s)
	}
	if n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// right aligns s to the right of w cells.
func right(s string, w int) string {
	s = cut(s, w)
	if n := width(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

// spread puts left and right on one line of w cells, cutting left first.
func spread(left, right string, w int) string {
	rw := width(right)
	if rw >= w {
		return fit(right, w)
	}
	return fit(left, w-rw-1) + " " + right
}

// wrap breaks plain text into lines of at most w cells.
func wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	return strings.Split(ansi.WrapWc(s, w, " -"), "\n")
}

// clean makes text that came over the mesh safe to print; see
// format.Clean.
func clean(s string) string { return format.Clean(s) }

// lines pads or cuts a list of lines to exactly h and joins them, so every
// part of the screen keeps its height.
func lines(ls []string, h int) string {
	if h <= 0 {
		return ""
	}
	if len(ls) > h {
		ls = ls[:h]
	}
	size := h
	for _, l := range ls {
		size += len(l)
	}
	var b strings.Builder
	b.Grow(size)
	for i := range h {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(ls) {
			b.WriteString(ls[i])
		}
	}
	return b.String()
}

// padLines pads or cuts ls to exactly h lines without joining them.
func padLines(ls []string, h int) []string {
	for len(ls) < h {
		ls = append(ls, "")
	}
	return ls[:h]
}

// sideBySide joins two columns of lines, the left one padded to lw.
func sideBySide(left []string, lw int, sep string, rightCol []string, h int) []string {
	out := make([]string, h)
	for i := range h {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(rightCol) {
			r = rightCol[i]
		}
		out[i] = fit(l, lw) + sep + r
	}
	return out
}
