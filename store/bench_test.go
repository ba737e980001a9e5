package store

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWriterMessages measures text messages per second through the
// batched writer, from AddMessage to committed.
func BenchmarkWriterMessages(b *testing.B) {
	s := openTest(b, Options{})
	m := Message{Radio: "base", From: 0xa1b2c3d4, To: 0xffffffff, Text: "a typical short message on the mesh", SNR: 6.25, RSSI: -97}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m.ID = uint32(i)
		for !s.AddMessage(m) {
			time.Sleep(10 * time.Microsecond)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	if st := s.Stats(); st.Written != uint64(b.N) {
		b.Fatalf("wrote %d of %d", st.Written, b.N)
	}
}

// BenchmarkInsertPerTransaction is the baseline batching is measured
// against: one transaction per message.
func BenchmarkInsertPerTransaction(b *testing.B) {
	s := openTest(b, Options{})
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		_, err := s.wdb.Exec(insertMessage, "base", int64(i), int64(i), 1, 2, 0, "message "+strconv.Itoa(i), 0,
			false, nil, 0.0, 0, false, "", "received", "", "")
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
