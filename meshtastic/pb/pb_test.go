package pb_test

import (
	"bytes"
	"encoding/hex"
	"sort"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/meshtastic/pb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// unhex turns "94 C3 00 03" into bytes.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// frame wraps a serialized ToRadio the way the stream API does: 0x94 0xC3, big-endian length, payload.
func frame(payload []byte) []byte {
	return append([]byte{0x94, 0xC3, byte(len(payload) >> 8), byte(len(payload))}, payload...)
}

// canonical re-emits an encoded message with its fields sorted by field number,
// recursing into sub-messages. protobuf-go writes oneof members after the other
// fields, while the protocol document lists bytes in field-number order; both are
// valid encodings of the same message, and this makes them comparable byte for byte.
func canonical(t *testing.T, md protoreflect.MessageDescriptor, b []byte) []byte {
	t.Helper()
	type rec struct {
		num protowire.Number
		raw []byte
	}
	var recs []rec
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: bad tag: %v", md.FullName(), protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			t.Fatalf("%s: bad value for field %d: %v", md.FullName(), num, protowire.ParseError(m))
		}
		raw := b[:n+m]
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Kind() == protoreflect.MessageKind && typ == protowire.BytesType {
			inner, _ := protowire.ConsumeBytes(b[n:])
			sub := canonical(t, fd.Message(), inner)
			raw = protowire.AppendBytes(protowire.AppendTag(nil, num, typ), sub)
		}
		recs = append(recs, rec{num, raw})
		b = b[n+m:]
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].num < recs[j].num })
	var out []byte
	for _, r := range recs {
		out = append(out, r.raw...)
	}
	return out
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %T: %v", m, err)
	}
	return b
}

// Worked byte examples from the protocol document, section 9.
func TestWorkedExamples(t *testing.T) {
	adminLora := mustMarshal(t, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: pb.AdminMessage_LORA_CONFIG},
	})

	cases := []struct {
		name string
		msg  *pb.ToRadio
		want string // full frame
	}{
		{
			name: "want_config_id=12345",
			msg:  &pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 12345}},
			want: "94 C3 00 03 18 B9 60",
		},
		{
			name: "want_config_id=69420",
			msg:  &pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 69420}},
			want: "94 C3 00 04 18 AC 9E 04",
		},
		{
			name: "heartbeat{}",
			msg:  &pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}},
			want: "94 C3 00 02 3A 00",
		},
		{
			name: "disconnect=true",
			msg:  &pb.ToRadio{PayloadVariant: &pb.ToRadio_Disconnect{Disconnect: true}},
			want: "94 C3 00 02 20 01",
		},
		{
			name: "text hi to broadcast",
			msg: &pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: &pb.MeshPacket{
				To:       0xFFFFFFFF,
				Channel:  0,
				Id:       0x12345678,
				HopLimit: 3,
				PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
					Portnum: pb.PortNum_TEXT_MESSAGE_APP,
					Payload: []byte("hi"),
				}},
			}}},
			want: "94 C3 00 16 0A 14 15 FF FF FF FF 22 06 08 01 12 02 68 69 35 78 56 34 12 48 03",
		},
		{
			name: "admin get_config_request=LORA_CONFIG to self",
			msg: &pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: &pb.MeshPacket{
				To:       0x1234ABCD,
				Id:       0x42,
				HopLimit: 3,
				WantAck:  true,
				PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
					Portnum:      pb.PortNum_ADMIN_APP,
					Payload:      adminLora,
					WantResponse: true,
				}},
			}}},
			want: "94 C3 00 1A 0A 18 15 CD AB 34 12 22 08 08 06 12 02 28 05 18 01 35 42 00 00 00 48 03 50 01",
		},
	}

	md := (&pb.ToRadio{}).ProtoReflect().Descriptor()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.want)
			got := frame(canonical(t, md, mustMarshal(t, tc.msg)))
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding mismatch\n got % X\nwant % X", got, want)
			}

			// The document's bytes must decode to exactly the same message, with no unknown fields.
			var back pb.ToRadio
			if err := proto.Unmarshal(want[4:], &back); err != nil {
				t.Fatalf("unmarshal document bytes: %v", err)
			}
			if !proto.Equal(&back, tc.msg) {
				t.Fatalf("document bytes decode to %v, want %v", &back, tc.msg)
			}
		})
	}
}

