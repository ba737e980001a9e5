package server

import (
	"context"
	"io"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/parser"
)

// inputLimits bound what one UI session may make the terminal reader
// (ultraviolet, under Bubble Tea) hold. That reader keeps a whole
// bracketed paste in memory, and then four bytes per character of it,
// before the model sees any of it; a 200 MB paste grew the gateway by
// 640 MB.
type inputLimits struct {
	// Paste is the most bytes of one bracketed paste passed on. The
	// longest field in the UI takes a few hundred characters (a message is
	// at most 232 bytes, the compose line 400 characters); 16 KiB is 40
	// times that, so no real paste into a field is cut, while the reader
	// holds at most ~16 KiB plus 64 KiB of runes for it.
	Paste int
	// Rate is the input bytes per second a session may send once its
	// Burst is spent; 0 means no limit. A typist sends a few bytes per
	// second and a mouse in motion about 2 KiB/s, so 64 KiB/s is never
	// felt; it bounds the decoding and Update work one session can cause
	// and, because the gateway simply reads slower, the SSH channel window
	// (not our memory) absorbs the rest. The burst of 64 KiB lets a
	// largest-allowed paste through at once, four times over.
	Rate, Burst int
}

// uiInput is what every UI session gets. Tests may change it before
// starting a gateway.
var uiInput = inputLimits{Paste: 16 << 10, Rate: 64 << 10, Burst: 64 << 10}

// Bounds of one control sequence header (CSI or DCS: introducer,
// parameter and intermediate bytes, final byte). Terminals send a few
// dozen bytes at most (a kitty key report with its text is the longest).
// More than 32 parameters panic the parser under the terminal reader
// (x/ansi DecodeSequence indexes a 32-entry array with the count), which
// would take the whole gateway down; such a sequence is dropped whole.
const (
	maxSeqLen        = 64
	maxSeqSeparators = 24
)

const (
	inputChunk = 4 << 10 // bytes read from the session at a time (the terminal reader reads 4 KiB too)
	minRefill  = 1 << 10 // under a flood, wait for at least this many tokens rather than read a few bytes
)

var (
	pasteStart = []byte("\x1b[200~")
	pasteEnd   = []byte("\x1b[201~")
)

// cutDiscount is how many discarded bytes of a cut paste cost one byte
// of the input rate: they are only scanned for the paste's end.
const cutDiscount = 16

// inputGate is the io.Reader a UI session's program reads instead of
// the SSH channel. It passes keys, mouse reports and terminal replies on
// unchanged, and:
//
//   - cuts each bracketed paste to limits.Paste bytes: what is beyond is
//     discarded up to the paste's end marker, and a paste that is cut
//     (or never ends) is closed at the cut with an end marker of its own,
//     so the reader leaves paste mode and the model gets the kept part;
//   - passes on a paste's content as valid UTF-8 without ESC, so nothing
//     in it can look like, or hide, the end marker;
//   - drops control sequences the terminal reader mishandles: headers
//     longer than maxSeqLen or with more than maxSeqSeparators
//     parameters, and win32-input-mode key records (final '_'), which
//     the reader turns back into raw bytes and so could forge a paste
//     start past this gate (Bubble Tea never asks for that mode);
//   - reads at most limits.Rate bytes per second (token bucket); the
//     discarded tail of a cut paste costs a sixteenth (cutDiscount), so
//     an accidental paste of megabytes drains in seconds, not minutes,
//     while even a paste that never ends stays at 1 MiB/s.
//
// Sequences are recognised wherever an introducer (ESC [, ESC P, or the
// 8-bit CSI and DCS bytes) appears, whatever the reader would make of
// the bytes before it: the gate may see a paste where the reader sees
// none (and then only limits it), never the other way round. A paste
// marker is whatever ultraviolet decodes as one ("\x1b[0200;5~" too).
//
// It holds at most one sequence header and one partial character; its
// memory does not grow with the input. It is not safe for concurrent
// Reads (the program has one reader); the counters are.
type inputGate struct {
	src    io.Reader
	ctx    context.Context
	limit  int
	bucket *tokenBucket // nil: no rate limit

	in           [inputChunk]byte
	inPos, inEnd int
	out          [inputChunk + 256]byte // room for a chunk plus a flushed header and a marker
	outPos       int
	outEnd       int
	err          error // from src, returned once the output is drained

	// The sequence being recognised, not yet passed on except for its
	// first emitted bytes (a lone ESC is passed on at the end of a read,
	// so that the Escape key works).
	seq       [maxSeqLen]byte
	seqLen    int // bytes of the header so far, stored or not
	emitted   int
	intro     int // length of the introducer: 1 (8-bit) or 2 (ESC x)
	seps      int
	final     bool
	dropping  bool // the header is too long or has too many parameters
	inPaste   bool
	cutting   bool // this paste was cut: discard up to its end marker
	pasted    int  // content bytes of this paste passed on
	rune      [utf8.UTFMax]byte
	runeLen   int
	cutUnseen atomic.Bool // a paste was cut and the UI has not said so yet

	markers   int // paste markers recognised (for tests)
	pastesCut atomic.Int64
	discarded atomic.Int64 // paste bytes discarded
	dropped   atomic.Int64 // control sequences dropped
}

