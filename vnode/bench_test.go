package vnode

import (
	"net"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// connectAndConfigure dials a virtual node and completes a handshake; it
// returns the connection and the reader positioned after config_complete_id.
func connectAndConfigure(tb testing.TB, addr string, nonce uint32) (net.Conn, *frame.Reader) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := proto.Marshal(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: nonce}})
	if err := frame.NewWriter(conn).WriteFrame(b); err != nil {
		tb.Fatal(err)
	}
	fr := frame.NewReader(conn)
	for {
		it, err := fr.Next()
		if err != nil {
			tb.Fatal(err)
		}
		m := &pb.FromRadio{}
		if it.Kind == frame.KindFrame && proto.Unmarshal(it.Payload, m) == nil && m.GetConfigCompleteId() == nonce && m.GetConfigCompleteId() != 0 {
			return conn, fr
		}
	}
}

// BenchmarkHandshake200 is the time from connect to config_complete_id for
// a radio with 200 nodes.
func BenchmarkHandshake200(b *testing.B) {
	h := newHarness(b, fastSim(31, 200))
	addr := h.listen(admin, false)
	if n := len(h.br.View().Nodes); n < 200 {
		b.Fatalf("%d nodes", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		conn, _ := connectAndConfigure(b, addr, uint32(i+1000))
		_ = conn.Close()
	}
}

// BenchmarkClientMemory is the heap held per connected, configured virtual
// client (both ends of its loopback connection: the client side is a
// reader buffer of 4 KiB).
func BenchmarkClientMemory(b *testing.B) {
	h := newHarness(b, fastSim(32, 200))
	addr := h.listen(viewer, false)
	const n = 50
	var per float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for i := range n {
			c, _ := connectAndConfigure(b, addr, uint32(i+7))
			conns = append(conns, c)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		for _, c := range conns {
			_ = c.Close()
		}
		for h.br.VirtualClients() != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(per, "heap-B/client")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLiveLatency is how much later a live packet reaches a virtual
// client than the broker's own direct client of the radio.
func BenchmarkLiveLatency(b *testing.B) {
	h := newHarness(b, fastSim(33, 10))
	addr := h.listen(viewer, false)
	conn, fr := connectAndConfigure(b, addr, 99)
	defer conn.Close()
	sub := h.br.Subscribe("bench")
	defer sub.Close()
	arrived := make(chan uint32, 16)
	go func() {
		for {
			it, err := fr.Next()
			if err != nil {
				return
			}
			m := &pb.FromRadio{}
			if it.Kind == frame.KindFrame && proto.Unmarshal(it.Payload, m) == nil && m.GetPacket() != nil {
				arrived <- m.GetPacket().GetId()
			}
		}
	}()
	from := h.nodes(1)[0]
	var direct, virtual time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := uint32(0x10000 + i)
		start := time.Now()
		h.sim.Inject(&pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: id, HopLimit: 3, HopStart: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("ping")}}})
		var gotDirect, gotVirtual bool
		for !gotDirect || !gotVirtual {
			select {
			case ev := <-sub.Events():
				if ev.Kind == radio.EvPacket && ev.Packet.P.GetId() == id {
					direct += time.Since(start)
					gotDirect = true
				}
			case got := <-arrived:
				if got == id {
					virtual += time.Since(start)
					gotVirtual = true
				}
			case <-time.After(5 * time.Second):
				b.Fatal("packet lost")
			}
		}
	}
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/pkt")
	b.ReportMetric(float64(virtual.Nanoseconds())/float64(b.N), "vnode-ns/pkt")
	b.ReportMetric(float64((virtual-direct).Nanoseconds())/float64(b.N), "added-ns/pkt")
}
