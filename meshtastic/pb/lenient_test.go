package pb

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// brokenUser encodes a User whose short_name is "T01\xe0", as firmware
// 2.6.8-2.7.1 sent it.
func brokenUser(t *testing.T) []byte {
	t.Helper()
	b, err := proto.Marshal(&User{Id: "!12345678", LongName: "Trail 01", HwModel: HardwareModel_RAK4631})
	if err != nil {
		t.Fatal(err)
	}
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendBytes(b, []byte("T01\xe0"))
}

func TestUnmarshalRepairsNames(t *testing.T) {
	raw := brokenUser(t)
	if err := proto.Unmarshal(raw, &User{}); err == nil {
		t.Fatal("protobuf-go accepted invalid UTF-8; the lenient path is untested")
	}
	u := &User{}
	if err := Unmarshal(raw, u); err != nil {
		t.Fatal(err)
	}
	if u.ShortName != "T01\uFFFD" || u.LongName != "Trail 01" || u.HwModel != HardwareModel_RAK4631 {
		t.Fatalf("repaired user %v", u)
	}

	// Nested: a NodeInfo inside a FromRadio frame.
	ni := protowire.AppendTag(nil, 1, protowire.VarintType)
	ni = protowire.AppendVarint(ni, 0x12345678)
	ni = protowire.AppendTag(ni, 2, protowire.BytesType)
	ni = protowire.AppendBytes(ni, raw)
	fr := protowire.AppendTag(nil, 4, protowire.BytesType)
	fr = protowire.AppendBytes(fr, ni)
	m := &FromRadio{}
	if err := Unmarshal(fr, m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetNodeInfo(); got.GetNum() != 0x12345678 || got.GetUser().GetShortName() != "T01\uFFFD" {
		t.Fatalf("repaired frame %v", m)
	}

	// Garbage stays an error.
	if err := Unmarshal([]byte{0x22, 0x05, 0x01}, &FromRadio{}); err == nil {
		t.Fatal("truncated frame accepted")
	}
}