func newInputGate(ctx context.Context, src io.Reader, lim inputLimits, clk inputClock) *inputGate {
	g := &inputGate{src: src, ctx: ctx, limit: lim.Paste}
	if lim.Rate > 0 {
		g.bucket = newTokenBucket(lim.Rate, max(lim.Burst, minRefill), clk)
	}
	return g
}

// takeCut reports, once, that a paste was cut since it was last asked.
func (g *inputGate) takeCut() bool { return g.cutUnseen.Swap(false) }

// Read passes on the session's input, filtered and at the allowed rate.
// It returns io.EOF once ctx ends.
func (g *inputGate) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if g.outPos < g.outEnd {
			n := copy(p, g.out[g.outPos:g.outEnd])
			g.outPos += n
			return n, nil
		}
		g.outPos, g.outEnd = 0, 0
		if g.ctx.Err() != nil {
			return 0, io.EOF
		}
		if g.inPos < g.inEnd {
			g.process()
			continue
		}
		if g.err != nil {
			if g.seqLen > 0 { // the input ended inside a sequence header: it was data
				if g.dropping {
					g.dropped.Add(1)
				} else {
					g.flush(g.seq[g.emitted:g.seqLen])
				}
				g.seqLen = 0
				continue
			}
			return 0, g.err
		}
		want, discount := len(g.in), 1
		if g.cutting {
			discount = cutDiscount
		}
		if g.bucket != nil {
			tokens, err := g.bucket.take(g.ctx, (want+discount-1)/discount)
			if err != nil {
				return 0, io.EOF
			}
			want = min(want, tokens*discount)
		}
		n, err := g.src.Read(g.in[:want])
		if g.bucket != nil {
			g.bucket.refund((want - n) / discount)
		}
		g.inPos, g.inEnd = 0, n
		if err != nil {
			g.err = err
		}
		g.process()
	}
}

// process turns input into output until one runs out; at the end of a
// read it passes on a pending lone ESC.
func (g *inputGate) process() {
	for g.inPos < g.inEnd && g.outEnd <= len(g.out)-(maxSeqLen+2*len(pasteEnd)+utf8.UTFMax) {
		g.step(g.in[g.inPos])
		g.inPos++
	}
	if g.inPos == g.inEnd && g.seqLen == 1 && g.seq[0] == ansi.ESC && g.emitted == 0 && !g.inPaste {
		g.put(ansi.ESC)
		g.emitted = 1
	}
}

func (g *inputGate) put(b ...byte) {
	g.outEnd += copy(g.out[g.outEnd:], b)
}

// step handles one input byte.
func (g *inputGate) step(b byte) {
	if g.seqLen > 0 {
		if g.extend(b) {
			return
		}
		g.abandon()
	}
	if b == ansi.ESC || b == ansi.CSI || b == ansi.DCS {
		g.seq[0] = b
		g.seqLen, g.emitted, g.seps, g.final, g.dropping = 1, 0, 0, false, false
		g.intro = 1
		return
	}
	g.data(b)
}

// extend adds b to the sequence being recognised, or reports that b is
// not part of it.
func (g *inputGate) extend(b byte) bool {
	if g.seqLen == 1 && g.seq[0] == ansi.ESC {
		if b != '[' && b != 'P' {
			return false
		}
		g.seq[1] = b
		g.seqLen, g.intro = 2, 2
		return true
	}
	switch {
	case b >= 0x20 && b <= 0x3f: // parameter and intermediate bytes, in any order
		if b == ';' || b == ':' {
			g.seps++
		}
		if g.seqLen >= maxSeqLen-1 || g.seps > maxSeqSeparators {
			g.dropping = true
		} else {
			g.seq[g.seqLen] = b
		}
		g.seqLen++
		return true
	case b >= 0x40 && b <= 0x7e:
		if g.dropping || b == '_' {
			g.drop()
			return true
		}
		g.seq[g.seqLen] = b
		g.seqLen++
		g.complete()
		return true
	}
	return false
}

// abandon ends a sequence cut short by a byte that cannot continue it:
// its bytes are data, unless it was to be dropped.
func (g *inputGate) abandon() {
	if g.dropping {
		g.drop()
		return
	}
	g.flush(g.seq[g.emitted:g.seqLen])
	g.seqLen = 0
}

// drop discards the sequence. If its ESC was passed on already, the
// reader may join that ESC with what follows, so recognising goes on
// from the ESC alone.
func (g *inputGate) drop() {
	g.dropped.Add(1)
	if g.emitted > 0 {
		g.seqLen, g.intro, g.seps, g.dropping = 1, 1, 0, false
		return
	}
	g.seqLen = 0
}

