package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

const (
	alice uint32 = 0xa1a1a1a1
	bob   uint32 = 0xb0b0b0b0
	me    uint32 = 0x0c0c0c0c
)

func pkt(from, to uint32, port pb.PortNum, ch uint32) *pb.MeshPacket {
	return &pb.MeshPacket{From: from, To: to, Channel: ch,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: port}}}
}

func encrypted(from uint32) *pb.MeshPacket {
	return &pb.MeshPacket{From: from, To: meshtastic.Broadcast, PayloadVariant: &pb.MeshPacket_Encrypted{Encrypted: []byte{1, 2}}}
}

func flt(id int64, mode Mode, kind Kind, value string) Filter {
	return Filter{ID: id, Owner: "SHA256:u1", Mode: mode, Kind: kind, Value: value, Enabled: true}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		f    Filter
		want string
	}{
		{flt(1, Block, KindNode, "!a1a1a1a1"), ""},
		{flt(1, Block, KindNode, "a1a1a1a1"), ""},
		{flt(1, Block, KindNode, "2712847316"), ""},
		{flt(1, Block, KindNode, "^all"), "broadcast"},
		{flt(1, Block, KindNode, "!zz"), "not a node id"},
		{flt(1, Block, KindPort, "TEXT_MESSAGE"), ""},
		{flt(1, Block, KindPort, "position_app"), ""},
		{flt(1, Block, KindPort, "67"), ""},
		{flt(1, Block, KindPort, "SMOKE_SIGNAL"), "unknown port"},
		{flt(1, Block, KindChannel, "0"), ""},
		{flt(1, Block, KindChannel, "7"), ""},
		{flt(1, Block, KindChannel, "8"), "channel"},
		{flt(1, Block, KindChannel, "-1"), "channel"},
		{flt(1, Block, KindText, "spam"), ""},
		{flt(1, Block, KindText, strings.Repeat("s", MaxPatternBytes+1)), "longer than"},
		{flt(1, Block, KindText, "\xff"), "UTF-8"},
		{flt(1, Block, KindRegex, `^buy\b`), ""},
		{flt(1, Block, KindRegex, `(`), "regular expression"},
		{flt(1, Block, KindText, "  "), "no value"},
		{Filter{Owner: "x", Kind: 9, Value: "1"}, "kind"},
		{Filter{Owner: "x", Mode: 9, Value: "1"}, "mode"},
		{Filter{Owner: "x", Scope: 9, Value: "1"}, "scope"},
		{Filter{Value: "!a1a1a1a1"}, "no owner"},
		{Filter{Owner: "x", Scope: ScopeRadio, Value: "!a1a1a1a1"}, "must name its radio"},
		{Filter{Owner: "x", Scope: ScopeRadio, Radio: "base", Value: "!a1a1a1a1"}, ""},
	}
	for _, c := range cases {
		err := c.f.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%v: %v", c.f, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want ErrInvalid mentioning %q", c.f, err, c.want)
		}
	}
}

