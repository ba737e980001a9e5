package sessions

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

func TestMQTTHealth(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	s := mustOpen(t, m, "a")
	s.Bind("base")
	bound := clock.Now()

	if h := s.MQTTHealth(); h.Total() != 0 || h.RFShare() != 0 || h.MQTTOnlyNodes() != nil || !h.Since.Equal(bound) {
		t.Fatalf("fresh health: %+v", h)
	}

	t1 := bound.Add(time.Second)
	s.Observe(rfPacket(0x10), t1)
	s.Observe(rfPacket(0x10), t1)
	// Legacy firmware leaves transport_mechanism unset for LoRa packets.
	s.Observe(&pb.MeshPacket{From: 0x11}, t1)
	t2 := bound.Add(2 * time.Second)
	s.Observe(mqttPacket(0x30), t2)
	s.Observe(&pb.MeshPacket{From: 0x20, TransportMechanism: pb.MeshPacket_TRANSPORT_MQTT}, t2)
	s.Observe(mqttPacket(0x10), t2) // 0x10 was heard over the air too
	// Neither RF nor MQTT: the radio itself, an API client, UDP.
	s.Observe(&pb.MeshPacket{From: 0}, t2)
	s.Observe(&pb.MeshPacket{From: 0x40, TransportMechanism: pb.MeshPacket_TRANSPORT_API}, t2)
	s.Observe(&pb.MeshPacket{From: 0x41, TransportMechanism: pb.MeshPacket_TRANSPORT_MULTICAST_UDP}, t2)
	s.Observe(nil, t2)

	h := s.MQTTHealth()
	if h.RF != 3 || h.MQTT != 3 || h.Local != 3 || h.Total() != 6 {
		t.Fatalf("counts: rf %d mqtt %d local %d", h.RF, h.MQTT, h.Local)
	}
	if !h.LastRF.Equal(t1) || !h.LastMQTT.Equal(t2) {
		t.Fatalf("last seen: rf %v mqtt %v", h.LastRF, h.LastMQTT)
	}
	if math.Abs(h.RFShare()-0.5) > 1e-9 {
		t.Fatalf("RFShare %v", h.RFShare())
	}
	if got := h.MQTTOnlyNodes(); !slices.Equal(got, []uint32{0x20, 0x30}) {
		t.Fatalf("MQTT-only nodes %x", got)
	}
	if got := h.RFNodes(); !slices.Equal(got, []uint32{0x10, 0x11}) {
		t.Fatalf("RF nodes %x", got)
	}
	if rf, mq := h.HeardVia(0x10); !rf || !mq {
		t.Fatalf("0x10 heard via rf %v mqtt %v", rf, mq)
	}
	if rf, mq := h.HeardVia(0x40); rf || mq {
		t.Fatal("an API packet marked its sender as heard")
	}

	// A node first heard via MQTT and later over the air leaves the
	// MQTT-only set; the earlier snapshot is unaffected.
	s.Observe(rfPacket(0x30), t2)
	if got := s.MQTTHealth().MQTTOnlyNodes(); !slices.Equal(got, []uint32{0x20}) {
		t.Fatalf("after RF from 0x30: %x", got)
	}
	if got := h.MQTTOnlyNodes(); !slices.Equal(got, []uint32{0x20, 0x30}) {
		t.Fatalf("snapshot changed: %x", got)
	}
}

// A session's health starts from the radio's recent history: recalled
// packets count, move Since back, and never overwrite a newer last-heard
// time.
func TestMQTTHealthRecall(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	s := mustOpen(t, m, "a")
	s.Recall(rfPacket(0x10), clock.Now().Add(-time.Minute)) // not bound: ignored
	s.Bind("base")
	bound := clock.Now()
	s.Observe(rfPacket(0x10), bound.Add(time.Second))
	s.Recall(rfPacket(0x10), bound.Add(-2*time.Minute))
	s.Recall(mqttPacket(0x30), bound.Add(-time.Minute))
	h := s.MQTTHealth()
	if h.RF != 2 || h.MQTT != 1 || !h.Since.Equal(bound.Add(-2*time.Minute)) {
		t.Fatalf("recalled health: %+v", h)
	}
	if !h.LastRF.Equal(bound.Add(time.Second)) || !h.LastMQTT.Equal(bound.Add(-time.Minute)) {
		t.Fatalf("last heard: rf %v mqtt %v", h.LastRF, h.LastMQTT)
	}
	if got := h.MQTTOnlyNodes(); !slices.Equal(got, []uint32{0x30}) {
		t.Fatalf("MQTT-only nodes %x", got)
	}
}

