package tui

import (
	"fmt"
	"image/color"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/store"
	"google.golang.org/protobuf/proto"
)

// Golden screens: every tab, the lobby, filters and dialogs, at 80×24 and
// at a large size, on the frozen clock. The files hold the plain text of
// the screen (styles are checked separately, below); regenerate them with
// go test ./tui -run TestGolden -update.
func TestGolden(t *testing.T) {
	type step func(t *testing.T, u *ui, fx *fixture)
	keys := func(ks ...string) step { return func(_ *testing.T, u *ui, _ *fixture) { u.key(ks...) } }
	cases := []struct {
		name  string
		w, h  int
		bind  bool
		role  auth.Role
		steps []step
	}{
		{"lobby_80x24", 80, 24, false, 0, nil},
		{"lobby_160x48", 160, 48, false, 0, nil},
		{"nodes_80x24", 80, 24, true, 0, nil},
		{"nodes_160x48", 160, 48, true, 0, nil},
		{"nodes_detail_80x24", 80, 24, true, 0, []step{keys("down", "down", "enter")}},
		{"nodes_detail_160x48", 160, 48, true, 0, []step{keys("down", "enter")}},
		{"nodes_filter_rf", 80, 24, true, 0, []step{keys("f")}},
		{"nodes_filter_mqtt", 80, 24, true, 0, []step{keys("f", "f")}},
		{"nodes_filter_nearby", 80, 24, true, 0, []step{keys("f", "f", "f")}},
		{"nodes_search", 80, 24, true, 0, []step{keys("/"), typed("hana")}},
		{"nodes_sort_snr", 120, 30, true, 0, []step{keys("s", "5")}},
		{"nodes_sort_picker", 80, 24, true, 0, []step{keys("s")}},
		{"nodes_unknown", 80, 24, true, 0, []step{stranger, keys("down", "enter")}},
		{"chat_80x24", 80, 24, true, 0, []step{chatted}},
		{"chat_160x48", 160, 48, true, 0, []step{chatted}},
		{"chat_viewer", 80, 24, true, auth.Viewer, []step{keys("2")}},
		{"packets_80x24", 80, 24, true, 0, []step{injected, keys("3")}},
		{"packets_160x48", 160, 48, true, 0, []step{injected, keys("3")}},
		{"packets_filter_port", 80, 24, true, 0, []step{injected, keys("3", "o")}},
		{"packets_inspector", 80, 24, true, 0, []step{injected, keys("3", "up", "enter")}},
		{"packets_inspector_160x48", 160, 48, true, 0, []step{injected, keys("3", "up", "enter")}},
		{"packets_inspector_scrolled", 80, 18, true, 0, []step{injected, keys("3", "up", "enter", "j")}},
		{"packets_sent", 80, 24, true, 0, []step{chatted, keys("3")}},
		{"trace_80x24", 80, 24, true, 0, []step{traced}},
		{"trace_160x48", 160, 48, true, 0, []step{traced}},
		{"sweep_confirm", 80, 24, true, 0, []step{keys("4", "w")}},
		{"sweep_confirm_160x48", 160, 48, true, 0, []step{keys("4", "w")}},
		{"mqtt_80x24", 80, 24, true, 0, []step{keys("5")}},
		{"mqtt_160x48", 160, 48, true, auth.Admin, []step{keys("5")}},
		{"mqtt_edit", 80, 24, true, auth.Admin, []step{keys("5", "e", "space", "down", "down", "down")}},
		{"mqtt_apply", 80, 24, true, auth.Admin, []step{keys("5", "e", "space", "down", "enter", "ctrl+u"), typed("mqtt.example.net"), keys("enter", "ctrl+s")}},
		{"device_80x24", 80, 24, true, 0, []step{keys("6")}},
		{"device_160x48", 160, 48, true, auth.Admin, []step{keys("6")}},
		{"device_reboot_dialog", 80, 24, true, auth.Admin, []step{keys("6", "R"), typed("nope"), keys("enter")}},
		{"help_nodes", 80, 24, true, auth.Viewer, []step{keys("?")}},
		{"help_map_160x48", 160, 48, true, 0, []step{keys("8", "?")}},
		{"chat_dm_prompt", 80, 24, true, 0, []step{keys("2", "n"), typed("hil")}},
		{"map_80x24", 80, 24, true, 0, []step{keys("8")}},
		{"map_160x48", 160, 48, true, 0, []step{keys("8", "n", "n")}},
		{"map_zoomed", 80, 24, true, 0, []step{keys("8", "n", "c", "+", "+")}},
		{"map_route", 120, 40, true, 0, []step{keys("8", "n", "n", "n", "n", "n", "n", "t"), traceDone, keys("8")}},
		{"help_lobby", 80, 24, false, 0, []step{keys("?")}},
		{"too_small", 30, 8, true, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{frozen: true, radios: []string{"base", "field"}})
			o := uiOpts{w: c.w, h: c.h, role: c.role}
			if c.bind {
				o.bind = "base"
			}
			u := startUI(t, fx, o)
			if c.bind && c.w >= minWidth {
				u.connected()
			} else if !c.bind {
				u.waitText("Choose a radio")
				// Configured radios connect at once, users or not (history
				// without gaps): show them connected.
				u.waitFor("both radios connected", func(s string) bool {
					return c.w < minWidth || strings.Count(s, " connected ") >= 2
				})
			}
			for _, s := range c.steps {
				s(t, u, fx)
			}
			golden.RequireEqual(t, trimLines(u.settled()))
		})
	}
}