// A oneof member holding the zero enum value must still be written (section 9 and section 10, item 8).
func TestAdminZeroValuedOneofIsEncoded(t *testing.T) {
	cases := []struct {
		name string
		msg  *pb.AdminMessage
		want string
	}{
		{
			name: "get_config_request=DEVICE_CONFIG",
			msg:  &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: pb.AdminMessage_DEVICE_CONFIG}},
			want: "28 00",
		},
		{
			name: "get_module_config_request=MQTT_CONFIG",
			msg:  &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetModuleConfigRequest{GetModuleConfigRequest: pb.AdminMessage_MQTT_CONFIG}},
			want: "38 00",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustMarshal(t, tc.msg)
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("got % X, want % X", got, want)
			}
		})
	}
}

// Config oneof tag = ConfigType + 1 and ModuleConfig oneof tag = ModuleConfigType + 1 (section 3.18).
func TestConfigTypeMapping(t *testing.T) {
	check := func(t *testing.T, enum protoreflect.EnumDescriptor, msg protoreflect.MessageDescriptor) {
		t.Helper()
		oneof := msg.Oneofs().ByName("payload_variant")
		if oneof == nil {
			t.Fatalf("%s has no payload_variant oneof", msg.FullName())
		}
		if enum.Values().Len() != oneof.Fields().Len() {
			t.Errorf("%s has %d values but %s.payload_variant has %d members",
				enum.FullName(), enum.Values().Len(), msg.FullName(), oneof.Fields().Len())
		}
		for i := 0; i < enum.Values().Len(); i++ {
			v := enum.Values().Get(i)
			fd := msg.Fields().ByNumber(protowire.Number(v.Number() + 1))
			if fd == nil || fd.ContainingOneof() != oneof {
				t.Errorf("%s=%d has no %s.payload_variant member with tag %d", v.Name(), v.Number(), msg.FullName(), v.Number()+1)
			}
		}
	}
	check(t, pb.AdminMessage_DEVICE_CONFIG.Descriptor(), (&pb.Config{}).ProtoReflect().Descriptor())
	check(t, pb.AdminMessage_MQTT_CONFIG.Descriptor(), (&pb.ModuleConfig{}).ProtoReflect().Descriptor())
}

// Wire tags the document lists for MeshPacket (section 3.3).
func TestMeshPacketWireTags(t *testing.T) {
	md := (&pb.MeshPacket{}).ProtoReflect().Descriptor()
	want := map[protoreflect.Name]byte{
		"from": 0x0D, "to": 0x15, "channel": 0x18, "decoded": 0x22, "encrypted": 0x2A,
		"id": 0x35, "rx_time": 0x3D, "rx_snr": 0x45, "hop_limit": 0x48, "want_ack": 0x50,
		"priority": 0x58, "rx_rssi": 0x60, "via_mqtt": 0x70, "hop_start": 0x78,
	}
	wireType := map[protoreflect.Kind]protowire.Type{
		protoreflect.Fixed32Kind: protowire.Fixed32Type, protoreflect.FloatKind: protowire.Fixed32Type,
		protoreflect.Uint32Kind: protowire.VarintType, protoreflect.Int32Kind: protowire.VarintType,
		protoreflect.BoolKind: protowire.VarintType, protoreflect.EnumKind: protowire.VarintType,
		protoreflect.MessageKind: protowire.BytesType, protoreflect.BytesKind: protowire.BytesType,
	}
	for name, tag := range want {
		fd := md.Fields().ByName(name)
		if fd == nil {
			t.Errorf("MeshPacket.%s missing", name)
			continue
		}
		wt, ok := wireType[fd.Kind()]
		if !ok {
			t.Errorf("MeshPacket.%s: unexpected kind %v", name, fd.Kind())
			continue
		}
		if got := protowire.AppendTag(nil, fd.Number(), wt); len(got) != 1 || got[0] != tag {
			t.Errorf("MeshPacket.%s: tag % X, want %02X", name, got, tag)
		}
	}
}
