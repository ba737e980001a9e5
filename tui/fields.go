package tui

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/meshtastic"
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
// name, when set, names node numbers ("Jun's Solar").
func fields(msg proto.Message, name func(uint32) string) []field {
	if msg == nil {
		return nil
	}
	w := walker{name: name}
	w.walk(msg.ProtoReflect(), "")
	return w.out
}

// A number means what its field says: the schemas carry node numbers,
// the last byte of one, packet ids and Unix times all as plain integers.
type meaning int

const (
	plain    meaning = iota
	nodeNum          // a node number, shown as its !id
	nodeByte         // the last byte of a node number (relay_node, next_hop)
	packetID         // a packet id (id, request_id, reply_id)
	unixTime         // seconds since 1970 (rx_time, time, expire)
)

// meanings are the integer fields whose numbers mean more than a count,
// by field name, as the Meshtastic schemas use them.
var meanings = map[protoreflect.Name]meaning{
	"from": nodeNum, "to": nodeNum, "dest": nodeNum, "source": nodeNum, "node_id": nodeNum,
	"node_num": nodeNum, "num": nodeNum, "route": nodeNum, "route_back": nodeNum, "locked_to": nodeNum,
	"last_sent_by_id": nodeNum,
	"relay_node":      nodeByte, "next_hop": nodeByte,
	"id": packetID, "request_id": packetID, "reply_id": packetID,
	"rx_time": unixTime, "time": unixTime, "timestamp": unixTime, "expire": unixTime, "last_heard": unixTime,
}

type walker struct {
	name func(uint32) string
	out  []field
}

func (w *walker) walk(m protoreflect.Message, prefix string) {
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
			w.out = append(w.out, field{name, "(hidden)"})
		case fd.IsList():
			l := v.List()
			for j := range l.Len() {
				item := fmt.Sprintf("%s[%d]", name, j)
				if fd.Kind() == protoreflect.MessageKind {
					w.walk(l.Get(j).Message(), item+".")
				} else {
					w.out = append(w.out, field{item, w.scalar(fd, l.Get(j))})
				}
			}
		case fd.IsMap():
			w.out = append(w.out, field{name, fmt.Sprintf("(%d entries)", v.Map().Len())})
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			w.walk(v.Message(), name+".")
		default:
			w.out = append(w.out, field{name, w.scalar(fd, v)})
		}
	}
}

func (w *walker) scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.Fixed32Kind, protoreflect.Uint32Kind:
		return w.number(meanings[fd.Name()], uint32(v.Uint()))
	}
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
	}
	return v.String()
}

// number shows an unsigned integer as what it means.
func (w *walker) number(what meaning, n uint32) string {
	switch what {
	case nodeNum:
		switch {
		case n == meshtastic.Broadcast:
			return "!ffffffff (broadcast)"
		case w.name != nil:
			if s := w.name(n); s != "" {
				return meshtastic.NodeID(n) + " (" + clean(s) + ")"
			}
		}
		return meshtastic.NodeID(n)
	case nodeByte:
		return fmt.Sprintf("0x%02x (last byte of a node number)", n)
	case packetID:
		return fmt.Sprintf("%#08x", n)
	case unixTime:
		if n == 0 {
			return "0"
		}
		return time.Unix(int64(n), 0).UTC().Format("2006-01-02 15:04:05 UTC") + " (" + strconv.FormatUint(uint64(n), 10) + ")"
	}
	return strconv.FormatUint(uint64(n), 10)
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
