package tui

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// The inspector shows each number as what it is: node fields as !ids
// (named when known), relay_node and next_hop as the last byte they are,
// times as times, packet ids in hex; other numbers stay numbers.
func TestFieldMeanings(t *testing.T) {
	pk := &pb.MeshPacket{From: 0x0badcafe, To: 0xFFFFFFFF, Id: 0x1001, RxTime: proto.Uint32(1741964966), RelayNode: 0x7e,
		NextHop: 0xfe, HopLimit: 2, HopStart: 3, Channel: 1,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, RequestId: 0xabc, WantResponse: true}}}
	named := func(n uint32) string {
		if n == 0x0badcafe {
			return "Jun's Solar"
		}
		return ""
	}
	got := map[string]string{}
	for _, f := range fields(pk, named) {
		got[f.name] = f.value
	}
	want := map[string]string{
		"from":               "!0badcafe (Jun's Solar)",
		"to":                 "!ffffffff (broadcast)",
		"id":                 "0x00001001",
		"rx_time":            "2025-03-14 15:09:26 UTC (1741964966)",
		"relay_node":         "0x7e (last byte of a node number)",
		"next_hop":           "0xfe (last byte of a node number)",
		"hop_limit":          "2",
		"hop_start":          "3",
		"channel":            "1",
		"decoded.request_id": "0x00000abc",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	rd, _ := proto.Marshal(&pb.RouteDiscovery{Route: []uint32{0x11223344}, SnrTowards: []int32{24}})
	var route []field
	if pl := payloadOf(&pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, Payload: rd}); pl != nil {
		route = fields(pl, nil)
	}
	if len(route) != 2 || route[0].value != "!11223344" || route[1].value != "24" {
		t.Errorf("a route lists node ids and SNRs as numbers: %v", route)
	}
}
