package tui

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"google.golang.org/protobuf/proto"
)

func TestQuit(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []string
	}{
		{"q", []string{"q"}},
		{"ctrl+c", []string{"ctrl+c"}},
		{"ctrl+c while writing", []string{"2", "i", "q", "ctrl+c"}},
		{"q in the lobby", []string{"L", "q"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{})
			u := startUI(t, fx, uiOpts{bind: "base"})
			u.connected()
			u.key(c.keys...)
			u.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		})
	}
}

// Quitting asks first while a sweep runs, and cancels it when confirmed.
func TestQuitDuringSweep(t *testing.T) {
	fx := newFixture(t, fixtureOpts{pace: time.Second})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("4", "w", "y")
	u.waitModel("the sweep", func(m *Model) bool { return m.trace.sweepRunning() })
	u.key("q")
	u.waitText("A traceroute sweep is running")
	u.key("n") // stay
	u.waitModel("the dialog to close", func(m *Model) bool { return m.dialog == nil && m.trace.sweepRunning() })
	rec := u.rec
	u.key("ctrl+c", "y")
	u.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	eventually(t, "the sweep to stop", func() bool { st := rec.Sweep(); return !st.Running && st.Cancelled })
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A viewer sees everything and is told, not ignored, when reaching for
// something the role does not allow.
func TestViewerIsRefused(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base", role: auth.Viewer})
	u.connected()
	for _, c := range []struct {
		keys []string
		says string
	}{
		{[]string{"1", "j", "d"}, "sending messages needs the operator role"},
		{[]string{"1", "j", "t"}, "traceroutes needs the operator role"},
		{[]string{"2", "i"}, "sending messages needs the operator role"},
		{[]string{"4", "w"}, "sweeps needs the operator role"},
		{[]string{"5", "e"}, "changing the MQTT settings needs the admin role"},
		{[]string{"6", "R"}, "rebooting a radio needs the admin role"},
		{[]string{"6", "N"}, "resetting a radio's NodeDB needs the admin role"},
	} {
		u.key(c.keys...)
		u.waitText(c.says)
		u.do(func(m *Model) {
			if m.dialog != nil || m.chat.composing || m.trace.job != nil || m.mqtt.edit != nil {
				t.Errorf("%v: the viewer got further than the refusal", c.keys)
			}
		})
	}
}

// Operators write DMs: the radio acks one to a node that answers and
// reports failure for one that does not; both show on screen.
func TestDirectMessages(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base", w: 100, h: 30})
	u.connected()
	b := fx.broker(t, "base")
	send := func(to uint32, text string) radio.Message {
		u.do(func(m *Model) { _ = m.startDM(to) })
		u.typeText(text)
		u.key("enter")
		var msg radio.Message
		eventually(t, "the outcome of "+text, func() bool {
			for _, mm := range b.Messages(0) {
				if mm.Outgoing && mm.Text == text {
					msg, _ = b.Message(mm.ID)
					return msg.Delivery == radio.Acked || msg.Delivery == radio.Failed
				}
			}
			return false
		})
		return msg
	}
	unknown := uint32(0x12345678) // not in the mesh: nobody acks
	if m := send(unknown, "anyone there?"); m.Delivery != radio.Failed {
		t.Fatalf("DM to a missing node: %+v", m)
	}
	u.waitText("✗ failed")
	var acked bool
	for _, n := range fx.sims["base"].Nodes() {
		if n.GetViaMqtt() || n.HopsAway == nil || n.GetNum() == fx.sims["base"].MyNodeNum() {
			continue
		}
		if m := send(n.GetNum(), "hello "+n.GetUser().GetShortName()); m.Delivery == radio.Acked {
			acked = true
			u.waitText("✓ acked by " + n.GetUser().GetShortName())
			break
		}
	}
	if !acked {
		t.Fatal("no DM was acked")
	}
}

// The byte counter follows the radio's limit: less for an encrypted DM,
// less again for a reply, and an over-long text is not sent.
func TestByteLimit(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("2", "i")
	u.typeText("héllo")
	u.waitText("6/232 B")
	var pki uint32
	u.do(func(m *Model) {
		for _, n := range m.view().Nodes {
			if len(n.PublicKey) > 0 && n.Num != m.view().MyNodeNum {
				pki = n.Num
			}
		}
		_ = m.startDM(pki)
	})
	u.typeText("x")
	u.waitText("7/220 B")
	u.do(func(m *Model) { m.chat.replyTo = &radio.Message{ID: 1, Text: "earlier"}; m.dirty |= dBody })
	u.waitText("7/215 B")
	u.typeText(strings.Repeat("y", 220))
	u.waitText("too long")
	u.key("enter")
	u.waitText("too long: 227 bytes, at most 215 fit")
	u.do(func(m *Model) {
		if m.chat.sending || m.chat.input.Value() == "" {
			t.Error("an over-long text was sent")
		}
	})
}

// Admins reboot after typing the radio's short name; everyone else on the
// radio is told first.
func TestAdminReboot(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	admin := startUI(t, fx, uiOpts{bind: "base", role: auth.Admin, name: "ada"})
	other := startUI(t, fx, uiOpts{bind: "base", name: "bob"})
	admin.connected()
	other.connected()
	var short string
	admin.do(func(m *Model) { self, _ := m.view().Self(); short = self.ShortName })
	admin.key("6", "R")
	admin.typeText("wrong")
	admin.key("enter")
	admin.waitText("that is not " + short)
	admin.key("esc")
	admin.waitModel("the dialog to close", func(m *Model) bool { return m.dialog == nil })
	admin.key("R")
	admin.typeText(short)
	admin.key("enter")
	other.waitText("ada is about to reboot this radio")
	admin.waitText("the radio accepted the request to reboot it")
}

// Admins edit the MQTT settings and apply them in one transaction.
func TestMQTTApply(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base", role: auth.Admin})
	u.connected()
	u.key("5", "e", "space", "down", "enter")
	u.key("ctrl+a", "ctrl+k") // clear the field
	u.do(func(m *Model) { m.mqtt.input.SetValue("") })
	u.typeText("mqtt.example.org")
	u.key("enter", "ctrl+s")
	u.waitText("Apply the MQTT settings?")
	u.key("y")
	u.waitText("accepted the request to change the MQTT settings")
	b := fx.broker(t, "base")
	var got *pb.ModuleConfig_MQTTConfig
	err := b.Admin(context.Background(), func(ctx context.Context, c *meshtastic.Client) error {
		mc, err := c.GetModuleConfig(ctx, pb.AdminMessage_MQTT_CONFIG)
		got = mc.GetMqtt()
		return err
	})
	if err != nil || !got.GetEnabled() || got.GetAddress() != "mqtt.example.org" {
		t.Fatalf("radio's MQTT config: %v, %v", got, err)
	}
}

// The countdown appears near the idle timeout and goes with a key press.
func TestIdleCountdown(t *testing.T) {
	fx := newFixture(t, fixtureOpts{idle: 4 * time.Second})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.waitText("idle: closing in")
	u.rec.Touch() // what the server's input filter does for every key
	u.key("j")
	u.waitModel("the countdown to go", func(m *Model) bool { return !m.idle.warn })
	if s := u.screen(); strings.Contains(s, "idle: closing") {
		t.Fatalf("countdown still shown:\n%s", s)
	}
	u.waitText("idle: closing in") // and back when idle again
}

func TestAnnouncement(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	fx.broker(t, "base").Announce("the gateway is shutting down")
	u.waitText("[15:09:26] the gateway is shutting down")
	u.key("esc")
	u.waitFor("the notice to clear", func(s string) bool { return !strings.Contains(s, "shutting down") })
}

// Nothing changes, nothing is drawn: no frames and no bytes while the
// radio is quiet.
func TestNoRedrawWhenIdle(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	time.Sleep(200 * time.Millisecond)
	var before int
	u.do(func(m *Model) { before = m.renders })
	_, _ = io.ReadAll(u.tm.Output())
	time.Sleep(time.Second)
	var after int
	u.do(func(m *Model) { after = m.renders })
	out, _ := io.ReadAll(u.tm.Output())
	if after != before || len(out) != 0 {
		t.Fatalf("idle screen: %d frames, %d bytes in a second", after-before, len(out))
	}
}

// A busy radio costs each session about one frame per frameDelay.
func TestFramesCoalesced(t *testing.T) {
	fx := newFixture(t, fixtureOpts{traffic: time.Millisecond})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("3")
	var r0 int
	var s0 uint64
	u.do(func(m *Model) { r0, s0 = m.renders, m.pkts.arrived })
	start := time.Now()
	time.Sleep(time.Second)
	var r1 int
	var s1 uint64
	u.do(func(m *Model) { r1, s1 = m.renders, m.pkts.arrived })
	elapsed := time.Since(start)
	frames, packets := r1-r0, int(s1-s0)
	limit := int(elapsed/frameDelay) + 3
	t.Logf("%d packets, %d frames in %s", packets, frames, elapsed.Round(time.Millisecond))
	if packets < 50 {
		t.Fatalf("only %d packets arrived", packets)
	}
	if frames > limit {
		t.Fatalf("%d frames for %d packets in %s; want at most %d", frames, packets, elapsed, limit)
	}
}

// After a quiet spell the first frameBurst changes draw at once; a third
// inside the window waits for it, and so does every change in a window
// that opened with waiting changes, until a window passes with none.
func TestFrameBurst(t *testing.T) {
	fx := newFixture(t, fixtureOpts{nodes: 3})
	m := newSessions(t, fx, 1, "Chat")[0].m
	v := m.view()
	var from uint32
	for _, n := range v.Nodes {
		if n.Num != v.MyNodeNum {
			from = n.Num
		}
	}
	id := uint32(0)
	text := func(s string) {
		id++
		msg := &radio.Message{Radio: "base", At: time.Now(), ID: id, From: from, To: meshtastic.Broadcast, Text: s}
		m.Update(eventsMsg{radio: "base", events: []*radio.Event{{Kind: radio.EvMessage, At: msg.At, Message: msg}}})
	}
	shown := func(s string) bool { return strings.Contains(ansi.Strip(m.View().Content), s) }
	for i, step := range []struct {
		text  string // a text arrives (or the window ends, with "")
		shown []string
		not   []string
	}{
		{text: "first after quiet", shown: []string{"first after quiet"}},
		{text: "second, right after", shown: []string{"second, right after"}},
		{text: "third waits", not: []string{"third waits"}},
		{shown: []string{"third waits"}}, // the window ends; its frame opens the next
		{text: "inside a busy window", not: []string{"inside a busy window"}},
		{shown: []string{"inside a busy window"}},
		{}, // a window with nothing waiting: quiet again
		{text: "quiet again", shown: []string{"quiet again"}},
		{text: "and burst again", shown: []string{"and burst again"}},
	} {
		if step.text != "" {
			text(step.text)
		} else {
			m.Update(frameMsg{})
		}
		for _, s := range step.shown {
			if !shown(s) {
				t.Errorf("step %d: %q not on screen", i, s)
			}
		}
		for _, s := range step.not {
			if shown(s) {
				t.Errorf("step %d: %q drawn before its window ended", i, s)
			}
		}
	}
}

// Switching radios leaves the old one: its events stop, the session's
// log restarts, and the broker loses the subscriber.
func TestSwitchRadio(t *testing.T) {
	fx := newFixture(t, fixtureOpts{radios: []string{"base", "field"}, traffic: 5 * time.Millisecond})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	eventually(t, "packets from base", func() bool { return u.rec.PacketsSeen() > 5 })
	u.key("L", "down", "enter")
	u.waitText("field ● connected")
	if n := fx.broker(t, "base").Status().Subscribers; n != 0 {
		t.Errorf("base still has %d subscribers", n)
	}
	field := map[uint32]bool{}
	for _, n := range fx.sims["field"].Nodes() {
		field[n.GetNum()] = true
	}
	eventually(t, "packets from field", func() bool { return u.rec.PacketsSeen() > 5 })
	for _, lp := range u.rec.Packets() {
		if !field[lp.Packet.GetFrom()] {
			t.Fatalf("the log of field holds a packet from %08x", lp.Packet.GetFrom())
		}
	}
}

// The traceroute shows where it waits in the radio's shared queue.
func TestTraceQueuePosition(t *testing.T) {
	fx := newFixture(t, fixtureOpts{pace: 3 * time.Second})
	a := startUI(t, fx, uiOpts{bind: "base", name: "ann"})
	b := startUI(t, fx, uiOpts{bind: "base", name: "bob"})
	a.connected()
	b.connected()
	a.key("j", "t")
	a.waitModel("ann's traceroute", func(m *Model) bool { return len(m.trace.results) == 1 })
	a.key("1", "j", "t") // the radio's pace holds this one back
	// Two programs run independently: make sure ann's request is queued
	// before bob asks, so bob's is the one behind.
	base, _ := fx.reg.Get("base")
	deadline := time.Now().Add(10 * time.Second)
	for base.QueueLen() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.key("j", "j", "t") // and bob's waits behind it
	b.waitText("queued: 1 request ahead")
	b.waitText("starts ≈")
}

// A sweep traces every node heard over the air (and nearby MQTT nodes),
// reports each outcome and a summary, and keeps it in the session.
func TestSweep(t *testing.T) {
	fx := newFixture(t, fixtureOpts{nodes: 6, pace: 10 * time.Millisecond})
	u := startUI(t, fx, uiOpts{bind: "base", w: 100, h: 30})
	u.connected()
	plan, err := fx.core.PlanSweep(context.Background(), u.caller, "base")
	if err != nil {
		t.Fatal(err)
	}
	want := len(plan.Nums)
	u.key("4", "w", "y")
	u.waitText("sweep finished:")
	st := u.rec.Sweep()
	if st.Running || st.Total != want || st.Done != want || st.Finished.IsZero() {
		t.Fatalf("sweep status: %+v", st)
	}
	if n := len(u.rec.Traces()); n != want {
		t.Fatalf("%d traces kept, want %d", n, want)
	}
	u.waitText(st.Results[0].Outcome.String())
}

func TestMouse(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.tm.Send(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	u.waitModel("the wheel to scroll", func(m *Model) bool { return m.nodes.cur == 3 })
	u.tm.Send(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	u.waitModel("the wheel to scroll back", func(m *Model) bool { return m.nodes.cur == 0 })
	u.tm.Send(tea.MouseClickMsg{Button: tea.MouseLeft, X: 22, Y: 1})
	u.waitModel("a click on a tab", func(m *Model) bool { return m.on(&m.pkts) })
}

// Names and texts come from strangers on the mesh; none of their control
// characters may reach a terminal.
func TestHostileText(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	r := fx.sims["base"]
	user, _ := protoMarshal(&pb.User{Id: "!0badf00d", LongName: "evil\x1b[2J\x1b]0;pwned\x07name", ShortName: "\x1b[31m"})
	r.Inject(&pb.MeshPacket{From: 0x0badf00d, To: 0xFFFFFFFF, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_NODEINFO_APP, Payload: user}}})
	r.Inject(&pb.MeshPacket{From: 0x0badf00d, To: 0xFFFFFFFF, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("hi\x1b[?1049l\rbye")}}})
	u.waitText("evil")
	u.key("2")
	u.waitText("bye")
	for _, tab := range []string{"1", "2", "3"} {
		u.key(tab)
		s := u.styled()
		for _, bad := range []string{"\x1b[2J", "\x1b]0;", "\x1b[?1049l", "\x07", "\r"} {
			if strings.Contains(s, bad) {
				t.Errorf("tab %s: %q reached the screen", tab, bad)
			}
		}
	}
}

