package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

const testPaste = 64 // paste limit in the unit tests

// chunks returns the pieces of s cut at the given offsets.
type chunkReader struct {
	parts [][]byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

func split(s []byte, at ...int) *chunkReader {
	c := &chunkReader{}
	prev := 0
	for _, a := range at {
		c.parts = append(c.parts, s[prev:a])
		prev = a
	}
	c.parts = append(c.parts, s[prev:])
	return c
}

// gateAll runs src through a gate without rate limit and returns the
// output and the gate.
func gateAll(t testing.TB, src io.Reader, limit int) ([]byte, *inputGate) {
	t.Helper()
	g := newInputGate(context.Background(), src, inputLimits{Paste: limit}, nil)
	out, err := io.ReadAll(g)
	if err != nil {
		t.Fatal(err)
	}
	return out, g
}

func TestInputGatePassesKeysUnchanged(t *testing.T) {
	in := []byte("hello\r\x1b[A\x1b[<35;10;5M\x1b]11;rgb:0000/0000/0000\x1b\\\x1bOP\x1b[97;5u\x1bP>|xterm(1)\x1b\\é€😀\x7f\x03")
	for i := 0; i <= len(in); i++ {
		out, _ := gateAll(t, split(in, i), testPaste)
		if !bytes.Equal(out, in) {
			t.Fatalf("split at %d: %q, want %q", i, out, in)
		}
	}
	// A lone ESC (the Escape key) goes out at the end of its read.
	g := newInputGate(context.Background(), strings.NewReader("\x1b"), inputLimits{Paste: testPaste}, nil)
	buf := make([]byte, 16)
	if n, err := g.Read(buf); n != 1 || buf[0] != 0x1b || err != nil {
		t.Fatalf("lone ESC: %q, %v", buf[:n], err)
	}
}

// A paste within the limit passes unchanged, whichever two places its
// bytes are split at.
func TestInputGateMarkersSplitAtEveryByte(t *testing.T) {
	in := []byte("a\x1b[200~pasted text\x1b[201~b")
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			out, g := gateAll(t, split(in, i, j), testPaste)
			if !bytes.Equal(out, in) {
				t.Fatalf("split at %d,%d: %q", i, j, out)
			}
			if g.markers != 2 {
				t.Fatalf("split at %d,%d: %d markers", i, j, g.markers)
			}
		}
	}
}

func TestInputGateCutsLongPaste(t *testing.T) {
	body := strings.Repeat("x", 1000)
	in := []byte("\x1b[200~" + body + "\x1b[201~q\x1b[200~short\x1b[201~")
	for i := 0; i <= 12; i++ { // splits around the start marker
		out, g := gateAll(t, split(in, i, len(in)-i), testPaste)
		want := "\x1b[200~" + body[:testPaste] + "\x1b[201~q\x1b[200~short\x1b[201~"
		if string(out) != want {
			t.Fatalf("split at %d: %q", i, out)
		}
		if g.pastesCut.Load() != 1 || g.discarded.Load() != int64(len(body)-testPaste) || !g.takeCut() || g.takeCut() {
			t.Fatalf("cut %d, discarded %d", g.pastesCut.Load(), g.discarded.Load())
		}
	}
	// The cut falls between characters.
	out, _ := gateAll(t, strings.NewReader("\x1b[200~"+strings.Repeat("é", 40)+"\x1b[201~"), testPaste)
	if want := "\x1b[200~" + strings.Repeat("é", testPaste/2) + "\x1b[201~"; string(out) != want {
		t.Fatalf("utf-8 cut: %q", out)
	}
}

