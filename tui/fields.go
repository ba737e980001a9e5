package tui

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// field is one decoded protobuf field, flattened: "decoded.portnum".
type field struct{ name, value string }

// secret fields are never shown, set or not.
func secret(name protoreflect.Name) bool {
	switch name {
	case "password", "psk", "private_key", "session_passkey":
		return true
	}
	return false
}

// fields lists every populated field of msg in declaration order. It walks
// the message by reflection rather than printing JSON: the JSON encoder
// varies its spacing on purpose, and a terminal wants one field a line.
func fields(msg proto.Message) []field {
	if msg == nil {
		return nil
	}
	var out []field
	walk(msg.ProtoReflect(), "", &out)
	return out
}

func walk(m protoreflect.Message, prefix string, out *[]field) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if !m.Has(fd) {
			continue
		}
		name := prefix + string(fd.Name())
		v := m.Get(fd)
		switch {
		case secret(fd.Name()):
			*out = append(*out, field{name, "(hidden)"})
		case fd.IsList():
			l := v.List()
			for j := range l.Len() {
				item := fmt.Sprintf("%s[%d]", name, j)
				if fd.Kind() == protoreflect.MessageKind {
					walk(l.Get(j).Message(), item+".", out)
				} else {
					*out = append(*out, field{item, scalar(fd, l.Get(j))})
				}
			}
		case fd.IsMap():
			*out = append(*out, field{name, fmt.Sprintf("(%d entries)", v.Map().Len())})
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			walk(v.Message(), name+".", out)
		default:
			*out = append(*out, field{name, scalar(fd, v)})
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.BytesKind:
		b := v.Bytes()
		s := hex.EncodeToString(b[:min(len(b), 24)])
		if len(b) > 24 {
			s += "…"
		}
		return fmt.Sprintf("%s (%d bytes)", s, len(b))
	case protoreflect.StringKind:
		return strconv.Quote(clean(v.String()))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case protoreflect.Fixed32Kind:
		// Node numbers travel as fixed32: show them the way users know them.
		return fmt.Sprintf("%d (!%08x)", v.Uint(), v.Uint())
	}
	return v.String()
}

// payloadOf decodes a packet's payload for the ports that carry a
// protobuf; nil when it is text, unknown or undecodable.
func payloadOf(d *pb.Data) proto.Message {
	var msg proto.Message
	switch d.GetPortnum() {
	case pb.PortNum_POSITION_APP:
		msg = &pb.Position{}
	case pb.PortNum_NODEINFO_APP:
		msg = &pb.User{}
	case pb.PortNum_ROUTING_APP:
		msg = &pb.Routing{}
	case pb.PortNum_ADMIN_APP:
		msg = &pb.AdminMessage{}
	case pb.PortNum_WAYPOINT_APP:
		msg = &pb.Waypoint{}
	case pb.PortNum_TELEMETRY_APP:
		msg = &pb.Telemetry{}
	case pb.PortNum_TRACEROUTE_APP:
		msg = &pb.RouteDiscovery{}
	case pb.PortNum_NEIGHBORINFO_APP:
		msg = &pb.NeighborInfo{}
	case pb.PortNum_MAP_REPORT_APP:
		msg = &pb.MapReport{}
	default:
		return nil
	}
	if proto.Unmarshal(d.GetPayload(), msg) != nil {
		return nil
	}
	return msg
}
