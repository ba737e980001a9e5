package tui

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// order is the node numbers of the table, top to bottom.
func order(u *ui) []uint32 {
	var nums []uint32
	u.do(func(m *Model) {
		m.View() // sync the list as a frame would
		for _, n := range m.nodes.list.items {
			nums = append(nums, n.Num)
		}
	})
	return nums
}

// While the user moves through the list, a node heard again does not jump
// to the top under the cursor: the order holds, the info line counts the
// change, and the new order comes when the user has been still a while.
func TestNodeOrderHolds(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("j", "j")
	u.waitModel("the cursor on the third row", func(m *Model) bool { return m.nodes.cur == 2 })
	before := order(u)
	var sel uint32
	u.do(func(m *Model) { sel = m.nodes.sel })

	last := before[len(before)-1]
	fx.sims["base"].Inject(&pb.MeshPacket{Id: 0x5151, From: last, To: 0xFFFFFFFF, RxSnr: 5, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("moved")}}})
	u.waitText("1 updated, order held")
	if got := order(u); !slices.Equal(got, before) {
		t.Fatalf("the order changed while the user moved:\n before %v\n after  %v", before, got)
	}

	// Still for holdOrder: the node heard last comes to the top (newest
	// first, under our own node), and the cursor stays on its node.
	u.waitFor("the held order to thaw", func(s string) bool { return !strings.Contains(s, "updated, order held") })
	after := order(u)
	if slices.Index(after, last) != 1 {
		t.Fatalf("after the hold the node heard last should lead: %v", after)
	}
	u.do(func(m *Model) {
		if m.nodes.sel != sel || m.nodes.list.items[m.nodes.cur].Num != sel {
			t.Errorf("the cursor left its node when the order changed")
		}
	})
}

// s then a column's number sorts by it; the same column again reverses;
// clicking a heading sorts by that column. The arrow survives a column
// too narrow for its name.
func TestNodeSortPicker(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("s")
	s := u.waitText("sort: 1 SHRT")
	if !strings.Contains(s, " 1 SHRT ") && !strings.Contains(s, " 1 SH") {
		t.Errorf("the heading does not number the columns:\n%s", s)
	}
	u.key("4")
	u.waitModel("sorted by hops", func(m *Model) bool { return m.nodes.list.sortBy == colHops && !m.nodes.list.desc })
	u.key("s", "4")
	u.waitModel("hops reversed", func(m *Model) bool { return m.nodes.list.sortBy == colHops && m.nodes.list.desc })
	u.key("s", "esc")
	u.waitModel("the picker closed", func(m *Model) bool { return !m.nodes.picking && m.nodes.list.sortBy == colHops })

	// The first column is SHRT, four cells wide: its arrow replaces a letter.
	var x int
	u.do(func(m *Model) { x = 2 + m.nodes.layout[0].w/2 })
	u.tm.Send(tea.MouseClickMsg{X: x, Y: 3, Button: tea.MouseLeft})
	u.waitModel("sorted by short name", func(m *Model) bool { return m.nodes.list.sortBy == colShort })
	s = u.waitText("SHR" + arrow(false))
	if strings.Contains(s, "…"+arrow(false)) {
		t.Errorf("the sort arrow was cut off:\n%s", s)
	}
}

// A node heard before its node info shows its id and "unknown", not blanks.
func TestNodeWithoutInfo(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base", w: 120, h: 30})
	u.connected()
	pos, _ := proto.Marshal(&pb.Position{LatitudeI: proto.Int32(476062000), LongitudeI: proto.Int32(-1223321000)})
	fx.sims["base"].Inject(&pb.MeshPacket{Id: 0x5152, From: 0x0badcafe, To: 0xFFFFFFFF, RxSnr: 1, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_POSITION_APP, Payload: pos}}})
	s := u.waitText("!0badcafe")
	line := ""
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "!0badcafe") {
			line = l
		}
	}
	for _, want := range []string{"cafe", "unknown (no node info yet)", "unknown"} {
		if !strings.Contains(line, want) {
			t.Errorf("the row of a node without node info lacks %q: %q", want, line)
		}
	}
	if strings.Contains(line, "UNSET") {
		t.Errorf("the row shows the hardware enum's zero value: %q", line)
	}
}
