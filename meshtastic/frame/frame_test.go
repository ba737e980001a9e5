package frame

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func mustFrame(t testing.TB, payload []byte) []byte {
	t.Helper()
	b, err := Append(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll drains r and returns a compact transcript: F:<hex> or L:<text>.
func readAll(t testing.TB, r *Reader) []string {
	t.Helper()
	var out []string
	for {
		it, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error: %v", err)
			}
			return out
		}
		switch it.Kind {
		case KindFrame:
			out = append(out, "F:"+string(it.Payload))
		case KindLog:
			out = append(out, "L:"+it.Text)
		}
	}
}

func TestAppendWorkedExamples(t *testing.T) {
	// Protocol doc §9: want_config_id=12345 and heartbeat{}.
	got := mustFrame(t, []byte{0x18, 0xB9, 0x60})
	if want := []byte{0x94, 0xC3, 0x00, 0x03, 0x18, 0xB9, 0x60}; !bytes.Equal(got, want) {
		t.Fatalf("got % x want % x", got, want)
	}
	if _, err := Append(nil, make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize payload: got %v", err)
	}
	if _, err := Append(nil, make([]byte, MaxPayload)); err != nil {
		t.Fatalf("max payload refused: %v", err)
	}
}

func TestReader(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f := func(s string) []byte { return mustFrame(t, []byte(s)) }
	oversize := []byte{Start1, Start2, 0x02, 0x01} // length 513
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"one frame", f("abc"), []string{"F:abc"}},
		{"empty frame", f(""), []string{"F:"}},
		{"text then frame", cat([]byte("boot ok\r\nhello"), f("x")), []string{"L:boot ok", "L:hello", "F:x"}},
		{"frame then trailing text", cat(f("x"), []byte("tail")), []string{"F:x", "L:tail"}},
		{"94 94 C3 resyncs on second byte", cat([]byte{Start1}, f("y")), []string{"L:\ufffd", "F:y"}},
		{"oversize header skipped", cat(oversize, f("z")), []string{"L:\ufffd\x02\x01", "F:z"}},
		{"frame hidden in oversize length", cat([]byte{Start1, Start2}, f("q")), []string{"L:\ufffd", "F:q"}},
		{"magic inside payload kept", f("a\x94\xc3b"), []string{"F:a\x94\xc3b"}},
		{"wake bytes are text", cat(bytes.Repeat([]byte{Start2}, 32), f("w")), []string{"L:\ufffd", "F:w"}},
		{"truncated at end", cat(f("a"), []byte{Start1, Start2, 0, 9, 1, 2}), []string{"F:a"}},
		{"two frames back to back", cat(f("1"), f("22")), []string{"F:1", "F:22"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time exercises every refill path.
			for _, src := range []io.Reader{bytes.NewReader(tc.in), &oneByte{b: tc.in}} {
				got := readAll(t, NewReader(src))
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("got %q want %q", got, tc.want)
				}
			}
		})
	}
}

func TestLongLineIsSplit(t *testing.T) {
	in := strings.Repeat("a", MaxLogLine*2+5) + "\n"
	got := readAll(t, NewReader(strings.NewReader(in)))
	if len(got) != 3 || len(got[0]) != MaxLogLine+2 || got[2] != "L:aaaaa" {
		t.Fatalf("unexpected split: %d parts", len(got))
	}
}

// A half frame must not block forever: after the partial timeout the reader
// resyncs and delivers the next complete frame.
func TestPartialFrameTimeout(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	r := NewReader(client, WithPartialTimeout(50*time.Millisecond))
	done := make(chan []string, 1)
	go func() {
		for {
			it, err := r.Next()
			if err != nil {
				done <- []string{"err:" + err.Error()}
				return
			}
			if it.Kind == KindFrame {
				done <- []string{string(it.Payload)}
				return
			}
		}
	}()
	if _, err := server.Write([]byte{Start1, Start2, 0, 100, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // let the timeout fire
	if _, err := server.Write(mustFrame(t, []byte("next"))); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got[0] != "next" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader blocked on a half frame")
	}
	if r.Stats().Truncated != 1 {
		t.Fatalf("truncated = %d", r.Stats().Truncated)
	}
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&lockedBuf{b: &buf})
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				_ = w.WriteFrame(bytes.Repeat([]byte{byte('a' + i)}, 40))
			}
		}()
	}
	for range 4 {
		<-done
	}
	got := readAll(t, NewReader(&buf))
	if len(got) != 400 {
		t.Fatalf("frames: %d", len(got))
	}
	for _, g := range got {
		if strings.Trim(g[2:], g[2:3]) != "" {
			t.Fatalf("interleaved frame %q", g)
		}
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

type lockedBuf struct{ b *bytes.Buffer }

func (l *lockedBuf) Write(p []byte) (int, error) { return l.b.Write(p) }

func FuzzReader(f *testing.F) {
	f.Add([]byte{Start1, Start2, 0, 3, 0x18, 0xB9, 0x60})
	f.Add([]byte("log line\r\n\x94\xc3\x00\x02\x3a\x00"))
	f.Add([]byte{Start1, Start1, Start2, 0, 1, 7})
	f.Add([]byte{Start1, Start2, 0xff, 0xff, Start1, Start2, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(&oneByte{b: in})
		total := 0
		for {
			it, err := r.Next()
			if err != nil {
				break
			}
			if it.Kind == KindFrame {
				if len(it.Payload) > MaxPayload {
					t.Fatalf("payload %d > max", len(it.Payload))
				}
				total += len(it.Payload) + HeaderLen
			}
			if it.Kind == KindLog && len(it.Text) > 3*MaxLogLine {
				t.Fatalf("log line too long: %d", len(it.Text))
			}
			total++
			if total > 10*len(in)+10 {
				t.Fatal("reader produced more than it read")
			}
		}
		// Round trip: the input wrapped as a frame (when it fits) survives
		// arbitrary text before it that holds no START1 byte.
		if len(in) <= MaxPayload {
			prefix := bytes.ReplaceAll(in, []byte{Start1}, []byte{'.'})
			stream := append(append(prefix, '\n'), mustFrame(t, in)...)
			var frames [][]byte
			rr := NewReader(bytes.NewReader(stream))
			for {
				it, err := rr.Next()
				if err != nil {
					break
				}
				if it.Kind == KindFrame {
					frames = append(frames, append([]byte(nil), it.Payload...))
				}
			}
			if len(frames) != 1 || !bytes.Equal(frames[0], in) {
				t.Fatalf("round trip lost the frame: %d frames", len(frames))
			}
		}
	})
}