// Inside a paste only the end marker may start a sequence: a nested
// start is dropped, ESC and bytes that are not UTF-8 are removed, a
// partial marker is text.
func TestInputGateNestedAndPartialMarkers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x1b[200~a\x1b[200~b\x1b[201~", "\x1b[200~ab\x1b[201~"},
		{"\x1b[200~a\x1b[20x\x1b[2\x1b[201~c", "\x1b[200~a[20x[2\x1b[201~c"},
		{"\x1b[200~a\xffb\xc3\x1b[201~", "\x1b[200~ab\x1b[201~"},
		{"\x1b[200~\x1b]0;x\x1b[201~", "\x1b[200~]0;x\x1b[201~"},
		{"\x1b[201~x", "\x1b[201~x"},               // an end outside a paste passes
		{"\x1b[20\x1b[200~y", "\x1b[20\x1b[200~y"}, // a broken marker before a real one
		// What ultraviolet also takes for markers.
		{"\x1b[0200;5~" + strings.Repeat("z", 100) + "\x9b201~", "\x1b[200~" + strings.Repeat("z", testPaste) + "\x1b[201~"},
		{"\x9b2>00~" + strings.Repeat("z", 100), "\x1b[200~" + strings.Repeat("z", testPaste) + "\x1b[201~"},
		// ... and what it does not.
		{"\x1b[?200~\x1b[200 ~", "\x1b[?200~\x1b[200 ~"},
	} {
		out, _ := gateAll(t, strings.NewReader(c.in), testPaste)
		if string(out) != c.want {
			t.Errorf("%q: %q, want %q", c.in, out, c.want)
		}
	}
}

// Sequences the terminal reader mishandles are dropped whole: too many
// parameters (which panic x/ansi's parser), too long, win32-input-mode
// records (which the reader turns back into bytes, a forged paste start
// among them).
func TestInputGateDropsHarmfulSequences(t *testing.T) {
	win32 := ""
	for _, c := range "\x1b[200~" {
		win32 += "\x1b[0;0;" + strconv.Itoa(int(c)) + ";1;0;1_"
	}
	for _, in := range []string{
		"\x1b[" + strings.Repeat(";", 40) + "0m",
		"\x9b" + strings.Repeat("1:", 30) + "u",
		"\x1bP" + strings.Repeat(";", 40) + "0q",
		"\x1b[" + strings.Repeat("1", 100) + "~",
		win32,
	} {
		out, g := gateAll(t, strings.NewReader("a"+in+"b"), testPaste)
		if string(out) != "ab" || g.dropped.Load() == 0 {
			t.Errorf("%q: %q", in, out)
		}
		mustDecode(t, out)
	}
	// An ESC passed on alone (the Escape key) and a dropped sequence
	// after it: what follows is still read as joined to that ESC, so the
	// second record is dropped too.
	g := newInputGate(context.Background(), split([]byte("\x1b[0;0;27;1_[0;0;27;1_"), 1), inputLimits{Paste: testPaste}, nil)
	out, _ := io.ReadAll(g)
	if string(out) != "\x1b" || g.dropped.Load() != 2 {
		t.Errorf("after a lone ESC: %q, %d dropped", out, g.dropped.Load())
	}
}

// mustDecode runs x/ansi's sequence decoder over b as the terminal
// reader does (it panicked on too many parameters).
func mustDecode(t testing.TB, b []byte) {
	t.Helper()
	p := ansi.GetParser()
	defer ansi.PutParser(p)
	var state byte
	for len(b) > 0 {
		_, _, n, ns := ansi.DecodeSequence(b, state, p)
		if n <= 0 {
			n = 1
		}
		state = ns
		b = b[n:]
	}
}

// endless is an unterminated paste of size bytes, made up as it is read.
type endless struct{ left int }

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	n := min(len(p), e.left)
	for i := range p[:n] {
		p[i] = 'a' + byte(i%26)
	}
	e.left -= n
	return n, nil
}

// A 50 MB paste that never ends passes through in bounded memory: the
// output is the start, the limit, an end, and nothing more.
func TestInputGateUnterminatedPasteBoundedMemory(t *testing.T) {
	const size = 50 << 20
	src := io.MultiReader(strings.NewReader("\x1b[200~"), &endless{left: size})
	g := newInputGate(context.Background(), src, inputLimits{Paste: 16 << 10}, nil)
	buf := make([]byte, 4096)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	total := 0
	for {
		n, err := g.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms1)
	if want := len(pasteStart) + 16<<10 + len(pasteEnd); total != want {
		t.Errorf("%d bytes out, want %d", total, want)
	}
	if g.discarded.Load() != size-16<<10 {
		t.Errorf("discarded %d", g.discarded.Load())
	}
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 64<<10 {
		t.Errorf("passing a 50 MB paste allocated %d bytes", alloc)
	}
}

// The terminal reader under Bubble Tea makes one paste of the kept part
// of a cut paste, then reads keys again.
func TestInputGateReaderSeesCutPaste(t *testing.T) {
	in := "\x1b[200~" + strings.Repeat("p", 5000) + "\x1b[2" + strings.Repeat("p", 5000) + "\x1b[201~k"
	g := newInputGate(context.Background(), strings.NewReader(in), inputLimits{Paste: 1000}, nil)
	r := uv.NewTerminalReader(g, "xterm-256color")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evc := make(chan uv.Event, 100)
	var events []uv.Event
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range evc {
			events = append(events, e)
		}
	}()
	err := r.StreamEvents(ctx, evc)
	close(evc)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var pastes []string
	keys := ""
	for _, e := range events {
		switch e := e.(type) {
		case uv.PasteEvent:
			pastes = append(pastes, e.Content)
		case uv.KeyPressEvent:
			keys += e.Text
		}
	}
	if len(pastes) != 1 || pastes[0] != strings.Repeat("p", 1000) || keys != "k" {
		t.Errorf("pastes %d (%d bytes), keys %q", len(pastes), len(strings.Join(pastes, "")), keys)
	}
}

// stepClock moves on only when slept on.
type stepClock struct {
	now   time.Time
	slept time.Duration
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

// countingReader records the largest read asked of it.
type countingReader struct {
	r       io.Reader
	maxRead int
	total   int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.maxRead = max(c.maxRead, len(p))
	n, err := c.r.Read(p)
	c.total += n
	return n, err
}

// The rate limit reads slower rather than buffering: 1 MiB at 64 KiB/s
// with a 64 KiB burst takes 15 s of the (fake) clock, and no read from
// the session asks for more than the bucket holds.
func TestInputGateRateLimit(t *testing.T) {
	clk := &stepClock{now: time.Unix(0, 0)}
	src := &countingReader{r: strings.NewReader(strings.Repeat("k", 1<<20))}
	g := newInputGate(context.Background(), src, inputLimits{Paste: testPaste, Rate: 64 << 10, Burst: 64 << 10}, clk)
	n, err := io.Copy(io.Discard, g)
	if err != nil || n != 1<<20 {
		t.Fatalf("%d bytes, %v", n, err)
	}
	if want := 15 * time.Second; clk.slept < want || clk.slept > want+100*time.Millisecond {
		t.Errorf("slept %s on the fake clock, want %s", clk.slept, want)
	}
	if src.maxRead > inputChunk {
		t.Errorf("a read of %d bytes", src.maxRead)
	}
	// The burst is there again after a pause.
	b := newTokenBucket(100, 1000, clk)
	if got, _ := b.take(context.Background(), 4096); got != 1000 {
		t.Errorf("took %d of a full bucket", got)
	}
	clk.now = clk.now.Add(time.Hour)
	if got, _ := b.take(context.Background(), 4096); got != 1000 {
		t.Errorf("took %d after an hour", got)
	}
}

// stuckClock never ends a sleep before ctx does.
type stuckClock struct{ stepClock }

func (c *stuckClock) Sleep(ctx context.Context, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

// A read waiting for the rate limit ends with the session.
func TestInputGateEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := &stuckClock{stepClock{now: time.Unix(0, 0)}}
	g := newInputGate(ctx, &endless{left: 1 << 30}, inputLimits{Paste: testPaste, Rate: 1024, Burst: 1024}, clk)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, g)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil { // io.Copy reports io.EOF as nil
			t.Fatalf("read ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end with its context")
	}
	if _, err := g.Read(make([]byte, 8)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the end: %v", err)
	}
}

// pasted returns the most bytes ultraviolet's decoder puts in one paste
// when it reads b in one go.
func pasted(b []byte) int {
	var d uv.EventDecoder
	in, cur, most := false, 0, 0
	for len(b) > 0 {
		n, ev := d.Decode(b)
		if n <= 0 {
			n = 1
		}
		switch ev.(type) {
		case uv.PasteStartEvent:
			if !in {
				in, cur = true, 0
			}
		case uv.PasteEndEvent:
			in = false
		default:
			if in {
				cur += n
				most = max(most, cur)
			}
		}
		b = b[n:]
	}
	return most
}

// FuzzPasteLimiter: whatever the input and however it is split, the
// decoder under Bubble Tea never finds more than the limit in a paste,
// x/ansi's parser does not panic on the output, and input without paste
// markers or dropped sequences comes out unchanged.
func FuzzPasteLimiter(f *testing.F) {
	for _, s := range []string{
		"hello\r",
		"\x1b[200~abc\x1b[201~",
		"\x1b[200~" + strings.Repeat("x", 200),
		"\x1b[200~" + strings.Repeat("é", 100) + "\x1b[201~tail",
		"\x1b[0200;1~\x9b201~",
		"\x1b[200~\x1b]0;\x1b[201~more\x1b[201~",
		"\x1b[0;0;27;1;0;1_\x1b[0;0;91;1;0;1_",
		"\x1b[" + strings.Repeat(";", 40) + "0m",
		"\x1b\x1b[200~\x1b",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var at []int
		if step > 0 {
			for i := int(step); i < len(in); i += int(step) {
				at = append(at, i)
			}
		}
		out, g := gateAll(t, split(in, at...), testPaste)
		if n := pasted(out); n > testPaste {
			t.Fatalf("a paste of %d bytes got through: %q", n, out)
		}
		mustDecode(t, out)
		if g.markers == 0 && g.dropped.Load() == 0 && !bytes.Equal(out, in) {
			t.Fatalf("no paste, changed: %q -> %q", in, out)
		}
	})
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A 20 MB paste into the UI through real SSH with a PTY: the gateway's
// live heap stays within a few MB of where it was (it grew by the whole
// paste, and four times that when the paste ended, before the input
// gate), the user is told the paste was cut, and the UI still works. A
// sequence with 40 parameters, which used to panic the terminal reader
// and take the gateway down, goes first.
func TestPasteIntoUIIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB through SSH")
	}
	saved := uiInput
	uiInput.Rate = 0 // the rate limit has its own test; 20 MB at 64 KiB/s takes five minutes
	t.Cleanup(func() { uiInput = saved })
	u := newUser(t, "vic", `role="viewer"`)
	g := startGateway(t, gwOptions{users: []*user{u}})
	tt := g.openTUI(t, u, "tui -r base", 100, 30)
	tt.waitText("base ● connected")
	tt.send("\x1b[" + strings.Repeat(";", 40) + "0m")

	before := liveHeap()
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, liveHeap())
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	const size = 20 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB
	if _, err := io.WriteString(tt.stdin, "\x1b[200~"); err != nil {
		t.Fatal(err)
	}
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := tt.stdin.Write(chunk); err != nil {
			t.Fatalf("after %d bytes: %v", sent, err)
		}
	}
	tt.send("\x1b[201~")
	tt.waitText("paste cut to its first 16 KiB")
	close(stop)
	<-sampled
	grew := int64(peak) - int64(before)
	t.Logf("live heap %d KiB before a 20 MB paste, at most %d KiB during it (%+d KiB)", before>>10, peak>>10, grew>>10)
	if grew > 8<<20 {
		t.Errorf("a 20 MB paste grew the live heap by %d KiB", grew>>10)
	}
	// Still usable: the Packets tab, then quit.
	tt.send("3")
	tt.waitText("Packets")
	tt.send("q")
	if code := tt.exit(); code != 0 {
		t.Fatalf("exit status %d; screen:\n%s", code, tt.text())
	}
	if !strings.Contains(g.logs.String(), "pastes_cut=1") || !strings.Contains(g.logs.String(), "sequences_dropped=1") {
		t.Errorf("no log of the limited input:\n%s", g.logs.String())
	}
}

// The discarded tail of a cut paste costs a sixteenth of the rate: an
// accidental paste of a megabyte drains in about a second of the fake
// clock, not sixteen, and the UI gets its keys again.
func TestInputGateCutTailDrainsFast(t *testing.T) {
	clk := &stepClock{now: time.Unix(0, 0)}
	in := "\x1b[200~" + strings.Repeat("p", 1<<20) + "\x1b[201~" + "q"
	g := newInputGate(context.Background(), strings.NewReader(in), inputLimits{Paste: testPaste, Rate: 64 << 10, Burst: 64 << 10}, clk)
	out, err := io.ReadAll(g)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(out), "q") {
		t.Errorf("the key after the paste is missing: ...%q", out[max(0, len(out)-20):])
	}
	// 1 MiB at a sixteenth is 64 KiB of tokens: one burst plus about a
	// second; at the full cost it would be fifteen seconds.
	if clk.slept > 3*time.Second {
		t.Errorf("slept %s on the fake clock draining a cut paste", clk.slept)
	}
}
