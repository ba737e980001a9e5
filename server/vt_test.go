package server

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// vt is a small terminal emulator for tests: it applies what the UI
// writes (cursor moves, erases, scrolls, insertions) to a grid of cells,
// so a test can read the screen as a user would see it instead of
// grepping a stream of partial redraws. It knows the sequences the Bubble
// Tea renderer emits and ignores styles.
type vt struct {
	mu       sync.Mutex
	w, h     int
	cells    [][]string // "" marks the right half of a wide character
	main     [][]string // the main screen while the alternate one is shown
	x, y     int
	top, bot int // scroll region, inclusive
	saveX    int
	saveY    int
	autowrap bool
	wrapNext bool
	insert   bool
	last     string // the last printed grapheme, for REP
	p        *ansi.Parser
	state    byte
	rest     []byte // an incomplete sequence at the end of the last write
}

func newVT(w, h int) *vt {
	t := &vt{w: w, h: h, autowrap: true, p: ansi.NewParser()}
	t.cells = t.blank()
	t.top, t.bot = 0, h-1
	return t
}

func (t *vt) blank() [][]string {
	g := make([][]string, t.h)
	for i := range g {
		g[i] = t.blankLine()
	}
	return g
}

func (t *vt) blankLine() []string {
	l := make([]string, t.w)
	for i := range l {
		l[i] = " "
	}
	return l
}

// Write feeds terminal output.
func (t *vt) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := append(t.rest, b...)
	t.rest = nil
	for len(data) > 0 {
		if !utf8.FullRune(data) {
			break
		}
		seq, width, n, state := ansi.DecodeSequenceWc(data, t.state, t.p)
		if n == len(data) && state != ansi.NormalState && data[0] == ansi.ESC {
			break // the sequence continues in the next write
		}
		t.state = state
		data = data[n:]
		t.apply(seq, width)
	}
	t.rest = append([]byte(nil), data...)
	return len(b), nil
}

// Screen returns the visible lines, trailing spaces removed.
func (t *vt) Screen() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for y, row := range t.cells {
		if y > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(strings.Join(row, ""), " "))
	}
	return b.String()
}

func (t *vt) apply(seq []byte, width int) {
	switch {
	case len(seq) == 0:
	case width > 0:
		t.print(string(seq), width)
	case seq[0] == ansi.ESC && len(seq) > 1 && seq[1] == '[':
		t.csi()
	case seq[0] == ansi.ESC && len(seq) == 2:
		t.esc(seq[1])
	case seq[0] == ansi.CSI:
		t.csi()
	case len(seq) == 1:
		t.control(seq[0])
	}
}

func (t *vt) print(g string, width int) {
	if t.wrapNext && t.autowrap {
		t.x, t.wrapNext = 0, false
		t.lineFeed()
	}
	if t.x+width > t.w {
		if !t.autowrap {
			t.x = t.w - width
		} else {
			t.x = 0
			t.lineFeed()
		}
	}
	row := t.cells[t.y]
	if t.insert {
		copy(row[t.x+width:], row[t.x:])
	}
	row[t.x] = g
	for i := 1; i < width; i++ {
		row[t.x+i] = ""
	}
	t.last = g
	t.x += width
	if t.x >= t.w {
		t.x, t.wrapNext = t.w-1, true
	}
}

func (t *vt) control(c byte) {
	t.wrapNext = false
	switch c {
	case ansi.CR:
		t.x = 0
	case ansi.LF, ansi.VT, ansi.FF:
		t.lineFeed()
	case ansi.BS:
		t.x = max(0, t.x-1)
	case ansi.HT:
		t.x = min(t.w-1, (t.x/8+1)*8)
	}
}

func (t *vt) esc(c byte) {
	switch c {
	case '7':
		t.saveX, t.saveY = t.x, t.y
	case '8':
		t.x, t.y = t.saveX, t.saveY
	case 'M': // reverse index
		if t.y == t.top {
			t.scrollDown(1)
		} else {
			t.y = max(0, t.y-1)
		}
	case 'D':
		t.lineFeed()
	case 'E':
		t.x = 0
		t.lineFeed()
	}
}

func (t *vt) lineFeed() {
	if t.y == t.bot {
		t.scrollUp(1)
		return
	}
	t.y = min(t.h-1, t.y+1)
}

func (t *vt) scrollUp(n int) {
	for range n {
		copy(t.cells[t.top:t.bot], t.cells[t.top+1:t.bot+1])
		t.cells[t.bot] = t.blankLine()
	}
}

