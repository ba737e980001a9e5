// Package frame implements the Meshtastic stream framing used on serial
// lines and TCP connections: a two-byte magic (0x94 0xC3), a big-endian
// 16-bit length and that many bytes of protobuf. Bytes outside frames are
// plain log text (a serial console prints its boot log on the same line).
//
// There is no checksum and no escaping, so the reader trusts only the magic,
// the 512-byte length limit and, one layer up, the protobuf decoder. It never
// copies the JS client's habit of dropping frames whose payload contains the
// magic: binary fields can legitimately contain it.
package frame

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Wire constants of the stream protocol.
const (
	Start1     = 0x94
	Start2     = 0xC3
	HeaderLen  = 4
	MaxPayload = 512 // largest ToRadio/FromRadio the firmware accepts
)

// MaxLogLine bounds one line of log text; longer runs are split so a line
// that never ends cannot grow memory without limit.
const MaxLogLine = 1024

// ErrTooLarge is returned when asked to write a payload over MaxPayload.
var ErrTooLarge = errors.New("frame: payload larger than 512 bytes")

// Append appends payload wrapped in a frame header to dst.
func Append(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return dst, fmt.Errorf("%w (%d)", ErrTooLarge, len(payload))
	}
	dst = append(dst, Start1, Start2, byte(len(payload)>>8), byte(len(payload)))
	return append(dst, payload...), nil
}

// Writer writes whole frames; it is safe for concurrent use so that a
// heartbeat goroutine and a sender never interleave two frames' bytes.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that writes frames to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame writes one frame holding payload with a single Write call.
func (w *Writer) WriteFrame(payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	w.buf, err = Append(w.buf[:0], payload)
	if err != nil {
		return err
	}
	_, err = w.w.Write(w.buf)
	return err
}

// WriteRaw writes bytes as they are (used for the 0xC3 wake-up run).
func (w *Writer) WriteRaw(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.w.Write(p)
	return err
}

// Kind says what a Reader item holds.
type Kind int

// Item kinds.
const (
	KindFrame Kind = iota + 1 // Payload holds one frame's bytes
	KindLog                   // Text holds one line of log text
)

// Item is one thing read from the stream.
type Item struct {
	Kind Kind
	// Payload is the frame's protobuf bytes. It is only valid until the
	// next call to Next; copy it to keep it.
	Payload []byte
	// Text is a line of log text without its line ending.
	Text string
}

// Stats counts what the reader had to throw away.
type Stats struct {
	Frames    uint64 // frames delivered
	Oversize  uint64 // headers announcing more than MaxPayload
	Truncated uint64 // frames abandoned half way by the partial-frame timeout
}

// deadliner is implemented by net.Conn and by our serial wrapper.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// Reader splits a byte stream into frames and log text. It is not safe for
// concurrent use.
type Reader struct {
	src     io.Reader
	dl      deadliner
	partial time.Duration
	buf     []byte // buf[head:tail] is read but not yet consumed
	head    int
	tail    int
	err     error // sticky error from src, reported once buf is drained
	line    []byte
	stats   Stats
}

// Option configures a Reader.
type Option func(*Reader)

// WithPartialTimeout makes the reader give up on a frame whose header has
// arrived but whose payload has not completed within d, then resync. It only
// works when the underlying reader has SetReadDeadline (net.Conn does). The
// firmware itself has no such timeout; a stalled half frame would otherwise
// block the link until more bytes arrive. Zero disables it.
func WithPartialTimeout(d time.Duration) Option { return func(r *Reader) { r.partial = d } }

// DefaultPartialTimeout is how long a started frame may take to complete.
const DefaultPartialTimeout = 5 * time.Second

