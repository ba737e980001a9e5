package radio

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/store"
)

// Every traceroute the broker sends is in the store with who asked, the
// outcome and the route both ways, and is still there for a new broker
// on the same database.
func TestTraceHistorySurvivesRestart(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 41, Nodes: 12, Limits: sim.RateLimits{Traceroute: -1}})
	path := filepath.Join(t.TempDir(), "db")
	st := openStore(t, path)
	b := startBroker(t, addr, Config{Store: st, TracePace: 10 * time.Millisecond, TraceTimeout: 2 * time.Second})
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 5*time.Second)

	// Trace RF nodes until one answers.
	ctx := WithRequester(context.Background(), Requester{Name: "alice", Fingerprint: "SHA256:alice"})
	var target uint32
	var route *meshtastic.Route
	tried := 0
	for _, n := range r.Nodes() {
		if n.GetNum() == r.MyNodeNum() || n.GetViaMqtt() {
			continue
		}
		tried++
		rt, err := b.Traceroute(ctx, n.GetNum(), meshtastic.TraceOptions{}, nil)
		if err == nil {
			target, route = n.GetNum(), rt
			break
		}
		if !errors.Is(err, meshtastic.ErrNoResponse) {
			t.Fatalf("traceroute to %s: %v", meshtastic.NodeID(n.GetNum()), err)
		}
	}
	if route == nil {
		t.Fatal("no node answered a traceroute")
	}
	// One asked for without a requester is recorded too, nameless.
	_, err2 := b.Traceroute(context.Background(), target, meshtastic.TraceOptions{}, nil)
	if err2 != nil && !errors.Is(err2, meshtastic.ErrNoResponse) {
		t.Fatal(err2)
	}
	all, err := b.TraceHistory(context.Background(), 0, 100)
	if err != nil || len(all) != tried+1 {
		t.Fatalf("history of all nodes: %d traces (want %d), %v", len(all), tried+1, err)
	}
	sub.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new broker on the same database: as after a gateway restart.
	st2 := openStore(t, path)
	defer st2.Close()
	b2 := New(Config{Name: "test", Store: st2})
	got, err := b2.TraceHistory(context.Background(), target, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("history of %s after a restart: %+v %v", meshtastic.NodeID(target), got, err)
	}
	tr := got[0]
	if tr.Radio != "test" || tr.Target != target || tr.User != "SHA256:alice" || tr.RequestedBy != "alice" ||
		tr.Outcome != store.TraceComplete || tr.Error != "" || time.Since(tr.At) > time.Minute {
		t.Fatalf("trace: %+v", tr)
	}
	if got[1].RequestedBy != "" || got[1].User != "" || (got[1].Outcome == store.TraceComplete) != (err2 == nil) {
		t.Fatalf("a trace nobody named: %+v", got[1])
	}
	rt, err := tr.DecodeRoute()
	if err != nil || rt == nil {
		t.Fatalf("route: %v", err)
	}
	if len(rt.Towards) != len(route.Towards) || len(rt.Back) != len(route.Back) || rt.BackKnown != route.BackKnown || rt.RTT <= 0 {
		t.Fatalf("stored route %+v, live route %+v", rt, route)
	}
	last := rt.Towards[len(rt.Towards)-1]
	if last.Num != target || last.ID != meshtastic.NodeID(target) || !last.Known {
		t.Fatalf("route towards does not end at the target: %+v", rt.Towards)
	}
	for i, h := range route.Towards {
		s := rt.Towards[i]
		if s.Num != h.Num || s.Known != h.Known || (s.SNR != nil) != h.SNRKnown || s.SNR != nil && *s.SNR != h.SNR {
			t.Fatalf("hop %d: stored %+v, live %+v", i, s, h)
		}
	}
	// Those that got no answer are recorded as timeouts.
	others, _ := b2.TraceHistory(context.Background(), 0, 100)
	timeouts := 0
	for _, o := range others {
		if o.Outcome == store.TraceTimeout && o.User != "" {
			timeouts++
			if o.Error == "" || o.Route != nil || o.RequestedBy != "alice" {
				t.Fatalf("timeout record: %+v", o)
			}
		}
	}
	if timeouts != tried-1 {
		t.Fatalf("%d timeouts recorded, %d traceroutes went unanswered", timeouts, tried-1)
	}
	if _, err := New(Config{Name: "nostore"}).TraceHistory(context.Background(), 0, 1); !errors.Is(err, ErrNoStore) {
		t.Fatalf("without a store: %v", err)
	}
}
