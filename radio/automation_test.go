package radio

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/store"
)

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// knownRF picks a node of the simulated mesh heard over RF with a name.
func knownRF(t *testing.T, r *sim.Radio) *pb.NodeInfo {
	t.Helper()
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() && n.GetUser().GetShortName() != "" {
			return n
		}
	}
	t.Fatal("no suitable node")
	return nil
}

func textFrom(from uint32, id uint32, text string) *pb.MeshPacket {
	bf := uint32(1)
	return &pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: id, HopStart: 3, HopLimit: 2, RxSnr: 5.5,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(text), Bitfield: &bf}}}
}

// replies lists the responder's messages the broker sent so far.
func replies(b *Broker) []*Message {
	var out []*Message
	for _, m := range b.Messages(0) {
		if m.Outgoing && strings.HasPrefix(m.SentBy, "responder") {
			out = append(out, m)
		}
	}
	return out
}

func TestResponderWithoutUsers(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 21, Nodes: 8, Limits: sim.RateLimits{Text: -1}})
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	ctx := context.Background()
	alice := store.Actor{Name: "alice", Fingerprint: "SHA256:alice"}
	bob := store.Actor{Name: "bob", Fingerprint: "SHA256:bob"}
	rule := responder.Rule{Radio: "test", Owner: alice.Fingerprint, OwnerName: "alice", Trigger: "ping",
		Match: responder.MatchContains, Reply: "pong {sender_short} {hops} hops", Cooldown: time.Minute, Enabled: true}
	if _, err := st.AddRule(ctx, alice, rule); err != nil {
		t.Fatal(err)
	}
	// Bob's overlapping rule must not cause a second reply.
	rule.Owner, rule.OwnerName, rule.Reply = bob.Fingerprint, "bob", "PONG from bob"
	if _, err := st.AddRule(ctx, bob, rule); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, addr, Config{Store: st, Automation: NewAutomation(st, nil), TextPace: 10 * time.Millisecond})
	// Nobody subscribes: the enabled rules keep the radio connected.
	waitState(t, b, Connected, 10*time.Second)
	n := knownRF(t, r)
	r.Inject(textFrom(n.GetNum(), 0x1001, "anyone? PING"))
	deadline := time.Now().Add(5 * time.Second)
	for len(replies(b)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := replies(b)
	if len(got) != 1 || got[0].Text != "pong "+n.GetUser().GetShortName()+" 1 hops" || !strings.Contains(got[0].SentBy, "alice") {
		t.Fatalf("replies: %+v", got)
	}
	// Within the cooldown: no second reply.
	r.Inject(textFrom(n.GetNum(), 0x1002, "ping again"))
	time.Sleep(300 * time.Millisecond)
	if got := replies(b); len(got) != 1 {
		t.Fatalf("reply within the cooldown: %d replies", len(got))
	}
	if s := b.cfg.Automation.Stats(); s.Replies != 1 {
		t.Fatalf("stats: %+v", s)
	}
	// History is in the store, including the reply.
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hist, err := b.History(ctx, 10)
	if err != nil || len(hist) < 3 {
		t.Fatalf("history: %d %v", len(hist), err)
	}
}

func TestDryRunAndRadioFilters(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 22, Nodes: 8, Limits: sim.RateLimits{Text: -1}})
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	ctx := context.Background()
	admin := store.Actor{Name: "ada", Fingerprint: "SHA256:ada"}
	nodes := r.Nodes()
	var a, blocked uint32
	for _, n := range nodes {
		if n.GetNum() != r.MyNodeNum() && n.GetUser().GetShortName() != "" {
			if a == 0 {
				a = n.GetNum()
			} else if blocked == 0 {
				blocked = n.GetNum()
			}
		}
	}
	if _, err := st.AddRule(ctx, admin, responder.Rule{Radio: "test", Owner: admin.Fingerprint, OwnerName: "ada",
		Trigger: "ping", Match: responder.MatchContains, Reply: "pong", Cooldown: responder.DefaultCooldown, Enabled: true, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddFilter(ctx, admin, filter.Filter{Scope: filter.ScopeRadio, Radio: "test", Owner: admin.Fingerprint,
		Mode: filter.Block, Kind: filter.KindNode, Value: meshtastic.NodeID(blocked), Enabled: true}); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, addr, Config{Store: st, Automation: NewAutomation(st, nil)})
	sub := b.Subscribe("watcher")
	defer sub.Close()
	waitState(t, b, Connected, 10*time.Second)
	r.Inject(textFrom(blocked, 0x2001, "ping from a blocked node"))
	r.Inject(textFrom(a, 0x2002, "ping"))
	var announced string
	deadline := time.After(5 * time.Second)
	for announced == "" {
		select {
		case ev := <-sub.Events():
			if ev.Kind == EvAnnounce && strings.Contains(ev.Text, "would reply") {
				announced = ev.Text
			}
		case <-deadline:
			t.Fatal("no dry-run announcement")
		}
	}
	if !strings.Contains(announced, meshtastic.NodeID(a)) {
		t.Fatalf("dry run answered the wrong packet: %s", announced)
	}
	if got := replies(b); len(got) != 0 {
		t.Fatalf("a dry-run rule sent %d messages", len(got))
	}
	_ = st.Flush(ctx)
	hist, _ := b.History(ctx, 50)
	for _, m := range hist {
		if m.From == blocked {
			t.Fatalf("a radio-wide blocked node reached the history: %+v", m)
		}
	}
	if st := b.cfg.Automation.Stats(); st.Filtered == 0 {
		t.Fatalf("filtered packets not counted: %+v", st)
	}
}

// After a restart, a new broker shows the chat from before it.
func TestHistorySurvivesRestart(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 23, Nodes: 5})
	path := filepath.Join(t.TempDir(), "db")
	st := openStore(t, path)
	b := startBroker(t, addr, Config{Store: st, Automation: NewAutomation(st, nil)})
	sub := b.Subscribe("u")
	waitState(t, b, Connected, 10*time.Second)
	r.Inject(textFrom(knownRF(t, r).GetNum(), 0x3001, "remember me"))
	deadline := time.Now().Add(5 * time.Second)
	for len(b.Messages(0)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	sub.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, path)
	defer st2.Close()
	b2 := New(Config{Name: "test", Store: st2})
	b2.loadHistory()
	msgs := b2.Messages(0)
	if len(msgs) != 1 || msgs[0].Text != "remember me" {
		t.Fatalf("history after restart: %+v", msgs)
	}
}

// The reply budget caps a radio's automatic replies across all rules: the
// reply over budget is not sent, the refusal is counted, and the radio's
// users are told once per budget window.
func TestReplyBudget(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 24, Nodes: 8, Limits: sim.RateLimits{Text: -1}})
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	ctx := context.Background()
	op := store.Actor{Name: "otto", Fingerprint: "SHA256:otto"}
	// Four rules with their own triggers: each has its own cooldown, so
	// only the budget stands between them and four replies.
	for i := range 4 {
		if _, err := st.AddRule(ctx, op, responder.Rule{Radio: "test", Owner: op.Fingerprint, OwnerName: op.Name,
			Trigger: fmt.Sprint("ping", i), Match: responder.MatchExact, Reply: fmt.Sprint("pong", i),
			Cooldown: responder.MinCooldown, Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	a := NewAutomationWith(st, AutomationConfig{Responder: responder.Config{Budget: 2, BudgetWindow: 10 * time.Minute}})
	b := startBroker(t, addr, Config{Store: st, Automation: a, TextPace: 10 * time.Millisecond})
	sub := b.Subscribe("watcher")
	defer sub.Close()
	waitState(t, b, Connected, 10*time.Second)
	n := knownRF(t, r)
	for i := range 4 {
		r.Inject(textFrom(n.GetNum(), uint32(0x5000+i), fmt.Sprint("ping", i)))
	}
	var notices []string
	deadline := time.After(5 * time.Second)
	for len(notices) == 0 || a.Budget("test").Refused < 2 {
		select {
		case ev := <-sub.Events():
			if ev.Kind == EvAnnounce && strings.Contains(ev.Text, "auto-replies paused") {
				notices = append(notices, ev.Text)
			}
		case <-deadline:
			t.Fatalf("budget never bit: notices %q, budget %+v", notices, a.Budget("test"))
		}
	}
	// A reply is in the history once the radio has taken it; then let
	// any stray reply or second notice arrive before counting.
	for wait := time.Now().Add(5 * time.Second); len(replies(b)) < 2 && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	for len(sub.Events()) > 0 {
		if ev := <-sub.Events(); ev.Kind == EvAnnounce && strings.Contains(ev.Text, "auto-replies paused") {
			notices = append(notices, ev.Text)
		}
	}
	if len(notices) != 1 || notices[0] != "auto-replies paused on test: 2 sent in the last 10m (budget)" {
		t.Fatalf("notices: %q", notices)
	}
	got := replies(b)
	if len(got) != 2 || got[0].Text+got[1].Text != "pong0pong1" && got[0].Text+got[1].Text != "pong1pong0" {
		t.Fatalf("replies: %+v", got)
	}
	bs := a.Budget("test")
	if bs.Used != 2 || bs.Limit != 2 || bs.Window != 10*time.Minute || bs.Refused != 2 ||
		time.Until(bs.ResetAt) < 9*time.Minute || time.Until(bs.ResetAt) > 10*time.Minute {
		t.Fatalf("budget: %+v", bs)
	}
	if s := a.Stats(); s.Replies != 2 || s.BudgetRefused != 2 {
		t.Fatalf("stats: %+v", s)
	}
	if other := a.Budget("elsewhere"); other.Used != 0 || other.Refused != 0 || other.Limit != 2 {
		t.Fatalf("another radio's budget: %+v", other)
	}
}

func TestDefaultBudget(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	bs := NewAutomation(st, nil).Budget("base")
	if bs.Limit != 10 || bs.Window != 10*time.Minute || bs.Used != 0 || !bs.ResetAt.IsZero() {
		t.Fatalf("default budget: %+v", bs)
	}
	if got := budgetNotice("base", BudgetStatus{Used: 10, Limit: 10, Window: 10 * time.Minute}); got != "auto-replies paused on base: 10 sent in the last 10m (budget)" {
		t.Fatal(got)
	}
}

// Telemetry packets become a node's time series: device and environment
// metrics, at most one row a minute per node and kind, and nothing from
// other telemetry kinds or other ports.
func TestTelemetryHistory(t *testing.T) {
	r, addr := simRadio(t, sim.Config{Seed: 23, Nodes: 5})
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	b := startBroker(t, addr, Config{Store: st, Automation: NewAutomation(st, nil)})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 10*time.Second)
	from := knownRF(t, r).GetNum()
	tel := func(id uint32, m *pb.Telemetry) *pb.MeshPacket {
		payload, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return &pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: id, HopStart: 3, HopLimit: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TELEMETRY_APP, Payload: payload}}}
	}
	bat, volt, temp := uint32(77), float32(3.9), float32(21.25)
	r.Inject(tel(0x4001, &pb.Telemetry{Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: &pb.DeviceMetrics{BatteryLevel: &bat, Voltage: &volt}}}))
	r.Inject(tel(0x4002, &pb.Telemetry{Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: &pb.DeviceMetrics{BatteryLevel: &bat}}})) // within the minute
	r.Inject(tel(0x4003, &pb.Telemetry{Variant: &pb.Telemetry_EnvironmentMetrics{EnvironmentMetrics: &pb.EnvironmentMetrics{Temperature: &temp}}}))
	r.Inject(tel(0x4004, &pb.Telemetry{Variant: &pb.Telemetry_PowerMetrics{PowerMetrics: &pb.PowerMetrics{}}}))
	r.Inject(textFrom(from, 0x4005, "not telemetry"))
	deadline := time.Now().Add(5 * time.Second)
	for len(b.Messages(0)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	rows, err := b.TelemetryHistory(context.Background(), from, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].BatteryLevel == nil || *rows[0].BatteryLevel != 77 || *rows[0].Voltage != 3.9 ||
		rows[1].Temperature == nil || *rows[1].Temperature != 21.25 || rows[1].BatteryLevel != nil {
		t.Fatalf("telemetry rows: %+v", rows)
	}
}
