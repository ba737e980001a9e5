package radio

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Summary describes a packet's payload in one short line, decoding the
// ports users care about.
func Summary(p *pb.MeshPacket) string {
	d := p.GetDecoded()
	if d == nil {
		return fmt.Sprintf("encrypted, %d bytes", len(p.GetEncrypted()))
	}
	pl := d.GetPayload()
	switch d.GetPortnum() {
	case pb.PortNum_TEXT_MESSAGE_APP:
		if d.GetEmoji() != 0 {
			return fmt.Sprintf("reaction %q to %#08x", string(pl), d.GetReplyId())
		}
		return fmt.Sprintf("%q", string(pl))
	case pb.PortNum_POSITION_APP:
		pos := &pb.Position{}
		if proto.Unmarshal(pl, pos) != nil {
			break
		}
		s := fmt.Sprintf("%.5f, %.5f", float64(pos.GetLatitudeI())/1e7, float64(pos.GetLongitudeI())/1e7)
		if pos.Altitude != nil {
			s += fmt.Sprintf(" alt %dm", pos.GetAltitude())
		}
		return s
	case pb.PortNum_NODEINFO_APP:
		u := &pb.User{}
		if proto.Unmarshal(pl, u) != nil {
			break
		}
		return fmt.Sprintf("%s (%s) %s", u.GetLongName(), u.GetShortName(), u.GetHwModel())
	case pb.PortNum_TELEMETRY_APP:
		t := &pb.Telemetry{}
		if proto.Unmarshal(pl, t) != nil {
			break
		}
		if m := t.GetDeviceMetrics(); m != nil {
			var parts []string
			if m.BatteryLevel != nil {
				parts = append(parts, "battery "+format.Power(m.BatteryLevel))
			}
			if m.Voltage != nil {
				parts = append(parts, fmt.Sprintf("%.2fV", m.GetVoltage()))
			}
			if m.ChannelUtilization != nil {
				parts = append(parts, fmt.Sprintf("chutil %.1f%%", m.GetChannelUtilization()))
			}
			if m.UptimeSeconds != nil {
				parts = append(parts, "up "+format.Duration(time.Duration(m.GetUptimeSeconds())*time.Second))
			}
			return "device: " + strings.Join(parts, ", ")
		}
		if t.GetEnvironmentMetrics() != nil {
			return "environment metrics"
		}
		return "telemetry"
	case pb.PortNum_ROUTING_APP:
		r := &pb.Routing{}
		if proto.Unmarshal(pl, r) != nil {
			break
		}
		if r.GetErrorReason() == pb.Routing_NONE {
			return fmt.Sprintf("ack for %#08x", d.GetRequestId())
		}
		return fmt.Sprintf("%s for %#08x", r.GetErrorReason(), d.GetRequestId())
	case pb.PortNum_TRACEROUTE_APP:
		if d.GetRequestId() == 0 {
			return "traceroute request"
		}
		if r, err := meshtastic.DecodeRoute(p, p.GetTo()); err == nil {
			return "route: " + strings.ReplaceAll(r.String(), "\n", " | ")
		}
	case pb.PortNum_ADMIN_APP:
		return "admin"
	case pb.PortNum_NEIGHBORINFO_APP:
		ni := &pb.NeighborInfo{}
		if proto.Unmarshal(pl, ni) == nil {
			return fmt.Sprintf("%d neighbours", len(ni.GetNeighbors()))
		}
	}
	return fmt.Sprintf("%d bytes", len(pl))
}

// PortName is a packet's port without the _APP suffix ("TEXT_MESSAGE").
func PortName(p *pb.MeshPacket) string {
	if p.GetDecoded() == nil {
		return "ENCRYPTED"
	}
	return strings.TrimSuffix(p.GetDecoded().GetPortnum().String(), "_APP")
}

// PacketJSON is the documented JSON shape of a packet.
type PacketJSON struct {
	Time     time.Time `json:"time"`
	ID       uint32    `json:"id"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Channel  uint32    `json:"channel"`
	Port     string    `json:"port"`
	Summary  string    `json:"summary"`
	SNR      float32   `json:"snr,omitempty"`
	RSSI     int32     `json:"rssi,omitempty"`
	Hops     *uint32   `json:"hops,omitempty"`
	HopStart uint32    `json:"hop_start"`
	HopLimit uint32    `json:"hop_limit"`
	ViaMQTT  bool      `json:"via_mqtt"`
	WantAck  bool      `json:"want_ack,omitempty"`
	ReqID    uint32    `json:"request_id,omitempty"`
}

// JSON returns the packet in its documented JSON shape.
func (p *Packet) JSON() PacketJSON {
	m := p.P
	j := PacketJSON{
		Time: p.At.UTC(), ID: m.GetId(), From: meshtastic.NodeID(m.GetFrom()), To: meshtastic.NodeID(m.GetTo()),
		Channel: m.GetChannel(), Port: PortName(m), Summary: Summary(m), SNR: m.GetRxSnr(), RSSI: m.GetRxRssi(),
		HopStart: m.GetHopStart(), HopLimit: m.GetHopLimit(), WantAck: m.GetWantAck(),
		ViaMQTT: m.GetViaMqtt() || m.GetTransportMechanism() == pb.MeshPacket_TRANSPORT_MQTT,
		ReqID:   m.GetDecoded().GetRequestId(),
	}
	if h, ok := meshtastic.HopsOf(m); ok {
		j.Hops = &h
	}
	return j
}

// ViaMQTT reports whether a packet reached us through an MQTT broker.
func ViaMQTT(p *pb.MeshPacket) bool {
	return p.GetViaMqtt() || p.GetTransportMechanism() == pb.MeshPacket_TRANSPORT_MQTT
}
