package meshtastic

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func TestParseNodeID(t *testing.T) {
	good := map[string]uint32{
		"!a1b2c3d4": 0xa1b2c3d4, "a1b2c3d4": 0xa1b2c3d4, "0xA1B2C3D4": 0xa1b2c3d4,
		"!00000001": 1, "!1": 1, "305419896": 0x12345678, "^all": Broadcast,
	}
	for in, want := range good {
		got, err := ParseNodeID(in)
		if err != nil || got != want {
			t.Errorf("ParseNodeID(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "!", "!xyz", "!123456789", "bob", "-1"} {
		if _, err := ParseNodeID(in); err == nil {
			t.Errorf("ParseNodeID(%q) accepted", in)
		}
	}
	if NodeID(0xa1b2c3d4) != "!a1b2c3d4" || NodeID(1) != "!00000001" {
		t.Fatal("NodeID format")
	}
}

func TestHopsOf(t *testing.T) {
	bf := uint32(1)
	cases := []struct {
		start, limit uint32
		bitfield     bool
		want         uint32
		ok           bool
	}{
		{3, 1, false, 2, true},
		{3, 3, false, 0, true},
		{0, 0, true, 0, true},   // new firmware, direct neighbour with hop_start 0
		{0, 0, false, 0, false}, // firmware too old to tell
		{2, 3, true, 0, false},  // nonsense: more hops left than started with
	}
	for _, c := range cases {
		d := &pb.Data{}
		if c.bitfield {
			d.Bitfield = &bf
		}
		p := &pb.MeshPacket{HopStart: c.start, HopLimit: c.limit, PayloadVariant: &pb.MeshPacket_Decoded{Decoded: d}}
		got, ok := HopsOf(p)
		if got != c.want || ok != c.ok {
			t.Errorf("HopsOf(start %d, limit %d, bitfield %v) = %d,%v", c.start, c.limit, c.bitfield, got, ok)
		}
	}
}

func TestDecodeRoute(t *testing.T) {
	rd := &pb.RouteDiscovery{
		Route:      []uint32{0x11, UnknownHop},
		SnrTowards: []int32{25, -128, -20},
		RouteBack:  []uint32{0x22},
		SnrBack:    []int32{8, 40},
	}
	payload, _ := proto.Marshal(rd)
	reply := &pb.MeshPacket{From: 0x99, To: 0x01, HopStart: 3, HopLimit: 1,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, Payload: payload, RequestId: 7}}}
	r, err := DecodeRoute(reply, 0x01)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Towards) != 3 || r.Towards[0].SNR != 6.25 || r.Towards[1].Known || r.Towards[1].SNRKnown ||
		r.Towards[2].Num != 0x99 || r.Towards[2].SNR != -5 {
		t.Fatalf("towards: %+v", r.Towards)
	}
	if !r.BackKnown || len(r.Back) != 2 || r.Back[1].Num != 0x01 || r.Back[1].SNR != 10 {
		t.Fatalf("back: %+v", r.Back)
	}
	want := "!00000001 --> !00000011 (6.25dB) --> ? (?dB) --> !00000099 (-5dB)\n!00000099 --> !00000022 (2dB) --> !00000001 (10dB)"
	if r.String() != want {
		t.Fatalf("String:\n%s\nwant\n%s", r, want)
	}
	// Misaligned SNR lists: hops kept, SNRs unknown; no hop_start: no return path.
	rd.SnrTowards = rd.SnrTowards[:1]
	payload, _ = proto.Marshal(rd)
	reply.HopStart = 0
	reply.GetDecoded().Payload = payload
	r, _ = DecodeRoute(reply, 1)
	if r.Towards[0].SNRKnown || r.BackKnown {
		t.Fatalf("misaligned: %+v", r)
	}
}

func TestNodeJSON(t *testing.T) {
	bat, hops := uint32(87), uint32(2)
	lat, lon := 52.5, 13.4
	n := Node{Num: 0xa1b2c3d4, LongName: "Base", ShortName: "BASE", HWModel: pb.HardwareModel_HELTEC_V3,
		LastHeard: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), SNR: 6.5, HopsAway: &hops, BatteryLevel: &bat,
		Latitude: &lat, Longitude: &lon, ViaMQTT: true}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, want := range map[string]any{"id": "!a1b2c3d4", "num": float64(0xa1b2c3d4), "long_name": "Base",
		"short_name": "BASE", "hw_model": "HELTEC_V3", "last_heard": "2026-01-02T03:04:05Z", "snr": 6.5,
		"hops_away": float64(2), "via_mqtt": true, "battery_level": float64(87), "latitude": 52.5, "longitude": 13.4} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	b, _ = json.Marshal(Node{Num: 1})
	if !strings.Contains(string(b), `"hops_away":null`) || !strings.Contains(string(b), `"last_heard":null`) {
		t.Errorf("unknown values should be null: %s", b)
	}
}

func TestRoutingErrorIs(t *testing.T) {
	err := error(&RoutingError{Reason: pb.Routing_RATE_LIMIT_EXCEEDED})
	if !errors.Is(err, ErrRateLimited) || !errors.Is(err, ErrNotDelivered) || errors.Is(err, ErrNoResponse) {
		t.Fatal("rate limit mapping")
	}
	if !errors.Is(&RoutingError{Reason: pb.Routing_NO_RESPONSE}, ErrNoResponse) {
		t.Fatal("no response mapping")
	}
	if !errors.Is(&NotificationError{Limited: true}, ErrRateLimited) {
		t.Fatal("notification mapping")
	}
}

func TestMaxTextBytes(t *testing.T) {
	if MaxTextBytes(false, false) != 232 || MaxTextBytes(true, true) != 215 {
		t.Fatal("text limits")
	}
}