// stranger makes the radio hear a node it has no node info for.
func stranger(t *testing.T, u *ui, fx *fixture) {
	pos, _ := proto.Marshal(&pb.Position{LatitudeI: proto.Int32(476062000), LongitudeI: proto.Int32(-1223321000)})
	fx.sims["base"].Inject(&pb.MeshPacket{Id: 0x2001, From: 0x0badcafe, To: 0xFFFFFFFF, RxSnr: 1.5, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_POSITION_APP, Payload: pos}}})
	u.waitText("!0badcafe")
}

// traceDone waits for the traceroute on the Trace tab to end.
func traceDone(t *testing.T, u *ui, _ *fixture) {
	u.waitModel("the traceroute", func(m *Model) bool { return m.trace.job == nil && len(m.trace.results) == 1 })
}

func typed(s string) func(*testing.T, *ui, *fixture) {
	return func(_ *testing.T, u *ui, _ *fixture) { u.typeText(s) }
}

// chatted sends a channel message and waits for its ack, and for the
// core to answer (until it does, its hold on the radio counts as a user).
func chatted(t *testing.T, u *ui, _ *fixture) {
	u.key("2", "i")
	u.typeText("Anyone on the summit tonight?")
	u.key("enter")
	u.waitText("✓")
	u.waitFor("the send to end", func(s string) bool { return !strings.Contains(s, "+1 other") })
	u.key("esc")
}

// injected makes the radio hear three packets with fixed contents.
func injected(t *testing.T, u *ui, fx *fixture) {
	r := fx.sims["base"]
	var from []uint32
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() {
			from = append(from, n.GetNum())
		}
	}
	pos, _ := proto.Marshal(&pb.Position{LatitudeI: proto.Int32(476062000), LongitudeI: proto.Int32(-1223321000), Altitude: proto.Int32(60)})
	pkts := []*pb.MeshPacket{
		{Id: 0x1001, From: from[0], To: 0xFFFFFFFF, RxSnr: 6.25, RxRssi: proto.Int32(-71), HopStart: 3, HopLimit: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("hello mesh")}}},
		{Id: 0x1002, From: from[1], To: 0xFFFFFFFF, RxSnr: -3.5, RxRssi: proto.Int32(-112), HopStart: 3, HopLimit: 1,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_POSITION_APP, Payload: pos}}},
		{Id: 0x1003, From: from[2], To: r.MyNodeNum(), ViaMqtt: true, HopStart: 3, HopLimit: 2,
			PayloadVariant: &pb.MeshPacket_Encrypted{Encrypted: []byte{1, 2, 3, 4, 5, 6, 7, 8}}},
	}
	for _, p := range pkts {
		r.Inject(p)
	}
	u.waitFor("three packets", func(string) bool {
		var n uint64
		u.do(func(m *Model) { n = m.rec.PacketsSeen() })
		return n >= 3
	})
}

