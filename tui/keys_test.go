package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/sessions"
)

// waitModel polls the model until cond holds.
func (u *ui) waitModel(what string, cond func(m *Model) bool) {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := false
		u.do(func(m *Model) { ok = cond(m) })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("timed out waiting for %s; screen:\n%s", what, u.screen())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keyCase tests one key of one view: setup gets the view ready, then the
// key is pressed, then check must hold.
type keyCase struct {
	view  string // as helpFor titles it: "Lobby", "Nodes", ..., or "Everywhere"
	key   string // the help's key label
	role  auth.Role
	press []string
	setup func(u *ui)
	check func(m *Model) bool
}

// Every key that help lists does what help says. The test fails, too, if
// help lists a key no case covers.
func TestKeys(t *testing.T) {
	cases := []keyCase{
		// Lobby.
		{view: "Lobby", key: "↓/j", press: []string{"j"}, check: func(m *Model) bool { return m.lobby.cur == 1 }},
		{view: "Lobby", key: "↑/k", press: []string{"down", "k"}, check: func(m *Model) bool { return m.lobby.cur == 0 }},
		{view: "Lobby", key: "pgdn", press: []string{"pgdown"}, check: func(m *Model) bool { return m.lobby.cur == 1 }},
		{view: "Lobby", key: "pgup", press: []string{"pgdown", "pgup"}, check: func(m *Model) bool { return m.lobby.cur == 0 }},
		{view: "Lobby", key: "end/G", press: []string{"G"}, check: func(m *Model) bool { return m.lobby.cur == 1 }},
		{view: "Lobby", key: "home/g", press: []string{"G", "g"}, check: func(m *Model) bool { return m.lobby.cur == 0 }},
		{view: "Lobby", key: "enter", press: []string{"down", "enter"}, check: func(m *Model) bool { return m.screen == screenMain && m.name == "field" }},
		{view: "Lobby", key: "r", setup: func(u *ui) { otherOn(u, "field") }, press: []string{"r"},
			check: func(m *Model) bool { return len(m.lobby.list) == 2 && m.lobby.list[1].Users == 1 }},
		{view: "Lobby", key: "esc", press: []string{"enter", "L", "esc"}, check: func(m *Model) bool { return m.screen == screenMain && m.name == "base" }},

		// Nodes.
		{view: "Nodes", key: "↓/j", press: []string{"j"}, check: func(m *Model) bool { return m.nodes.cur == 1 }},
		{view: "Nodes", key: "↑/k", press: []string{"j", "j", "k"}, check: func(m *Model) bool { return m.nodes.cur == 1 }},
		{view: "Nodes", key: "pgdn", press: []string{"pgdown"}, check: func(m *Model) bool { return m.nodes.cur == 15 }},
		{view: "Nodes", key: "pgup", press: []string{"G", "pgup"}, check: func(m *Model) bool { return m.nodes.cur == 0 }},
		{view: "Nodes", key: "end/G", press: []string{"G"}, check: func(m *Model) bool { return m.nodes.cur == len(m.nodes.list.items)-1 }},
		{view: "Nodes", key: "home/g", press: []string{"G", "g"}, check: func(m *Model) bool { return m.nodes.cur == 0 }},
		{view: "Nodes", key: "f", press: []string{"f"}, check: func(m *Model) bool {
			return m.nodes.list.filter == filterRF && len(m.nodes.list.items) > 0 && !m.nodes.list.items[0].ViaMQTT
		}},
		{view: "Nodes", key: "s", press: []string{"s", "1"}, check: func(m *Model) bool {
			return m.nodes.list.sortBy == m.nodes.layout[0].col && !m.nodes.list.desc && !m.nodes.picking
		}},
		{view: "Nodes", key: "S", press: []string{"S"}, check: func(m *Model) bool { return m.nodes.list.sortBy == colHeard && !m.nodes.list.desc }},
		{view: "Nodes", key: "/", press: []string{"/", "H", "a", "n", "a"}, check: func(m *Model) bool {
			return m.nodes.searching && m.nodes.list.query == "hana" && len(m.nodes.list.items) == 2
		}},
		{view: "Nodes", key: "enter", press: []string{"enter"}, check: func(m *Model) bool { return m.nodes.detail }},
		{view: "Nodes", key: "d", press: []string{"j", "d"}, check: func(m *Model) bool {
			return m.on(&m.chat) && m.chat.cur.dm && m.chat.composing
		}},
		{view: "Nodes", key: "t", press: []string{"j", "t"}, check: func(m *Model) bool {
			return m.on(&m.trace) && len(m.trace.results) == 1
		}},

		// Chat.
		{view: "Chat", key: "n", press: []string{"2", "n", "h", "a", "n", "a", "'", "s", " ", "r", "enter"}, check: func(m *Model) bool {
			return m.chat.cur == convKey{dm: true, num: numNamed(m, "Hana's Radio")} && m.chat.composing && !m.chat.to.open
		}},
		{view: "Chat", key: "→/l", press: []string{"2", "l"}, check: func(m *Model) bool { return m.chat.cur == convKey{num: 1} }},
		{view: "Chat", key: "←/h", press: []string{"2", "l", "h"}, check: func(m *Model) bool { return m.chat.cur == convKey{} }},
		{view: "Chat", key: "↑/k", setup: heardTexts, press: []string{"2", "k"}, check: func(m *Model) bool { return m.chat.sel == 2 }},
		{view: "Chat", key: "↓/j", setup: heardTexts, press: []string{"2", "k", "k", "j"}, check: func(m *Model) bool { return m.chat.sel == 2 }},
		{view: "Chat", key: "end/G", setup: heardTexts, press: []string{"2", "k", "G"}, check: func(m *Model) bool { return m.chat.sel == -1 }},
		{view: "Chat", key: "i/enter", press: []string{"2", "i"}, check: func(m *Model) bool { return m.chat.composing }},
		{view: "Chat", key: "r", setup: heardTexts, press: []string{"2", "k", "r"}, check: func(m *Model) bool {
			return m.chat.composing && m.chat.replyTo != nil && m.chat.replyTo.Text == "text 3"
		}},
		{view: "Chat", key: "enter", press: []string{"2", "i", "h", "i", "enter"}, check: func(m *Model) bool {
			cv := m.chat.convs[convKey{}]
			return cv != nil && len(cv.msgs) == 1 && cv.msgs[0].Outgoing && cv.msgs[0].Text == "hi"
		}},

		// Packets.
		{view: "Packets", key: "↑/k", setup: heardTexts, press: []string{"3", "k"}, check: func(m *Model) bool { return !m.pkts.following && m.pkts.cur == 1 }},
		{view: "Packets", key: "↓/j", setup: heardTexts, press: []string{"3", "k", "k", "j"}, check: func(m *Model) bool { return m.pkts.cur == 1 }},
		{view: "Packets", key: "pgup", setup: heardTexts, press: []string{"3", "pgup"}, check: func(m *Model) bool { return m.pkts.cur == 0 }},
		{view: "Packets", key: "pgdn", setup: heardTexts, press: []string{"3", "g", "pgdown"}, check: func(m *Model) bool { return m.pkts.following }},
		{view: "Packets", key: "home/g", setup: heardTexts, press: []string{"3", "g"}, check: func(m *Model) bool { return m.pkts.cur == 0 && !m.pkts.following }},
		{view: "Packets", key: "end/G", setup: heardTexts, press: []string{"3", "g", "G"}, check: func(m *Model) bool { return m.pkts.following }},
		{view: "Packets", key: "space/p", press: []string{"3", "space"}, check: func(m *Model) bool { return m.pkts.paused }},
		{view: "Packets", key: "enter", setup: heardTexts, press: []string{"3", "enter"}, check: func(m *Model) bool { return m.pkts.inspect }},
		{view: "Packets", key: "o", press: []string{"3", "o"}, check: func(m *Model) bool {
			return len(m.pkts.filters.Ports) == 1 && m.pkts.filters.Ports[0] == pb.PortNum_TEXT_MESSAGE_APP && len(m.rec.Filters().Ports) == 1
		}},
		{view: "Packets", key: "n", setup: heardTexts, press: []string{"3", "n"}, check: func(m *Model) bool { return len(m.rec.Filters().Nodes) == 1 }},
		{view: "Packets", key: "/", setup: heardTexts, press: []string{"3", "/", "t", "e", "x", "t", " ", "1"}, check: func(m *Model) bool {
			return m.pkts.searching && m.rec.Filters().Search == "text 1" && len(m.pkts.snap) == 1
		}},
		{view: "Packets", key: "x", press: []string{"3", "o", "x"}, check: func(m *Model) bool { return m.rec.Filters().IsZero() }},

		// Trace.
		{view: "Trace", key: "↑/k", setup: twoTraces, press: []string{"j", "k"}, check: func(m *Model) bool { return m.trace.cur == 0 }},
		{view: "Trace", key: "↓/j", setup: twoTraces, press: []string{"j"}, check: func(m *Model) bool { return m.trace.cur == 1 }},
		{view: "Trace", key: "pgdn", setup: twoTraces, press: []string{"pgdown"}, check: func(m *Model) bool { return m.trace.cur == 1 }},
		{view: "Trace", key: "pgup", setup: twoTraces, press: []string{"pgdown", "pgup"}, check: func(m *Model) bool { return m.trace.cur == 0 }},
		{view: "Trace", key: "end/G", setup: twoTraces, press: []string{"G"}, check: func(m *Model) bool { return m.trace.cur == 1 }},
		{view: "Trace", key: "home/g", setup: twoTraces, press: []string{"G", "g"}, check: func(m *Model) bool { return m.trace.cur == 0 }},
		{view: "Trace", key: "t", press: []string{"4", "t"}, check: func(m *Model) bool { return m.trace.prompt.open }},
		// The prompt takes a name (or its start) as the exec commands do.
		{view: "Trace", key: "t", press: []string{"4", "t", "h", "i", "l", "l", "enter"}, check: func(m *Model) bool {
			return !m.trace.prompt.open && (m.trace.job != nil && m.trace.job.target == numNamed(m, "Hilltop Lookout") ||
				len(m.trace.results) > 0 && m.trace.results[0].Target == numNamed(m, "Hilltop Lookout"))
		}},
		{view: "Trace", key: "w", press: []string{"4", "w"}, check: func(m *Model) bool { return m.dialog != nil && m.dialog.title == "Start a sweep?" }},
		{view: "Trace", key: "c", press: []string{"4", "w", "y", "c"}, check: func(m *Model) bool {
			return !m.trace.sweepRunning() && m.flash.text == "sweep cancelled"
		}},
		{view: "Trace", key: "v", press: []string{"4", "v"}, check: func(m *Model) bool { return m.trace.showSweep }},

		// MQTT.
		{view: "MQTT", key: "e", role: auth.Admin, press: []string{"5", "e"}, check: func(m *Model) bool { return m.mqtt.edit != nil }},
		{view: "MQTT", key: "↓/j", role: auth.Admin, press: []string{"5", "e", "j"}, check: func(m *Model) bool { return m.mqtt.field == 1 }},
		{view: "MQTT", key: "↑/k", role: auth.Admin, press: []string{"5", "e", "j", "j", "k"}, check: func(m *Model) bool { return m.mqtt.field == 1 }},
		{view: "MQTT", key: "enter/space", role: auth.Admin, press: []string{"5", "e", "space"}, check: func(m *Model) bool { return m.mqtt.edit.GetEnabled() }},
		{view: "MQTT", key: "ctrl+s", role: auth.Admin, press: []string{"5", "e", "space", "ctrl+s"}, check: func(m *Model) bool {
			return m.dialog != nil && strings.Contains(m.dialog.title, "MQTT") && slices.Contains(m.dialog.body, "  enabled: no → yes")
		}},

		// Device.
		{view: "Device", key: "↓/j", press: []string{"6", "j"}, check: func(m *Model) bool { return m.device.top == 1 }},
		{view: "Device", key: "↑/k", press: []string{"6", "j", "j", "k"}, check: func(m *Model) bool { return m.device.top == 1 }},
		{view: "Device", key: "pgdn", press: []string{"6", "pgdown"}, check: func(m *Model) bool { return m.device.top > 0 }},
		{view: "Device", key: "pgup", press: []string{"6", "pgdown", "pgup"}, check: func(m *Model) bool { return m.device.top == 0 }},
		{view: "Device", key: "R", role: auth.Admin, press: []string{"6", "R"}, check: typedDialog("Reboot")},
		{view: "Device", key: "H", role: auth.Admin, press: []string{"6", "H"}, check: typedDialog("Shut")},
		{view: "Device", key: "F", role: auth.Admin, press: []string{"6", "F"}, check: typedDialog("Factory")},
		{view: "Device", key: "N", role: auth.Admin, press: []string{"6", "N"}, check: typedDialog("NodeDB")},
		{view: "Device", key: "C", press: []string{"6", "C"}, check: func(m *Model) bool { return strings.Contains(m.flash.text, "connected already") }},

		// Rules.
		{view: "Rules", key: "←/h", press: []string{"7", "h"}, check: func(m *Model) bool { return m.rules.sec == secBeacon }},
		{view: "Rules", key: "→/l", press: []string{"7", "l"}, check: func(m *Model) bool { return m.rules.sec == secFilters }},
		{view: "Rules", key: "↓/j", setup: twoRules, press: []string{"7", "j"}, check: func(m *Model) bool { return m.rules.cur[secResponders] == 1 }},
		{view: "Rules", key: "↑/k", setup: twoRules, press: []string{"7", "j", "j", "k"}, check: func(m *Model) bool {
			return len(m.pf.rules) == 2 && m.rules.cur[secResponders] == 0
		}},
		{view: "Rules", key: "a", press: []string{"7", "a"}, check: func(m *Model) bool { return m.rules.form != nil && m.rules.form.kind == formRule }},
		{view: "Rules", key: "e", setup: twoRules, press: []string{"7", "j", "e"}, check: func(m *Model) bool {
			return m.rules.form != nil && m.rules.form.id == 2 && m.rules.form.val("trigger") == "hello"
		}},
		{view: "Rules", key: "space", setup: twoRules, press: []string{"7", "space"}, check: func(m *Model) bool {
			return len(m.pf.rules) == 2 && !m.pf.rules[0].Enabled
		}},
		{view: "Rules", key: "d/del", setup: twoRules, press: []string{"7", "d"}, check: func(m *Model) bool {
			return m.dialog != nil && m.dialog.title == "Delete responder #1?"
		}},
		{view: "Rules", key: "t", setup: twoRules, press: []string{"7", "t", "P", "i", "n", "g", "enter"}, check: func(m *Model) bool {
			return len(m.rules.result) == 2 && strings.HasPrefix(m.rules.result[1], "✓ rule #1 replies: pong")
		}},
		{view: "Rules", key: "enter/space", press: []string{"7", "a", "down", "space"}, check: func(m *Model) bool {
			return m.rules.form != nil && m.rules.form.val("match") == "prefix"
		}},
		{view: "Rules", key: "ctrl+s", press: []string{"7", "a", "enter", "p", "i", "n", "g", "enter", "down", "down", "enter", "o", "k", "ctrl+s"},
			check: func(m *Model) bool {
				return m.rules.form == nil && len(m.pf.rules) == 1 && m.pf.rules[0].Trigger == "ping" && m.pf.rules[0].Reply == "ok"
			}},

		// Everywhere.
		{view: "Everywhere", key: "1-8", press: []string{"5"}, check: func(m *Model) bool { return m.on(&m.mqtt) }},
		{view: "Everywhere", key: "tab", press: []string{"tab"}, check: func(m *Model) bool { return m.on(&m.chat) }},
		{view: "Everywhere", key: "shift+tab", press: []string{"shift+tab"}, check: func(m *Model) bool { return m.on(m.mapPane()) }},
		// Map.
		{view: "Map", key: "+", press: []string{"8", "+"}, check: func(m *Model) bool { return m.mapPane().moved && m.mapPane().proj.MetresPerPx > 0 }},
		{view: "Map", key: "-", press: []string{"8", "-", "-"}, check: func(m *Model) bool {
			// Once zoomed, the hint that zooming out shows far MQTT nodes is gone.
			return m.mapPane().moved && !strings.Contains(m.View().Content, "zooms out")
		}},
		{view: "Map", key: "arrows/hjkl", press: []string{"8", "f", "right"}, check: func(m *Model) bool { return m.mapPane().moved }},
		{view: "Map", key: "n", press: []string{"8", "n"}, check: func(m *Model) bool {
			t := m.mapPane()
			return t.sel != 0 && t.sel != m.view().MyNodeNum
		}},
		{view: "Map", key: "N", press: []string{"8", "N"}, check: func(m *Model) bool { return m.mapPane().sel == m.view().MyNodeNum }},
		{view: "Map", key: "c", press: []string{"8", "n", "c"}, check: func(m *Model) bool {
			t := m.mapPane()
			n := m.view().Nodes[t.sel]
			return t.moved && n != nil && t.proj.Centre.Lat == *n.Latitude
		}},
		{view: "Map", key: "f", press: []string{"8", "+", "f"}, check: func(m *Model) bool { return !m.mapPane().moved }},
		{view: "Map", key: "u", press: []string{"8", "u"}, check: func(m *Model) bool { return m.mapPane().imperial }},
		{view: "Map", key: "enter", press: []string{"8", "n", "enter"}, check: func(m *Model) bool {
			n := m.nodes.selected()
			return m.on(&m.nodes) && m.nodes.detail && n != nil && n.Num == m.mapPane().sel
		}},
		{view: "Map", key: "d", press: []string{"8", "n", "d"}, check: func(m *Model) bool {
			return m.on(&m.chat) && m.chat.cur.dm && m.chat.cur.num == m.mapPane().sel
		}},
		{view: "Map", key: "t", press: []string{"8", "n", "t"}, check: func(m *Model) bool { return m.on(&m.trace) }},

		{view: "Everywhere", key: "L", press: []string{"L"}, check: func(m *Model) bool { return m.screen == screenLobby }},
		{view: "Everywhere", key: "?", press: []string{"?"}, check: func(m *Model) bool { return m.help }},
		{view: "Everywhere", key: "esc", press: []string{"?", "esc"}, check: func(m *Model) bool { return !m.help }},
		{view: "Everywhere", key: "q/ctrl+c"}, // TestQuit
	}

	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.view+" "+c.key] = true
	}
	panes := (&Model{}).tabs()
	k := newKeys(len(panes))
	for _, r := range []auth.Role{auth.Viewer, auth.Admin} {
		views := []struct {
			s screen
			p pane
		}{{screenLobby, nil}}
		for _, p := range panes {
			views = append(views, struct {
				s screen
				p pane
			}{screenMain, p})
		}
		for _, v := range views {
			title, es := k.helpFor(v.s, v.p, auth.Identity{Role: r})
			for _, e := range append(es, k.global()...) {
				name := title + " " + e.b.Help().Key
				if isGlobal(k, e) {
					name = "Everywhere " + e.b.Help().Key
				}
				if !covered[name] {
					t.Errorf("help lists %q but no test presses it", name)
				}
			}
		}
	}

	for _, c := range cases {
		if c.check == nil {
			continue
		}
		t.Run(c.view+" "+c.key, func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{frozen: true, radios: []string{"base", "field"}, store: c.view == "Rules"})
			o := uiOpts{role: c.role}
			if c.view != "Lobby" {
				o.bind = "base"
			}
			u := startUI(t, fx, o)
			if o.bind != "" {
				u.connected()
			} else {
				u.waitText("Choose a radio")
			}
			if c.setup != nil {
				c.setup(u)
			}
			u.key(c.press...)
			u.waitModel(fmt.Sprintf("%v to act", c.press), c.check)
		})
	}
}