func TestAllows(t *testing.T) {
	text := pkt(alice, meshtastic.Broadcast, pb.PortNum_TEXT_MESSAGE_APP, 0)
	cases := []struct {
		name    string
		filters []Filter
		p       *pb.MeshPacket
		text    string
		ok      bool
		reason  string
	}{
		{"no filters", nil, text, "hi", true, ""},
		{"block node from", []Filter{flt(3, Block, KindNode, "!a1a1a1a1")}, text, "hi", false, "blocked by #3: node !a1a1a1a1"},
		{"block node to", []Filter{flt(3, Block, KindNode, "a1a1a1a1")}, pkt(bob, alice, pb.PortNum_TEXT_MESSAGE_APP, 0), "hi", false, "blocked by #3: node !a1a1a1a1"},
		{"block other node", []Filter{flt(3, Block, KindNode, "!b0b0b0b0")}, text, "hi", true, ""},
		{"block port by name", []Filter{flt(4, Block, KindPort, "position")}, pkt(alice, 1, pb.PortNum_POSITION_APP, 0), "", false, "blocked by #4: port POSITION"},
		{"block port by number", []Filter{flt(4, Block, KindPort, "3")}, pkt(alice, 1, pb.PortNum_POSITION_APP, 0), "", false, "blocked by #4: port POSITION"},
		{"block port, other port", []Filter{flt(4, Block, KindPort, "POSITION_APP")}, text, "hi", true, ""},
		{"encrypted is port 0", []Filter{flt(4, Block, KindPort, "UNKNOWN_APP")}, encrypted(alice), "", false, "blocked by #4: port UNKNOWN"},
		{"block channel", []Filter{flt(5, Block, KindChannel, "2")}, pkt(alice, 1, pb.PortNum_TEXT_MESSAGE_APP, 2), "x", false, "blocked by #5: channel 2"},
		{"block channel, other", []Filter{flt(5, Block, KindChannel, "2")}, text, "x", true, ""},
		{"block text", []Filter{flt(6, Block, KindText, "BUY")}, text, "cheap buy now", false, `blocked by #6: text "BUY"`},
		{"block text, no match", []Filter{flt(6, Block, KindText, "buy")}, text, "hello", true, ""},
		{"block regex", []Filter{flt(7, Block, KindRegex, `^\s*buy\b`)}, text, " Buy now", false, "blocked by #7: regex \"^\\\\s*buy\\\\b\""},
		{"block regex, no match", []Filter{flt(7, Block, KindRegex, `^buy\b`)}, text, "i'd buy", true, ""},
		{"text filter ignores textless packets", []Filter{flt(7, Block, KindRegex, `.*`)}, text, "", true, ""},
		{"disabled filter", []Filter{{ID: 8, Owner: "x", Kind: KindNode, Value: "!a1a1a1a1"}}, text, "hi", true, ""},
		{"allow node, match", []Filter{flt(1, Allow, KindNode, "!a1a1a1a1")}, text, "hi", true, ""},
		{"allow node, other", []Filter{flt(1, Allow, KindNode, "!a1a1a1a1")}, pkt(bob, me, pb.PortNum_TEXT_MESSAGE_APP, 0), "hi", false, "not on the node allow list"},
		{"allow two nodes", []Filter{flt(1, Allow, KindNode, "!a1a1a1a1"), flt(2, Allow, KindNode, "!b0b0b0b0")},
			pkt(bob, me, pb.PortNum_TEXT_MESSAGE_APP, 0), "hi", true, ""},
		{"allow groups AND: port fails", []Filter{flt(1, Allow, KindNode, "!a1a1a1a1"), flt(2, Allow, KindPort, "TEXT_MESSAGE")},
			pkt(alice, me, pb.PortNum_POSITION_APP, 0), "", false, "not on the port allow list"},
		{"allow groups AND: both pass", []Filter{flt(1, Allow, KindNode, "!a1a1a1a1"), flt(2, Allow, KindPort, "TEXT_MESSAGE")},
			text, "hi", true, ""},
		{"allow channel", []Filter{flt(1, Allow, KindChannel, "1")}, text, "hi", false, "not on the channel allow list"},
		{"allow text or regex (one group)", []Filter{flt(1, Allow, KindText, "net"), flt(2, Allow, KindRegex, `^cq\b`)},
			text, "CQ anyone", true, ""},
		{"allow text, miss", []Filter{flt(1, Allow, KindText, "net")}, text, "hello", false, "not on the text allow list"},
		{"allow text leaves textless packets alone", []Filter{flt(1, Allow, KindText, "net")},
			pkt(alice, 1, pb.PortNum_TELEMETRY_APP, 0), "", true, ""},
		{"block beats allow", []Filter{flt(1, Allow, KindNode, "!a1a1a1a1"), flt(2, Block, KindText, "spam")},
			text, "spam", false, `blocked by #2: text "spam"`},
		{"lowest block id named", []Filter{flt(9, Block, KindText, "spam"), flt(4, Block, KindNode, "!a1a1a1a1")},
			text, "spam", false, "blocked by #4: node !a1a1a1a1"},
		{"invalid allow left out", []Filter{flt(1, Allow, KindRegex, "(")}, text, "hi", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := NewSet(c.filters)
			ok, reason := s.Allows(c.p, c.text)
			if ok != c.ok || reason != c.reason {
				t.Fatalf("Allows = %v %q, want %v %q", ok, reason, c.ok, c.reason)
			}
		})
	}
}

func TestNewSetReportsBadFilters(t *testing.T) {
	s, err := NewSet([]Filter{flt(1, Block, KindNode, "!a1a1a1a1"), flt(2, Block, KindRegex, "("), flt(3, Allow, KindPort, "NOPE")})
	if s.Len() != 1 || err == nil || !strings.Contains(err.Error(), "#2") || !strings.Contains(err.Error(), "#3") || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Len %d, err %v", s.Len(), err)
	}
	var nilSet *Set
	if ok, _ := nilSet.Allows(pkt(alice, 1, 1, 0), "x"); !ok || nilSet.Len() != 0 {
		t.Fatal("nil set must allow everything")
	}
	if got := s.String(); got != "#1 block node !a1a1a1a1" {
		t.Fatalf("String = %q", got)
	}
}