// traced runs a traceroute to the first node heard over the air.
func traced(t *testing.T, u *ui, fx *fixture) {
	var target uint32
	u.do(func(m *Model) {
		for _, n := range m.nodes.list.items {
			if n.Num != m.view().MyNodeNum && !n.ViaMQTT && n.HopsAway != nil && *n.HopsAway == 1 {
				target = n.Num
				break
			}
		}
	})
	u.do(func(m *Model) { m.nodes.sel = target; m.nodes.locate() })
	u.key("t")
	u.waitFor("the traceroute", func(s string) bool { return strings.Contains(s, "towards:") || strings.Contains(s, "failed") })
}

// settled is the screen once nothing is left to happen on it.
func (u *ui) settled() string {
	time.Sleep(50 * time.Millisecond)
	return u.screen()
}

// trimLines drops trailing spaces, which editors and diffs hide anyway.
// loopbackPort matches the simulated radios' addresses, whose ports the
// system picks; ackFor the ids of the packets we send, which are random.
var (
	loopbackPort = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	ackFor       = regexp.MustCompile(`ack for 0x[0-9a-f]{8}`)
)

func trimLines(s string) string {
	s = loopbackPort.ReplaceAllString(s, "127.0.0.1:PORT")
	s = ackFor.ReplaceAllString(s, "ack for 0xPACKETID")
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(ls, "\n") + "\n"
}

// The style sheet: colors on a color terminal, attributes only without,
// and the selected row marked even where nothing else shows.
func TestGoldenStyles(t *testing.T) {
	for _, c := range []struct {
		name    string
		profile colorprofile.Profile
		light   bool
	}{{"dark", colorprofile.ANSI256, false}, {"light", colorprofile.ANSI256, true}, {"ascii", colorprofile.ASCII, false}} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{frozen: true})
			u := startUI(t, fx, uiOpts{bind: "base", profile: c.profile})
			u.connected()
			if c.light {
				u.tm.Send(tea.BackgroundColorMsg{Color: color.White})
				u.waitModel("the light sheet", func(m *Model) bool { return !m.dark })
			}
			time.Sleep(50 * time.Millisecond)
			golden.RequireEqual(t, u.styled()+"\n")
		})
	}
}

// The details pane draws the node's stored metrics of the last day as
// sparklines, gaps where it sent nothing.
func TestGoldenSparklines(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{frozen: true, store: true})
			u := startUI(t, fx, uiOpts{w: size.w, h: size.h, bind: "base"})
			u.connected()
			var num uint32
			u.do(func(m *Model) { num = m.nodes.list.items[1].Num })
			f := func(v float64) *float64 { return &v }
			for i := range 40 {
				at := frozen().Add(-time.Duration(i) * 30 * time.Minute)
				if i >= 10 && i < 16 {
					continue // a gap: the node was off
				}
				bat := uint32(95 - i)
				fx.db.AddTelemetry(store.Telemetry{Radio: "base", Node: num, At: at, BatteryLevel: &bat, Voltage: f(4.1 - float64(i)*0.01),
					ChannelUtilization: f(5 + float64(i%7))})
				fx.db.AddTelemetry(store.Telemetry{Radio: "base", Node: num, At: at.Add(time.Second), Temperature: f(12 + float64(i%12)),
					RelativeHumidity: f(60 - float64(i%9))})
			}
			u.key("down", "enter")
			u.waitText("last 24 h")
			golden.RequireEqual(t, trimLines(u.settled()))
		})
	}
}
