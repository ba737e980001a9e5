package frame

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkReader measures raw frame splitting: a stream of 64-byte frames
// (a typical text packet) with a log line now and then, as on a serial link.
func BenchmarkReader(b *testing.B) {
	var stream []byte
	payload := bytes.Repeat([]byte{0x22}, 64)
	const frames = 1000
	for i := range frames {
		stream, _ = Append(stream, payload)
		if i%100 == 0 {
			stream = append(stream, "INFO  | radio log line\r\n"...)
		}
	}
	src := bytes.NewReader(stream)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		src.Reset(stream)
		r := NewReader(src)
		for {
			it, err := r.Next()
			if err == io.EOF {
				break
			}
			if it.Kind == KindFrame {
				n++
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
}