// The client's TZ, when it sends one, sets the clock on screen.
func TestTimeZone(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	fx.broker(t, "base").Announce("hello")
	u.waitText("[15:09:26] hello")
	u.tm.Send(tea.EnvMsg{"TZ=Asia/Tokyo"})
	u.waitText("[00:09:26] hello")
}

func TestResize(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.tm.Send(tea.WindowSizeMsg{Width: 30, Height: 8})
	u.waitText("least 40×10")
	u.tm.Send(tea.WindowSizeMsg{Width: 200, Height: 60})
	s := u.waitText("HARDWARE")
	for i, l := range strings.Split(s, "\n") {
		if width(l) > 200 {
			t.Errorf("line %d is %d cells wide", i, width(l))
		}
	}
	if n := len(strings.Split(s, "\n")); n != 60 {
		t.Errorf("%d lines on a 60-line screen", n)
	}
}

func protoMarshal(m *pb.User) ([]byte, error) { return proto.Marshal(m) }

// Every screen fits its window exactly, from the smallest usable one to a
// large one: no line wider than the window, no more lines than it has.
func TestEveryScreenFits(t *testing.T) {
	fx := newFixture(t, fixtureOpts{traffic: 20 * time.Millisecond, store: true})
	u := startUI(t, fx, uiOpts{bind: "base", role: auth.Admin})
	u.connected()
	time.Sleep(300 * time.Millisecond) // some traffic on every tab
	screens := [][]string{
		{"1"}, {"enter"}, {"esc", "2"}, {"l"}, {"i"}, {"esc", "3"}, {"up", "enter"}, {"esc", "4"}, {"w"}, {"n", "5"},
		{"e"}, {"esc", "6"}, {"R"}, {"esc", "7"}, {"a"}, {"ctrl+s"}, {"esc", "l"}, {"a"}, {"esc", "l"}, {"e"},
		{"esc", "?"}, {"esc", "L"},
	}
	for _, size := range [][2]int{{40, 10}, {80, 24}, {200, 60}} {
		u.tm.Send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		u.key("esc", "enter") // back from the lobby
		for _, keys := range screens {
			u.key(keys...)
			s := u.screen()
			ls := strings.Split(s, "\n")
			if len(ls) != size[1] {
				t.Errorf("%dx%d after %v: %d lines", size[0], size[1], keys, len(ls))
			}
			for i, l := range ls {
				if w := width(l); w > size[0] {
					t.Errorf("%dx%d after %v: line %d is %d cells: %q", size[0], size[1], keys, i, w, l)
				}
			}
		}
	}
}

