package radio

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// BenchmarkFanout measures publishing one packet to N subscribers whose
// consumers keep up (each drains its queue in its own goroutine, as a
// session's forwarder does). One op is one packet to all subscribers.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			br := New(Config{Name: "bench", QueueLen: 256})
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for i := range n {
				s := br.Subscribe(fmt.Sprint(i))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-s.Events():
						case <-stop:
							return
						}
					}
				}()
			}
			p := &Packet{At: time.Now(), P: &pb.MeshPacket{From: 1, To: 0xFFFFFFFF}}
			b.ReportAllocs()
			for b.Loop() {
				br.publish(&Event{Kind: EvPacket, At: p.At, Packet: p})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(br.drops.Load())/float64(b.N*n), "drops/delivery")
		})
	}
}