func TestSelection(t *testing.T) {
	fs := []Filter{
		{ID: 1, Scope: ScopeRadio, Radio: "base", Owner: "admin"},
		{ID: 2, Scope: ScopeRadio, Radio: "field", Owner: "admin"},
		{ID: 3, Scope: ScopeUser, Radio: "base", Owner: "u1"},
		{ID: 4, Scope: ScopeUser, Radio: "", Owner: "u1"},
		{ID: 5, Scope: ScopeUser, Radio: "field", Owner: "u1"},
		{ID: 6, Scope: ScopeUser, Radio: "base", Owner: "u2"},
	}
	ids := func(fs []Filter) string {
		var s []string
		for _, f := range fs {
			s = append(s, fmt.Sprint(f.ID))
		}
		return strings.Join(s, ",")
	}
	if got := ids(RadioWide(fs, "base")); got != "1" {
		t.Errorf("RadioWide = %s", got)
	}
	if got := ids(Personal(fs, "base", "u1")); got != "3,4" {
		t.Errorf("Personal u1 = %s", got)
	}
	if got := ids(Personal(fs, "base", "u2")); got != "6" {
		t.Errorf("Personal u2 = %s", got)
	}
}

// Two users on one radio: a node one of them blocks disappears from that
// user's view only.
func TestBlockedNodeOnlyHiddenForItsOwner(t *testing.T) {
	fs := []Filter{{ID: 1, Scope: ScopeUser, Owner: "u1", Radio: "base", Kind: KindNode, Value: "!a1a1a1a1", Enabled: true}}
	u1, _ := NewSet(Personal(fs, "base", "u1"))
	u2, _ := NewSet(Personal(fs, "base", "u2"))
	p := pkt(alice, meshtastic.Broadcast, pb.PortNum_TEXT_MESSAGE_APP, 0)
	if ok, _ := u1.Allows(p, "hi"); ok {
		t.Fatal("u1 still sees the blocked node")
	}
	if ok, _ := u2.Allows(p, "hi"); !ok {
		t.Fatal("u2 lost a node u1 blocked")
	}
}

func TestParsePortAndEnums(t *testing.T) {
	for in, want := range map[string]pb.PortNum{"1": pb.PortNum_TEXT_MESSAGE_APP, "text_message": pb.PortNum_TEXT_MESSAGE_APP,
		"TELEMETRY_APP": pb.PortNum_TELEMETRY_APP, " traceroute ": pb.PortNum_TRACEROUTE_APP} {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("ParsePort(%q) = %v %v", in, got, err)
		}
	}
	if m, err := ParseMode("Allow"); err != nil || m != Allow {
		t.Error("ParseMode")
	}
	if k, err := ParseKind("regex"); err != nil || k != KindRegex {
		t.Error("ParseKind")
	}
	if s, err := ParseScope("radio"); err != nil || s != ScopeRadio {
		t.Error("ParseScope")
	}
	if _, err := ParseKind("colour"); !errors.Is(err, ErrInvalid) {
		t.Error("bad kind accepted")
	}
	f := Filter{ID: 3, Scope: ScopeRadio, Owner: "a", Radio: "base", Mode: Allow, Kind: KindPort, Value: "text_message", Enabled: true}
	b, err := json.Marshal(f)
	if err != nil || !strings.Contains(string(b), `"scope":"radio","owner":"a","radio":"base","mode":"allow","kind":"port"`) {
		t.Fatalf("%s %v", b, err)
	}
	var back Filter
	if err := json.Unmarshal(b, &back); err != nil || back != f {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if f.String() != "allow port TEXT_MESSAGE" {
		t.Errorf("String = %q", f.String())
	}
}

func TestCounter(t *testing.T) {
	var c Counter
	s, _ := NewSet([]Filter{flt(1, Block, KindNode, "!a1a1a1a1"), flt(2, Block, KindText, "spam")})
	shown := 0
	for i := range 10 {
		from := bob
		if i%2 == 0 {
			from = alice
		}
		text := "hello"
		if i == 1 {
			text = "spam"
		}
		if c.Count(s.Allows(pkt(from, meshtastic.Broadcast, pb.PortNum_TEXT_MESSAGE_APP, 0), text)) {
			shown++
		}
	}
	got := c.Snapshot()
	if got.Seen != 10 || got.Hidden != 6 || shown != 4 || len(got.Reasons) != 2 ||
		got.Reasons[0] != (ReasonCount{"blocked by #1: node !a1a1a1a1", 5}) || got.Reasons[1].Count != 1 {
		t.Fatalf("counts %+v, shown %d", got, shown)
	}
	for i := range maxReasons + 10 {
		c.Count(false, fmt.Sprint("reason ", i))
	}
	if n := len(c.Snapshot().Reasons); n != maxReasons+1 {
		t.Fatalf("%d distinct reasons kept", n)
	}
	c.Reset()
	if got := c.Snapshot(); got.Seen != 0 || len(got.Reasons) != 0 {
		t.Fatalf("after reset %+v", got)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Count(false, "x")
				_ = c.Snapshot()
			}
		})
	}
	wg.Wait()
	if c.Snapshot().Hidden != 4000 {
		t.Fatal("lost counts under concurrency")
	}
}