// The lobby refreshes while someone looks at it, and stops when nobody
// has pressed a key for a while.
func TestLobbyPollStops(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	u := startUI(t, fx, uiOpts{now: clock})
	u.waitText("Choose a radio")
	u.waitModel("the poll", func(m *Model) bool { return m.lobby.polling })
	skew.Store(int64(lobbyWatch + time.Minute)) // nobody touched a key since
	u.waitModel("the poll to stop", func(m *Model) bool { return !m.lobby.polling })
	u.key("down")
	u.waitModel("the poll to resume", func(m *Model) bool { return m.lobby.polling })
}

// An app on the radio's virtual node is one of its users in the header.
func TestHeaderCountsApps(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base", name: "bob"})
	u.connected()
	n, err := fx.core.OpenNode(context.Background(), backend.Caller{Identity: auth.Identity{Name: "app", Role: auth.Viewer}, Via: "node"}, "base")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	u.key("2") // any redraw
	u.waitText("+1 other (1 app)")
}

// NO_COLOR in the session's environment turns colour off whatever the
// terminal can show; the link state still reads as a word.
func TestNoColor(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.do(func(m *Model) {
		m.Update(tea.ColorProfileMsg{Profile: colorprofile.TrueColor})
		if !m.st.color {
			t.Error("a truecolor terminal got no colour")
		}
		m.Update(tea.EnvMsg{"TERM=xterm-256color", "NO_COLOR=1"})
		if m.st.color {
			t.Error("NO_COLOR left colour on")
		}
		m.Update(tea.ColorProfileMsg{Profile: colorprofile.TrueColor})
		if m.st.color {
			t.Error("a later profile turned colour back on despite NO_COLOR")
		}
		if h := m.renderHeader(120); !strings.Contains(h, "● connected") {
			t.Errorf("header without the link state: %q", h)
		}
	})
}