// NewReader returns a Reader over src.
func NewReader(src io.Reader, opts ...Option) *Reader {
	r := &Reader{src: src, buf: make([]byte, 4096), partial: DefaultPartialTimeout}
	if d, ok := src.(deadliner); ok {
		r.dl = d
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Stats returns the counters so far.
func (r *Reader) Stats() Stats { return r.stats }

// fill reads more bytes from src, keeping buf[head:tail]. It returns false
// when no byte could be added (src error or timeout, left in r.err).
func (r *Reader) fill() bool {
	if r.err != nil {
		return false
	}
	if r.head > 0 && (r.tail == len(r.buf) || r.head == r.tail) {
		r.tail = copy(r.buf, r.buf[r.head:r.tail])
		r.head = 0
	}
	for range 100 { // tolerate a few empty reads, as io.Reader allows
		n, err := r.src.Read(r.buf[r.tail:])
		r.tail += n
		if err != nil {
			r.err = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	r.err = io.ErrNoProgress
	return false
}

// Next returns the next frame or log line. At the end of the stream any
// unfinished log line is returned first, then the error (io.EOF or the
// transport's error). A half frame at the end of the stream is dropped.
func (r *Reader) Next() (Item, error) {
	for {
		if r.head == r.tail && !r.fill() {
			return r.end()
		}
		b := r.buf[r.head]
		if b != Start1 {
			r.head++
			if it, ok := r.logByte(b); ok {
				return it, nil
			}
			continue
		}
		// Possible frame start: need the whole header to decide.
		for r.tail-r.head < HeaderLen {
			if !r.fill() {
				break
			}
		}
		if r.tail-r.head < HeaderLen {
			if r.tail-r.head >= 2 && r.buf[r.head+1] != Start2 {
				// Not a header: fall through to treat 0x94 as text.
			} else {
				return r.end() // the stream ended inside a header
			}
		}
		if r.tail-r.head < 2 || r.buf[r.head+1] != Start2 {
			// 0x94 not followed by 0xC3: it was text (maybe the first byte
			// of a UTF-8 sequence). The next byte is re-tested as START1.
			r.head++
			if it, ok := r.logByte(b); ok {
				return it, nil
			}
			continue
		}
		n := int(r.buf[r.head+2])<<8 | int(r.buf[r.head+3])
		if n > MaxPayload {
			// A false header or corruption. Drop only the magic's first byte
			// so a real frame starting inside the length is still found.
			r.stats.Oversize++
			r.head++
			continue
		}
		if len(r.line) > 0 {
			// Hand out the text that preceded the frame first; the header
			// stays in the buffer for the next call.
			return r.flushLine(), nil
		}
		if !r.await(HeaderLen + n) {
			if r.err == nil {
				// Partial-frame timeout: resync just past the magic.
				r.stats.Truncated++
				r.head++
				continue
			}
			return r.end()
		}
		payload := r.buf[r.head+HeaderLen : r.head+HeaderLen+n]
		r.head += HeaderLen + n
		r.stats.Frames++
		return Item{Kind: KindFrame, Payload: payload}, nil
	}
}

// await waits until n bytes are buffered. It reports false on a source
// error (r.err set) or when the partial-frame timeout fired (r.err nil).
func (r *Reader) await(n int) bool {
	if r.tail-r.head >= n {
		return true
	}
	timed := r.dl != nil && r.partial > 0
	if timed {
		_ = r.dl.SetReadDeadline(time.Now().Add(r.partial))
		defer func() { _ = r.dl.SetReadDeadline(time.Time{}) }()
	}
	for r.tail-r.head < n {
		if !r.fill() {
			if timed && errors.Is(r.err, os.ErrDeadlineExceeded) {
				r.err = nil
			}
			return false
		}
	}
	return true
}

// end reports the end of the stream: first any unfinished log line, then
// the source's error.
func (r *Reader) end() (Item, error) {
	if len(r.line) > 0 {
		return r.flushLine(), nil
	}
	err := r.err
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return Item{}, err
}

// logByte adds b to the current log line and reports a finished line.
func (r *Reader) logByte(b byte) (Item, bool) {
	switch b {
	case '\r':
		return Item{}, false
	case '\n':
		return r.flushLine(), true
	}
	r.line = append(r.line, b)
	if len(r.line) >= MaxLogLine {
		return r.flushLine(), true
	}
	return Item{}, false
}

func (r *Reader) flushLine() Item {
	text := strings.ToValidUTF8(string(r.line), "\uFFFD")
	r.line = r.line[:0]
	return Item{Kind: KindLog, Text: text}
}