func TestPacketLog(t *testing.T) {
	m, clock := newTestManager(t, Config{PacketLog: 4})
	s := mustOpen(t, m, "a")
	s.Bind("base")
	shared := make([]*pb.MeshPacket, 6)
	for i := range shared {
		shared[i] = rfPacket(uint32(i + 1))
		s.Observe(shared[i], clock.Now().Add(time.Duration(i)*time.Second))
	}
	got := s.Packets()
	if len(got) != 4 || s.PacketsSeen() != 6 {
		t.Fatalf("log holds %d, saw %d", len(got), s.PacketsSeen())
	}
	for i, lp := range got {
		if lp.Packet != shared[i+2] || !lp.At.Equal(clock.Now().Add(time.Duration(i+2)*time.Second)) {
			t.Fatalf("entry %d: %v at %v", i, lp.Packet.GetFrom(), lp.At)
		}
	}
	if last := s.LastPackets(1); len(last) != 1 || last[0].Packet != shared[5] {
		t.Fatal("LastPackets(1) is not the newest")
	}
}

func TestBindResetsPerRadioState(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	s := mustOpen(t, m, "a")
	s.Bind("base")
	s.Observe(rfPacket(1), clock.Now())
	s.AddTrace(TraceResult{Target: 1, At: clock.Now()})
	s.SetSweep(SweepStatus{Running: true, Total: 3})
	s.SetFilters(Filters{Search: "hello"})
	s.AddDrops(2)

	// The same radio again keeps everything.
	s.Bind("base")
	if s.PacketsSeen() != 1 || len(s.Traces()) != 1 || !s.Sweep().Running || s.Filters().Search != "hello" {
		t.Fatal("re-binding the same radio reset its state")
	}

	clock.Advance(time.Minute)
	s.Bind("field")
	h := s.MQTTHealth()
	if s.Radio() != "field" || s.PacketsSeen() != 0 || s.Packets() != nil || h.Total() != 0 ||
		h.RFNodes() != nil || !h.Since.Equal(clock.Now()) || s.Traces() != nil ||
		s.Sweep().Running || !s.Filters().IsZero() {
		t.Fatalf("state survived the rebind: radio %q seen %d health %+v", s.Radio(), s.PacketsSeen(), h)
	}
	if s.Drops() != 2 {
		t.Fatal("drops are per session, not per radio")
	}
}

func TestTracesNewestFirstAndBounded(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	s := mustOpen(t, m, "a")
	route := &meshtastic.Route{To: 7}
	for i := range traceLimit + 20 {
		tr := TraceResult{Target: uint32(i), At: clock.Now()}
		if i%2 == 0 {
			tr.Route = route
		} else {
			tr.Err = meshtastic.ErrNoResponse
		}
		s.AddTrace(tr)
	}
	got := s.Traces()
	if len(got) != traceLimit || got[0].Target != traceLimit+19 || got[traceLimit-1].Target != 20 {
		t.Fatalf("len %d, first %d, last %d", len(got), got[0].Target, got[len(got)-1].Target)
	}
	if got[1].Route != route || !errors.Is(got[0].Err, meshtastic.ErrNoResponse) {
		t.Fatal("trace contents")
	}
}