// numNamed is the number of the node with long name long.
func numNamed(m *Model, long string) uint32 {
	for _, n := range m.view().Nodes {
		if n.LongName == long {
			return n.Num
		}
	}
	return 0
}

func isGlobal(k keys, e helpEntry) bool {
	for _, g := range k.global() {
		if g.b.Help().Key == e.b.Help().Key && g.b.Help().Desc == e.b.Help().Desc {
			return true
		}
	}
	return false
}

func typedDialog(title string) func(m *Model) bool {
	return func(m *Model) bool {
		return m.dialog != nil && m.dialog.typed != "" && strings.Contains(m.dialog.title, title)
	}
}

// otherOn opens a second session bound to radio name.
func otherOn(u *ui, name string) {
	rec, err := u.fx.mgr.Open(sessions.User{Name: "other", Kind: sessions.TUI})
	if err != nil {
		u.t.Fatal(err)
	}
	rec.Bind(name)
	u.t.Cleanup(rec.Close)
}

// heardTexts makes the radio hear three channel texts, "text 1" to "text 3".
func heardTexts(u *ui) {
	var from uint32
	u.do(func(m *Model) {
		for _, n := range m.view().Nodes {
			if n.Num != m.view().MyNodeNum && !n.ViaMQTT {
				from = n.Num
				break
			}
		}
	})
	r := u.fx.sims[u.radio()]
	for i := 1; i <= 3; i++ {
		r.Inject(&pb.MeshPacket{From: from, To: 0xFFFFFFFF, HopStart: 3, HopLimit: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: fmt.Appendf(nil, "text %d", i)}}})
	}
	u.waitModel("three texts", func(m *Model) bool {
		cv := m.chat.convs[convKey{}]
		return cv != nil && len(cv.msgs) == 3 && m.rec.PacketsSeen() >= 3
	})
}

// twoTraces shows the Trace tab with two results.
func twoTraces(u *ui) {
	u.key("j", "t")
	u.waitModel("the first traceroute", func(m *Model) bool { return m.trace.job == nil && len(m.trace.results) == 1 })
	u.key("1", "j", "t")
	u.waitModel("the second traceroute", func(m *Model) bool { return m.trace.job == nil && len(m.trace.results) == 2 })
	u.do(func(m *Model) { m.trace.cur = 0 })
}