func (t *vt) scrollDown(n int) {
	for range n {
		copy(t.cells[t.top+1:t.bot+1], t.cells[t.top:t.bot])
		t.cells[t.top] = t.blankLine()
	}
}

func (t *vt) csi() {
	cmd := ansi.Cmd(t.p.Command())
	n := func(i, def int) int {
		v, _ := t.p.Param(i, def)
		if v == 0 {
			v = def
		}
		return v
	}
	t.wrapNext = false
	if cmd.Prefix() == '?' {
		set := cmd.Final() == 'h'
		for _, p := range t.p.Params() {
			switch p.Param(0) {
			case 1049, 47, 1047:
				t.altScreen(set)
			case 7:
				t.autowrap = set
			}
		}
		return
	}
	row := t.cells[t.y]
	switch cmd.Final() {
	case 'A':
		t.y = max(0, t.y-n(0, 1))
	case 'B':
		t.y = min(t.h-1, t.y+n(0, 1))
	case 'C':
		t.x = min(t.w-1, t.x+n(0, 1))
	case 'D':
		t.x = max(0, t.x-n(0, 1))
	case 'E':
		t.x, t.y = 0, min(t.h-1, t.y+n(0, 1))
	case 'F':
		t.x, t.y = 0, max(0, t.y-n(0, 1))
	case 'G', '`':
		t.x = clampInt(n(0, 1)-1, 0, t.w-1)
	case 'd':
		t.y = clampInt(n(0, 1)-1, 0, t.h-1)
	case 'H', 'f':
		t.y, t.x = clampInt(n(0, 1)-1, 0, t.h-1), clampInt(n(1, 1)-1, 0, t.w-1)
	case 'I':
		t.x = min(t.w-1, (t.x/8+n(0, 1))*8)
	case 'Z':
		t.x = max(0, ((t.x+7)/8-n(0, 1))*8)
	case 'J':
		mode, _ := t.p.Param(0, 0)
		switch mode {
		case 0:
			t.eraseRow(t.y, t.x, t.w)
			for y := t.y + 1; y < t.h; y++ {
				t.cells[y] = t.blankLine()
			}
		case 1:
			t.eraseRow(t.y, 0, t.x+1)
			for y := 0; y < t.y; y++ {
				t.cells[y] = t.blankLine()
			}
		default:
			t.cells = t.blank()
		}
	case 'K':
		mode, _ := t.p.Param(0, 0)
		switch mode {
		case 0:
			t.eraseRow(t.y, t.x, t.w)
		case 1:
			t.eraseRow(t.y, 0, t.x+1)
		default:
			t.eraseRow(t.y, 0, t.w)
		}
	case 'X':
		t.eraseRow(t.y, t.x, t.x+n(0, 1))
	case 'b':
		for range n(0, 1) {
			t.print(t.last, max(1, ansi.StringWidthWc(t.last)))
		}
	case '@':
		k := min(n(0, 1), t.w-t.x)
		copy(row[t.x+k:], row[t.x:])
		t.eraseRow(t.y, t.x, t.x+k)
	case 'P':
		k := min(n(0, 1), t.w-t.x)
		copy(row[t.x:], row[t.x+k:])
		t.eraseRow(t.y, t.w-k, t.w)
	case 'L', 'M', 'S', 'T':
		k := n(0, 1)
		top := t.top
		if cmd.Final() == 'L' || cmd.Final() == 'M' {
			if t.y < t.top || t.y > t.bot {
				return
			}
			t.top = t.y // insert and delete work from the cursor's line down
		}
		if cmd.Final() == 'L' || cmd.Final() == 'T' {
			t.scrollDown(k)
		} else {
			t.scrollUp(k)
		}
		t.top = top
	case 'r':
		t.top, t.bot = clampInt(n(0, 1)-1, 0, t.h-1), clampInt(n(1, t.h)-1, 0, t.h-1)
		t.x, t.y = 0, 0
	case 'h', 'l':
		if p, _ := t.p.Param(0, 0); p == 4 {
			t.insert = cmd.Final() == 'h'
		}
	}
}

func (t *vt) eraseRow(y, from, to int) {
	for x := max(0, from); x < min(to, t.w); x++ {
		t.cells[y][x] = " "
	}
}

func (t *vt) altScreen(on bool) {
	switch {
	case on && t.main == nil:
		t.main, t.cells = t.cells, t.blank()
	case !on && t.main != nil:
		t.cells, t.main = t.main, nil
	}
}

func clampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }
