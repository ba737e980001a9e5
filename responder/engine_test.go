package responder

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

func TestMatchKinds(t *testing.T) {
	cases := []struct {
		kind    MatchKind
		trigger string
		text    string
		want    bool
	}{
		{MatchExact, "ping", "ping", true},
		{MatchExact, "ping", "PING", true},
		{MatchExact, "ping", "  Ping \n", true},
		{MatchExact, "ping", "ping me", false},
		{MatchExact, "ping", "pin", false},
		{MatchContains, "ping", "hey PING there", true},
		{MatchContains, "ping", "pingpong", true},
		{MatchContains, "ping", "pong", false},
		{MatchContains, "Grüße", "viele GRÜSSE", false}, // case folding, not transliteration
		{MatchContains, "grüße", "Viele GRÜßE", true},
		{MatchPrefix, "!wx", "!WX now", true},
		{MatchPrefix, "!wx", "  !wx", true},
		{MatchPrefix, "!wx", "now !wx", false},
		{MatchPrefix, " !wx", "!wx now", true},
		{MatchRegex, `^(hi|hello)\b`, "Hello world", true},
		{MatchRegex, `^(hi|hello)\b`, "oh hello", false},
		{MatchRegex, `\d{3}`, "code 123", true},
		{MatchRegex, `ping`, "PiNg", true},
	}
	for i, c := range cases {
		e := NewEngine(Config{})
		r := rule(1, func(r *Rule) { r.Match, r.Trigger = c.kind, c.trigger })
		in := msg(uint32(100+i), func(in *Incoming) { in.Text = c.text })
		if got := r.Matches(&in); got != c.want {
			t.Errorf("%s %q vs %q: Matches = %v, want %v", c.kind, c.trigger, c.text, got, c.want)
		}
		d := e.Decide(in, []Rule{r}, t0)
		if (d.Action == Send) != c.want {
			t.Errorf("%s %q vs %q: Decide = %v (%s), want send %v", c.kind, c.trigger, c.text, d.Action, d.Reason, c.want)
		}
	}
}

func TestTypeSourceChannelFilters(t *testing.T) {
	direct := func(in *Incoming) { in.To = me }
	mqtt := func(in *Incoming) { in.ViaMQTT = true }
	onCh := func(ch uint32) func(*Incoming) { return func(in *Incoming) { in.Channel = ch } }
	cases := []struct {
		name string
		rule func(*Rule)
		in   []func(*Incoming)
		want bool
	}{
		{"both types, broadcast", func(r *Rule) { r.Type = TypeBoth }, nil, true},
		{"both types, direct", func(r *Rule) { r.Type = TypeBoth }, []func(*Incoming){direct}, true},
		{"broadcast only, broadcast", func(r *Rule) { r.Type = TypeBroadcast }, nil, true},
		{"broadcast only, direct", func(r *Rule) { r.Type = TypeBroadcast }, []func(*Incoming){direct}, false},
		{"direct only, direct", func(r *Rule) { r.Type = TypeDirect }, []func(*Incoming){direct}, true},
		{"direct only, broadcast", func(r *Rule) { r.Type = TypeDirect }, nil, false},
		{"any source, mqtt", func(r *Rule) { r.Source = SourceBoth }, []func(*Incoming){mqtt}, true},
		{"rf only, rf", func(r *Rule) { r.Source = SourceRF }, nil, true},
		{"rf only, mqtt", func(r *Rule) { r.Source = SourceRF }, []func(*Incoming){mqtt}, false},
		{"mqtt only, mqtt", func(r *Rule) { r.Source = SourceMQTT }, []func(*Incoming){mqtt}, true},
		{"mqtt only, rf", func(r *Rule) { r.Source = SourceMQTT }, nil, false},
		{"any channel, ch 3", func(r *Rule) { r.Channel = nil }, []func(*Incoming){onCh(3)}, true},
		{"channel 3, ch 3", func(r *Rule) { r.Channel = u32(3) }, []func(*Incoming){onCh(3)}, true},
		{"channel 3, ch 0", func(r *Rule) { r.Channel = u32(3) }, nil, false},
		{"channel 0, ch 0", func(r *Rule) { r.Channel = u32(0) }, nil, true},
		{"direct mqtt on ch 1, all required", func(r *Rule) { r.Type, r.Source, r.Channel = TypeDirect, SourceMQTT, u32(1) },
			[]func(*Incoming){direct, mqtt, onCh(1)}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewEngine(Config{}).Decide(msg(uint32(i+1), c.in...), []Rule{rule(1, c.rule)}, t0)
			if (d.Action == Send) != c.want {
				t.Fatalf("Decide = %v (%s), want send %v", d.Action, d.Reason, c.want)
			}
		})
	}
}

func TestRuleTemplateVariables(t *testing.T) {
	cases := []struct {
		tmpl string
		in   []func(*Incoming)
		want string
	}{
		{"{sender_name}", nil, "Alice"},
		{"{sender_name}", []func(*Incoming){func(in *Incoming) { in.SenderLong = "" }}, "ALI"},
		{"{sender_name}", []func(*Incoming){func(in *Incoming) { in.SenderLong, in.SenderShort = "", "" }}, "!11111111"},
		{"{sender_short}", nil, "ALI"},
		{"{sender_short}", []func(*Incoming){func(in *Incoming) { in.SenderShort = "" }}, "1111"},
		{"{sender_id}", nil, "!11111111"},
		{"{my_name}", nil, "Base Station"},
		{"{my_name}", []func(*Incoming){func(in *Incoming) { in.MyLong = "" }}, "BASE"},
		{"{my_id}", nil, "!0a0b0c0d"},
		{"{message}", nil, "ping"},
		{"{message_type}", nil, "broadcast"},
		{"{message_type}", []func(*Incoming){func(in *Incoming) { in.To = me }}, "direct"},
		{"{source_type}", nil, "RF"},
		{"{source_type}", []func(*Incoming){func(in *Incoming) { in.ViaMQTT = true }}, "MQTT"},
		{"{hops}", nil, "2"},
		{"{hops}", []func(*Incoming){func(in *Incoming) { in.Hops = nil }}, "?"},
		{"{snr}", nil, "6.25"},
		{"{snr}", []func(*Incoming){func(in *Incoming) { in.SNR = -12.5 }}, "-12.5"},
		{"{snr}", []func(*Incoming){func(in *Incoming) { in.ViaMQTT = true }}, "?"},
		{"{rssi}", nil, "-97"},
		{"{rssi}", []func(*Incoming){func(in *Incoming) { in.RSSI = 0 }}, "?"},
		{"{time}", nil, "12:30"},
		{"{sender_name} ({sender_id}) said {message} via {source_type}, {hops} hops",
			nil, "Alice (!11111111) said ping via RF, 2 hops"},
		{"braces {} and { x } and {Upper} stay", nil, "braces {} and { x } and {Upper} stay"},
	}
	for _, c := range cases {
		in := msg(1, c.in...)
		r := rule(1, func(r *Rule) { r.Reply = c.tmpl })
		if err := r.Validate(); err != nil {
			t.Errorf("%q: %v", c.tmpl, err)
			continue
		}
		if got := r.Render(&in, t0, 0); got != c.want {
			t.Errorf("%q rendered %q, want %q", c.tmpl, got, c.want)
		}
	}
	if len(cases) == 0 || len(RuleVariables()) != 12 {
		t.Fatalf("RuleVariables = %v", RuleVariables())
	}
}

func TestTemplateIsSinglePass(t *testing.T) {
	in := msg(1, func(in *Incoming) { in.Text = "{my_id} {sender_name}" })
	r := rule(1, func(r *Rule) { r.Match, r.Reply = MatchContains, "echo: {message}" })
	r.Trigger = "{"
	if got := r.Render(&in, t0, 0); got != "echo: {my_id} {sender_name}" {
		t.Fatalf("message was expanded again: %q", got)
	}
}

func TestGuards(t *testing.T) {
	cases := []struct {
		name  string
		in    func(*Incoming)
		rules []Rule
		want  Reason
	}{
		{"empty text", func(in *Incoming) { in.Text = "" }, nil, ReasonEmptyText},
		{"blank text", func(in *Incoming) { in.Text = " \t\n" }, nil, ReasonEmptyText},
		{"own node", func(in *Incoming) { in.From = me }, nil, ReasonOwnNode},
		{"local packet", func(in *Incoming) { in.From = 0 }, nil, ReasonOwnNode},
		{"dm to someone else", func(in *Incoming) { in.To = bob }, nil, ReasonNotForUs},
		{"unknown sender", func(in *Incoming) { in.SenderKnown = false }, nil, ReasonUnknownSender},
		{"no rules", nil, []Rule{}, ReasonNoMatch},
		{"no match", func(in *Incoming) { in.Text = "hello" }, nil, ReasonNoMatch},
		{"disabled", nil, []Rule{rule(1, func(r *Rule) { r.Enabled = false })}, ReasonNoMatch},
		{"expired", nil, []Rule{rule(1, func(r *Rule) { r.Expires = t0 })}, ReasonNoMatch},
		{"other radio", nil, []Rule{rule(1, func(r *Rule) { r.Radio = "field" })}, ReasonNoMatch},
		{"invalid template", nil, []Rule{rule(1, func(r *Rule) { r.Reply = "pong {nope}" })}, ReasonNoMatch},
		{"empty reply", nil, []Rule{rule(1, func(r *Rule) { r.Reply = "" })}, ReasonNoMatch},
		{"bad regex", nil, []Rule{rule(1, func(r *Rule) { r.Match, r.Trigger = MatchRegex, "(" })}, ReasonNoMatch},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := msg(uint32(i + 1))
			if c.in != nil {
				c.in(&in)
			}
			rules := c.rules
			if rules == nil {
				rules = []Rule{rule(1)}
			}
			d := NewEngine(Config{}).Decide(in, rules, t0)
			if d.Action != Skip || d.Reason != c.want {
				t.Fatalf("got %v %q, want skip %q", d.Action, d.Reason, c.want)
			}
		})
	}
	// Not yet expired fires.
	d := NewEngine(Config{}).Decide(msg(1), []Rule{rule(1, func(r *Rule) { r.Expires = t0.Add(time.Second) })}, t0)
	if d.Action != Send {
		t.Fatalf("unexpired rule: %v %s", d.Action, d.Reason)
	}
}

func TestOneReplyPerPacket(t *testing.T) {
	e := NewEngine(Config{})
	// Two operators with overlapping rules; listed out of order.
	rules := []Rule{
		rule(9, func(r *Rule) {
			r.Owner, r.OwnerName, r.Match, r.Reply = "SHA256:op2", "op2", MatchContains, "op2 says pong"
		}),
		rule(4, func(r *Rule) { r.Reply = "op1 says pong to {sender_short}" }),
	}
	d := e.Decide(msg(0x77), rules, t0)
	if d.Action != Send || d.Rule.ID != 4 || d.Text != "op1 says pong to ALI" || !slices.Equal(d.Matched, []int64{4, 9}) {
		t.Fatalf("got %+v", d)
	}
	// The same packet again (a second Decide call, or the MQTT copy of it).
	for _, again := range []Incoming{msg(0x77), msg(0x77, func(in *Incoming) { in.ViaMQTT = true })} {
		if d := e.Decide(again, rules, t0.Add(time.Second)); d.Action != Skip || d.Reason != ReasonDuplicate {
			t.Fatalf("repeat: %v %s", d.Action, d.Reason)
		}
	}
	// The same id from another sender is another packet (answered once
	// the rules have cooled down).
	if d := e.Decide(msg(0x77, func(in *Incoming) { in.From = bob }), rules, t0.Add(MinCooldown)); d.Action != Send {
		t.Fatalf("other sender: %v %s", d.Action, d.Reason)
	}
	// The same id on another radio is another packet.
	other := []Rule{rule(1, func(r *Rule) { r.Radio = "field" })}
	if d := e.Decide(msg(0x77, func(in *Incoming) { in.Radio = "field" }), other, t0); d.Action != Send {
		t.Fatalf("other radio: %v %s", d.Action, d.Reason)
	}
}

func TestDedupWindowAndBound(t *testing.T) {
	e := NewEngine(Config{DedupWindow: time.Minute, MaxTracked: 3})
	rules := []Rule{rule(1)}
	if e.Decide(msg(1), rules, t0).Action != Send {
		t.Fatal("first")
	}
	if e.Decide(msg(1), rules, t0.Add(59*time.Second)).Reason != ReasonDuplicate {
		t.Fatal("inside window")
	}
	if d := e.Decide(msg(1), rules, t0.Add(61*time.Second)); d.Action != Send {
		t.Fatalf("after window: %v %s", d.Action, d.Reason)
	}
	for id := uint32(10); id < 100; id++ {
		e.Decide(msg(id), rules, t0.Add(2*time.Minute))
	}
	e.mu.Lock()
	n := len(e.seen)
	e.mu.Unlock()
	if n > 3 {
		t.Fatalf("remembers %d packets, bound is 3", n)
	}
}

func TestReplyAddressing(t *testing.T) {
	e := NewEngine(Config{})
	d := e.Decide(msg(5, func(in *Incoming) { in.Channel = 2 }), []Rule{rule(1)}, t0)
	if d.To != meshtastic.Broadcast || d.Channel != 2 || d.ReplyID != 5 {
		t.Fatalf("broadcast reply: %+v", d)
	}
	d = e.Decide(msg(6, func(in *Incoming) { in.To = me }), []Rule{rule(1)}, t0.Add(MinCooldown))
	if d.To != alice || d.Channel != 0 || d.ReplyID != 6 {
		t.Fatalf("direct reply: %+v", d)
	}
}

func TestReplyClamped(t *testing.T) {
	e := NewEngine(Config{MaxReplyBytes: 40})
	long := strings.Repeat("é", 100) // 2 bytes each
	d := e.Decide(msg(1, func(in *Incoming) { in.Text = "ping " + long }),
		[]Rule{rule(1, func(r *Rule) { r.Match, r.Reply = MatchPrefix, "{message}" })}, t0)
	if len(d.Text) > 40 || !utf8.ValidString(d.Text) || !strings.HasSuffix(d.Text, "…") {
		t.Fatalf("clamped to %d bytes: %q", len(d.Text), d.Text)
	}
	// The default budget fits the smallest packet a reply can be.
	d = NewEngine(Config{}).Decide(msg(1, func(in *Incoming) { in.Text = "ping " + long }),
		[]Rule{rule(1, func(r *Rule) { r.Match, r.Reply = MatchPrefix, "{message}" })}, t0)
	if len(d.Text) > meshtastic.MaxTextBytes(true, true) {
		t.Fatalf("default clamp: %d bytes", len(d.Text))
	}
}

func TestCooldowns(t *testing.T) {
	t.Run("per rule", func(t *testing.T) {
		e := NewEngine(Config{})
		rules := []Rule{rule(1, func(r *Rule) { r.Cooldown = time.Minute })}
		if d := e.Decide(msg(1), rules, t0); d.Action != Send {
			t.Fatal("first")
		}
		d := e.Decide(msg(2, func(in *Incoming) { in.From = bob }), rules, t0.Add(30*time.Second))
		if d.Action != Skip || d.Reason != ReasonCooldown || d.Rule.ID != 1 {
			t.Fatalf("within cooldown, other sender: %v %s", d.Action, d.Reason)
		}
		if d := e.Decide(msg(3), rules, t0.Add(time.Minute)); d.Action != Send {
			t.Fatalf("after cooldown: %v %s", d.Action, d.Reason)
		}
	})
	t.Run("per sender", func(t *testing.T) {
		e := NewEngine(Config{})
		rules := []Rule{rule(1, func(r *Rule) { r.SenderCooldown = 5 * time.Minute })}
		e.Decide(msg(1), rules, t0)
		if d := e.Decide(msg(2), rules, t0.Add(time.Minute)); d.Reason != ReasonSenderCooldown {
			t.Fatalf("same sender: %v %s", d.Action, d.Reason)
		}
		if d := e.Decide(msg(3, func(in *Incoming) { in.From = bob }), rules, t0.Add(time.Minute)); d.Action != Send {
			t.Fatalf("other sender: %v %s", d.Action, d.Reason)
		}
		if d := e.Decide(msg(4), rules, t0.Add(5*time.Minute)); d.Action != Send {
			t.Fatalf("after: %v %s", d.Action, d.Reason)
		}
	})
	t.Run("sender cooldown 0 is the rule cooldown", func(t *testing.T) {
		e := NewEngine(Config{})
		rules := []Rule{rule(1)} // Cooldown MinCooldown, SenderCooldown 0
		e.Decide(msg(1), rules, t0)
		if d := e.Decide(msg(2), rules, t0.Add(MinCooldown-time.Second)); d.Reason != ReasonCooldown {
			t.Fatalf("same sender within the rule cooldown: %v %s", d.Action, d.Reason)
		}
		if d := e.Decide(msg(3), rules, t0.Add(MinCooldown)); d.Action != Send {
			t.Fatalf("same sender after the rule cooldown: %v %s", d.Action, d.Reason)
		}
	})
	t.Run("overlapping rules cool down together", func(t *testing.T) {
		e := NewEngine(Config{})
		rules := []Rule{
			rule(1, func(r *Rule) { r.Cooldown = time.Minute }),
			rule(2, func(r *Rule) { r.Owner, r.Cooldown = "SHA256:op2", time.Minute }),
		}
		if d := e.Decide(msg(1), rules, t0); d.Action != Send || d.Rule.ID != 1 {
			t.Fatalf("first: %+v", d)
		}
		if d := e.Decide(msg(2), rules, t0.Add(10*time.Second)); d.Action != Skip || d.Reason != ReasonCooldown {
			t.Fatalf("second: rule %d %v %s", d.Rule.ID, d.Action, d.Reason)
		}
	})
	t.Run("a cooling rule lets another answer", func(t *testing.T) {
		e := NewEngine(Config{})
		short := rule(1, func(r *Rule) { r.Cooldown = time.Hour })
		e.Decide(msg(1), []Rule{short}, t0) // rule 1 alone fires
		rules := []Rule{short, rule(2, func(r *Rule) { r.Reply = "two" })}
		if d := e.Decide(msg(2), rules, t0.Add(time.Second)); d.Action != Send || d.Rule.ID != 2 {
			t.Fatalf("got rule %d %v %s", d.Rule.ID, d.Action, d.Reason)
		}
	})
}

func TestDryRun(t *testing.T) {
	e := NewEngine(Config{})
	dry := rule(1, func(r *Rule) { r.DryRun = true; r.Cooldown = time.Minute })
	d := e.Decide(msg(1), []Rule{dry}, t0)
	if d.Action != WouldSend || d.Text != "pong Alice" || d.Rule.ID != 1 {
		t.Fatalf("dry run: %+v", d)
	}
	// Dry-run rules keep their cooldowns, so the log shows what would happen.
	if d := e.Decide(msg(2), []Rule{dry}, t0.Add(time.Second)); d.Reason != ReasonCooldown {
		t.Fatalf("dry run cooldown: %v %s", d.Action, d.Reason)
	}
	// A rule being tried out never silences a live one, even with a lower ID.
	live := rule(5, func(r *Rule) { r.Reply = "live" })
	d = NewEngine(Config{}).Decide(msg(3), []Rule{dry, live}, t0)
	if d.Action != Send || d.Rule.ID != 5 || !slices.Equal(d.Matched, []int64{1, 5}) {
		t.Fatalf("live before dry run: %+v", d)
	}
}

func TestLoopGuard(t *testing.T) {
	e := NewEngine(Config{LoopTriggers: 3, LoopWindow: 2 * time.Minute, LoopMute: 10 * time.Minute})
	rules := []Rule{rule(1)}
	at := t0
	for i := range 3 {
		if d := e.Decide(msg(uint32(i+1)), rules, at); d.Action != Send {
			t.Fatalf("trigger %d: %v %s", i+1, d.Action, d.Reason)
		}
		at = at.Add(MinCooldown)
	}
	d := e.Decide(msg(4), rules, at)
	if d.Action != Skip || d.Reason != ReasonLoop || !d.MutedUntil.Equal(at.Add(10*time.Minute)) {
		t.Fatalf("fourth trigger: %+v", d)
	}
	if d := e.Decide(msg(5), rules, at.Add(time.Minute)); d.Reason != ReasonMuted || !d.MutedUntil.Equal(at.Add(10*time.Minute)) {
		t.Fatalf("while muted: %v %s until %v", d.Action, d.Reason, d.MutedUntil)
	}
	// Others are still answered.
	if d := e.Decide(msg(6, func(in *Incoming) { in.From = bob }), rules, at.Add(time.Minute)); d.Action != Send {
		t.Fatalf("bob: %v %s", d.Action, d.Reason)
	}
	// The mute ends.
	if d := e.Decide(msg(7), rules, at.Add(11*time.Minute)); d.Action != Send {
		t.Fatalf("after mute: %v %s", d.Action, d.Reason)
	}
	// Slow triggers never trip it.
	e2 := NewEngine(Config{LoopTriggers: 3, LoopWindow: 2 * time.Minute})
	for i := range 10 {
		if d := e2.Decide(msg(uint32(i+1)), rules, t0.Add(time.Duration(i)*41*time.Second)); d.Action != Send {
			t.Fatalf("slow trigger %d: %v %s", i, d.Action, d.Reason)
		}
	}
	// Triggers held back by a cooldown still count: the other bot keeps talking.
	e3 := NewEngine(Config{LoopTriggers: 3, LoopWindow: time.Minute})
	cool := []Rule{rule(1, func(r *Rule) { r.Cooldown = time.Hour })}
	var last Decision
	for i := range 4 {
		last = e3.Decide(msg(uint32(i+1)), cool, t0.Add(time.Duration(i)*time.Second))
	}
	if last.Reason != ReasonLoop {
		t.Fatalf("cooldown triggers: %v %s", last.Action, last.Reason)
	}
	e3.Unmute("base", alice)
	if d := e3.Decide(msg(5), cool, t0.Add(5*time.Second)); d.Reason == ReasonMuted || d.Reason == ReasonLoop {
		t.Fatalf("Unmute left the mute: %v %s", d.Action, d.Reason)
	}
}

func TestConcurrentDecideAnswersOnce(t *testing.T) {
	e := NewEngine(Config{})
	// One radio per packet, each with its own three rules, so neither the
	// cooldowns nor the reply budget hold a packet back: only
	// deduplication stands between the goroutines and a second reply.
	rules := map[string][]Rule{}
	for id := range int64(200) {
		radio := fmt.Sprint("r", id)
		for k := range int64(3) {
			rules[radio] = append(rules[radio], rule(id*3+k+1, func(r *Rule) { r.Radio = radio }))
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sends := map[uint32]int{}
	for g := range 8 {
		wg.Go(func() {
			for id := range uint32(200) {
				radio := fmt.Sprint("r", id)
				in := msg(id, func(in *Incoming) { in.Radio, in.From, in.ViaMQTT = radio, 1000+id, g%2 == 0 })
				if e.Decide(in, rules[radio], t0).Action == Send {
					mu.Lock()
					sends[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for id := range uint32(200) {
		if sends[id] != 1 {
			t.Fatalf("packet %d answered %d times", id, sends[id])
		}
	}
}

func TestNewIncoming(t *testing.T) {
	self := meshtastic.Node{Num: me, LongName: "Base Station", ShortName: "BASE"}
	sender := &meshtastic.Node{Num: alice, LongName: "Alice", ShortName: "ALI"}
	rssi := int32(-90)
	p := &pb.MeshPacket{
		From: alice, To: me, Id: 42, Channel: 1, RxSnr: 5.5, RxRssi: &rssi, HopStart: 3, HopLimit: 1,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("ping")}},
	}
	in := NewIncoming("base", p, self, sender)
	if in.Text != "ping" || !in.Direct() || in.PacketID != 42 || in.Channel != 1 || in.Hops == nil || *in.Hops != 2 ||
		!in.SenderKnown || in.SenderLong != "Alice" || in.MyShort != "BASE" || in.RSSI != -90 || in.ViaMQTT {
		t.Fatalf("got %+v", in)
	}
	if d := NewEngine(Config{}).Decide(in, []Rule{rule(1)}, t0); d.Action != Send || d.To != alice {
		t.Fatalf("decide: %+v", d)
	}

	p.TransportMechanism = pb.MeshPacket_TRANSPORT_MQTT
	if in := NewIncoming("base", p, self, sender); !in.ViaMQTT {
		t.Fatal("transport MQTT not seen")
	}
	if in := NewIncoming("base", p, self, &meshtastic.Node{Num: alice}); in.SenderKnown {
		t.Fatal("a node without a name is not known")
	}
	if in := NewIncoming("base", p, self, nil); in.SenderKnown {
		t.Fatal("nil sender is not known")
	}
	p.GetDecoded().Emoji = 1
	if in := NewIncoming("base", p, self, sender); in.Text != "" {
		t.Fatal("reactions carry no text")
	}
	p.GetDecoded().Emoji, p.GetDecoded().Portnum = 0, pb.PortNum_POSITION_APP
	if in := NewIncoming("base", p, self, sender); in.Text != "" {
		t.Fatal("non-text ports carry no text")
	}
}

func TestReplyBudget(t *testing.T) {
	e := NewEngine(Config{Budget: 3, BudgetWindow: 10 * time.Minute})
	// Five rules with their own triggers: cooldowns are per rule, so only
	// the budget keeps them from answering five times in five minutes.
	var rules []Rule
	for i := range int64(5) {
		rules = append(rules, rule(i+1, func(r *Rule) { r.Trigger = fmt.Sprint("ping", i+1) }))
	}
	say := func(id uint32, text string, mods ...func(*Incoming)) Incoming {
		return msg(id, append([]func(*Incoming){func(in *Incoming) { in.Text = text }}, mods...)...)
	}
	for i := range 3 {
		if d := e.Decide(say(uint32(i+1), fmt.Sprint("ping", i+1)), rules, t0.Add(time.Duration(i)*time.Minute)); d.Action != Send {
			t.Fatalf("reply %d: %v %s", i+1, d.Action, d.Reason)
		}
	}
	st := e.Budget("base", t0.Add(3*time.Minute))
	if st.Used != 3 || st.Limit != 3 || st.Window != 10*time.Minute || st.Refused != 0 || !st.ResetAt.Equal(t0.Add(10*time.Minute)) || !st.Spent() {
		t.Fatalf("after three replies: %+v", st)
	}
	d := e.Decide(say(4, "ping4"), rules, t0.Add(3*time.Minute))
	if d.Action != Skip || d.Reason != ReasonBudget || d.Rule.ID != 4 {
		t.Fatalf("fourth reply: %+v", d)
	}
	// A refused reply starts no cooldown: the same rule is refused by the
	// budget again, not by its cooldown.
	if d := e.Decide(say(5, "ping4", func(in *Incoming) { in.From = bob }), rules, t0.Add(3*time.Minute+time.Second)); d.Reason != ReasonBudget {
		t.Fatalf("fifth: %v %s", d.Action, d.Reason)
	}
	// A dry-run rule sends nothing, so it is not held back and takes nothing.
	dry := rule(9, func(r *Rule) { r.Trigger, r.DryRun = "try", true })
	if d := e.Decide(say(6, "try"), []Rule{dry}, t0.Add(4*time.Minute)); d.Action != WouldSend {
		t.Fatalf("dry run while the budget is spent: %v %s", d.Action, d.Reason)
	}
	// Another radio has its own budget.
	field := rule(10, func(r *Rule) { r.Radio = "field" })
	if d := e.Decide(msg(7, func(in *Incoming) { in.Radio = "field" }), []Rule{field}, t0.Add(4*time.Minute)); d.Action != Send {
		t.Fatalf("other radio: %v %s", d.Action, d.Reason)
	}
	if st := e.Budget("base", t0.Add(4*time.Minute)); st.Used != 3 || st.Refused != 2 {
		t.Fatalf("after refusals: %+v", st)
	}
	// The window slides: once the first reply is ten minutes old, one more.
	if d := e.Decide(say(8, "ping4"), rules, t0.Add(10*time.Minute)); d.Action != Send || d.Rule.ID != 4 {
		t.Fatalf("after the window: %v %s", d.Action, d.Reason)
	}
	if d := e.Decide(say(9, "ping5"), rules, t0.Add(10*time.Minute+time.Second)); d.Reason != ReasonBudget {
		t.Fatalf("still full: %v %s", d.Action, d.Reason)
	}
	st = e.Budget("base", t0.Add(10*time.Minute+time.Second))
	if st.Used != 3 || st.Refused != 3 || !st.ResetAt.Equal(t0.Add(11*time.Minute)) {
		t.Fatalf("slid: %+v", st)
	}
	b, err := json.Marshal(st)
	if err != nil || string(b) != `{"used":3,"limit":3,"window":600,"refused":3,"reset_at":"2026-05-01T12:41:00Z"}` {
		t.Fatalf("JSON: %s %v", b, err)
	}
	if st := e.Budget("base", t0.Add(time.Hour)); st.Used != 0 || !st.ResetAt.IsZero() || st.Refused != 3 || st.Spent() {
		t.Fatalf("an hour later: %+v", st)
	}
}

// However many rules a radio has, the default budget caps its replies.
func TestDefaultBudgetCapsManyRules(t *testing.T) {
	e := NewEngine(Config{})
	var rules []Rule
	for i := range int64(25) {
		rules = append(rules, rule(i+1, func(r *Rule) { r.Trigger = fmt.Sprint("q", i+1) }))
	}
	sent := 0
	for i := range 25 {
		in := msg(uint32(i+1), func(in *Incoming) { in.Text, in.From = fmt.Sprint("q", i+1), 5000+uint32(i) })
		if e.Decide(in, rules, t0.Add(time.Duration(i)*time.Second)).Action == Send {
			sent++
		}
	}
	st := e.Budget("base", t0.Add(time.Minute))
	if sent != DefaultBudget || st.Used != DefaultBudget || st.Limit != DefaultBudget || st.Window != DefaultBudgetWindow || st.Refused != 15 {
		t.Fatalf("%d sent; budget %+v", sent, st)
	}
}