func TestSweepAndFiltersAreCopied(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	s := mustOpen(t, m, "a")
	st := SweepStatus{Running: true, Total: 2, Started: clock.Now(), Results: []SweepResult{
		{Node: 1, Outcome: SweepComplete, Route: &meshtastic.Route{To: 1}},
		{Node: 2, Outcome: SweepPending},
	}}
	s.SetSweep(st)
	st.Results[1].Outcome = SweepTimeout // the runner's later edit must not leak in
	got := s.Sweep()
	if got.Results[1].Outcome != SweepPending || got.Total != 2 || !got.Running {
		t.Fatalf("sweep: %+v", got)
	}
	got.Results[0].Outcome = SweepError // nor a reader's edit
	if s.Sweep().Results[0].Outcome != SweepComplete {
		t.Fatal("Sweep returned shared results")
	}
	if SweepTimeout.String() != "timeout" || SweepComplete.String() != "complete" {
		t.Fatal("outcome names")
	}

	f := Filters{Nodes: []uint32{0x10}, Ports: []pb.PortNum{pb.PortNum_TEXT_MESSAGE_APP}}
	s.SetFilters(f)
	f.Nodes[0] = 0x99
	if s.Filters().Nodes[0] != 0x10 {
		t.Fatal("SetFilters kept the caller's slice")
	}
	text := &pb.MeshPacket{From: 0x10, To: 0xFFFFFFFF, PayloadVariant: &pb.MeshPacket_Decoded{
		Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP}}}
	pos := &pb.MeshPacket{From: 0x10, PayloadVariant: &pb.MeshPacket_Decoded{
		Decoded: &pb.Data{Portnum: pb.PortNum_POSITION_APP}}}
	other := &pb.MeshPacket{From: 0x11, To: 0x12, PayloadVariant: &pb.MeshPacket_Decoded{
		Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP}}}
	toIt := &pb.MeshPacket{From: 0x11, To: 0x10, PayloadVariant: &pb.MeshPacket_Decoded{
		Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP}}}
	sf := s.Filters()
	if !sf.Match(text) || sf.Match(pos) || sf.Match(other) || !sf.Match(toIt) || !(Filters{}).Match(pos) {
		t.Fatal("Match")
	}
}

// TestConcurrentUse hammers one manager the way a gateway does: brokers
// observing, users typing and reading, admins listing and kicking, logins
// coming and going. Run it with -race.
func TestConcurrentUse(t *testing.T) {
	m, clock := newTestManager(t, Config{MaxSessions: 64, PacketLog: 50})
	var shared []*Session
	for i := range 8 {
		s := mustOpen(t, m, fmt.Sprint("user", i))
		s.Bind("base")
		s.SetCloser(func(string) {})
		shared = append(shared, s)
	}
	packets := []*pb.MeshPacket{rfPacket(1), mqttPacket(2), rfPacket(3), mqttPacket(1)}
	const rounds = 2000
	var wg sync.WaitGroup
	for i, s := range shared {
		wg.Go(func() { // the broker's fan-out
			for n := range rounds {
				s.Observe(packets[n%len(packets)], clock.Now())
				if n%100 == 0 {
					s.AddDrops(1)
				}
			}
		})
		wg.Go(func() { // the user's TUI
			for n := range rounds {
				s.Touch()
				switch n % 6 {
				case 0:
					_ = s.LastPackets(10)
				case 1:
					_ = s.MQTTHealth().MQTTOnlyNodes()
				case 2:
					s.AddTrace(TraceResult{Target: uint32(n)})
					_ = s.Traces()
				case 3:
					s.SetSweep(SweepStatus{Running: true, Done: n, Results: make([]SweepResult, 2)})
					_ = s.Sweep()
				case 4:
					s.SetFilters(Filters{Search: "x"})
					_ = s.Filters()
				case 5:
					if i == 0 && n%600 == 5 {
						s.Bind([]string{"base", "field"}[(n/600)%2])
					}
					_ = s.Radio()
				}
			}
		})
	}
	wg.Go(func() { // admins and the reaper
		for n := range rounds / 4 {
			_ = m.List()
			_ = m.CountOnRadio("base")
			m.ReapOnce(clock.Now())
			if n%50 == 0 {
				clock.Advance(time.Second)
			}
		}
	})
	wg.Go(func() { // logins and logouts
		for n := range rounds / 4 {
			s, err := m.Open(User{Name: "churn", Kind: Exec})
			if err != nil {
				continue
			}
			s.Touch()
			if n%2 == 0 {
				s.Close()
			} else {
				_ = m.Kick(s.ID(), "test")
			}
		}
	})
	wg.Wait()
	if m.Count() != len(shared) {
		t.Fatalf("%d sessions left, want %d", m.Count(), len(shared))
	}
	for _, s := range shared[1:] {
		if s.PacketsSeen() != rounds || s.Drops() != rounds/100 {
			t.Fatalf("session %s: seen %d drops %d", s.ID(), s.PacketsSeen(), s.Drops())
		}
	}
}