// The MQTT tab of a session that just bound counts what the radio heard
// before, from its shared recent history, instead of "nothing heard yet".
func TestMQTTHealthFromHistory(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	first := startUI(t, fx, uiOpts{bind: "base"})
	first.connected()
	r := fx.sims["base"]
	for i := range 3 {
		r.Inject(&pb.MeshPacket{From: 0x0badf00d, To: 0xFFFFFFFF, HopStart: 3, HopLimit: 3, ViaMqtt: i > 0,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("x")}}})
	}
	first.waitModel("three packets", func(m *Model) bool { return m.rec.PacketsSeen() >= 3 })
	u := startUI(t, fx, uiOpts{bind: "base", name: "late"})
	u.connected()
	u.key("5")
	s := u.waitText("Traffic on base")
	if strings.Contains(s, "nothing heard yet") {
		t.Fatalf("a new session's MQTT health ignores the radio's history:\n%s", s)
	}
	u.waitModel("the recalled counts", func(m *Model) bool {
		h := m.rec.MQTTHealth()
		return h.RF == 1 && h.MQTT == 2
	})
}

// Key hints too long for the status line lose keys before "? help",
// latest first, rather than "? help" itself.
func TestFitHints(t *testing.T) {
	s := "R reboot · H shutdown · C connect now · ? help"
	for w, want := range map[int]string{
		80: s,
		40: "R reboot · H shutdown · ? help",
		20: "R reboot · ? help",
		5:  "R reboot · ? help", // the view's first key and help stay; the line cuts the rest
	} {
		if got := fitHints(s, w); got != want {
			t.Errorf("fitHints(%d) = %q, want %q", w, got, want)
		}
	}
	if got := fitHints("? help", 3); got != "? help" {
		t.Errorf("a lone hint: %q", got)
	}
}