// complete acts on a whole sequence header.
func (g *inputGate) complete() {
	seq := g.seq[:g.seqLen]
	csi := seq[0] == ansi.CSI || (seq[0] == ansi.ESC && seq[1] == '[')
	marker := 0
	if csi && seq[len(seq)-1] == '~' {
		marker = pasteMarker(seq[g.intro : len(seq)-1])
	}
	if marker != 0 {
		g.markers++
	}
	switch {
	case marker == 200 && !g.inPaste:
		g.inPaste, g.cutting, g.pasted, g.runeLen = true, false, 0, 0
		if g.emitted == 0 {
			g.put(pasteStart...)
		} else {
			g.put(seq[g.emitted:]...)
		}
	case marker == 200: // a start inside a paste: the reader ignores it
	case marker == 201 && g.inPaste:
		if !g.cutting {
			g.put(pasteEnd...)
		}
		g.inPaste, g.cutting, g.runeLen = false, false, 0
	default:
		g.flush(seq[g.emitted:])
	}
	g.seqLen = 0
}

// flush passes on bytes that turned out to be data.
func (g *inputGate) flush(b []byte) {
	for _, c := range b {
		g.data(c)
	}
}

// data passes on one byte that is not part of a sequence header.
func (g *inputGate) data(b byte) {
	switch {
	case !g.inPaste:
		g.put(b)
	case g.cutting:
		g.discarded.Add(1)
	case b == ansi.ESC:
		// Never inside a paste: only our end marker may start a sequence.
	default:
		g.content(b)
	}
}

// content passes on a paste's bytes as whole, valid UTF-8 characters
// while the paste is within the limit, and cuts it at the first
// character beyond.
func (g *inputGate) content(b byte) {
	g.rune[g.runeLen] = b
	g.runeLen++
	for g.runeLen > 0 {
		buf := g.rune[:g.runeLen]
		if !utf8.FullRune(buf) {
			return
		}
		r, size := utf8.DecodeRune(buf)
		if r == utf8.RuneError && size == 1 {
			g.runeLen = copy(g.rune[:], buf[1:]) // not UTF-8: dropped
			continue
		}
		if g.pasted+size > g.limit {
			g.discarded.Add(int64(g.runeLen))
			g.runeLen = 0
			g.put(pasteEnd...)
			g.cutting = true
			g.pastesCut.Add(1)
			g.cutUnseen.Store(true)
			return
		}
		g.put(buf[:size]...)
		g.pasted += size
		g.runeLen = copy(g.rune[:], buf[size:])
	}
}

// pasteMarker returns 200 or 201 if ultraviolet's decoder takes a CSI
// sequence with these parameter bytes and the final byte '~' for a
// bracketed-paste start or end, and 0 otherwise. It repeats that
// decoder's arithmetic (parseCsi), overflow included.
func pasteMarker(params []byte) int {
	if len(params) == 0 || (params[0] >= '<' && params[0] <= '?') {
		return 0 // no parameters, or a private prefix
	}
	var ps [parser.MaxParamsSize]ansi.Param
	n, i := 0, 0
	for ; i < len(params) && n < len(ps) && params[i] >= 0x30 && params[i] <= 0x3f; i++ {
		c := params[i]
		if c >= '0' && c <= '9' {
			if ps[n] == parser.MissingParam {
				ps[n] = 0
			}
			ps[n] *= 10
			ps[n] += ansi.Param(c - '0')
		}
		if c == ':' {
			ps[n] |= parser.HasMoreFlag
		}
		if c == ';' || c == ':' {
			n++
			if n < len(ps) {
				ps[n] = parser.MissingParam
			}
		}
	}
	if i != len(params) {
		return 0 // intermediate bytes: another command
	}
	switch v := ps[0].Param(0); v {
	case 200, 201:
		return v
	}
	return 0
}

// inputClock is time for the token bucket; tests use a fake one.
type inputClock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

type realInputClock struct{}

func (realInputClock) Now() time.Time { return time.Now() }

func (realInputClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tokenBucket allows rate bytes per second with bursts of up to burst.
// It is used by one reader goroutine.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	clock       inputClock
}

func newTokenBucket(rate, burst int, clk inputClock) *tokenBucket {
	if clk == nil {
		clk = realInputClock{}
	}
	return &tokenBucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst), last: clk.Now(), clock: clk}
}

func (b *tokenBucket) refill() {
	now := b.clock.Now()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
	}
	b.last = now
}

// take waits until some of want bytes may be read and returns how many:
// all of want when the bucket holds that many, otherwise what it holds
// once it holds at least min(want, minRefill, burst). It returns early with
// ctx's error.
func (b *tokenBucket) take(ctx context.Context, want int) (int, error) {
	need := min(float64(min(want, minRefill)), b.burst)
	for {
		b.refill()
		if b.tokens >= need {
			n := min(want, int(b.tokens))
			b.tokens -= float64(n)
			return n, nil
		}
		wait := time.Duration((need - b.tokens) / b.rate * float64(time.Second))
		if err := b.clock.Sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return 0, err
		}
	}
}

// refund gives back tokens taken for bytes that were not read.
func (b *tokenBucket) refund(n int) {
	if n > 0 {
		b.tokens = min(b.burst, b.tokens+float64(n))
	}
}
