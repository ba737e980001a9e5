package meshtastic

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Broadcast is the "to everyone" node number.
const Broadcast uint32 = 0xFFFFFFFF

// NodeID formats a node number the way Meshtastic shows it: "!" and eight
// lowercase hex digits.
func NodeID(num uint32) string { return fmt.Sprintf("!%08x", num) }

// ParseNodeID accepts "!a1b2c3d4", "a1b2c3d4", "0xa1b2c3d4" or a decimal
// node number, and "^all" for broadcast.
func ParseNodeID(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "^all" {
		return Broadcast, nil
	}
	hex := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(s), "!"), "0x")
	if (strings.HasPrefix(s, "!") || strings.HasPrefix(strings.ToLower(s), "0x") || len(hex) == 8) && len(hex) >= 1 && len(hex) <= 8 {
		if n, err := strconv.ParseUint(hex, 16, 32); err == nil {
			return uint32(n), nil
		}
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	return 0, fmt.Errorf("meshtastic: %q is not a node id (want !xxxxxxxx)", s)
}

// Node is what the client knows about one node of the mesh: the radio's
// NodeDB entry, kept current from the packets heard since.
type Node struct {
	Num       uint32
	LongName  string
	ShortName string
	HWModel   pb.HardwareModel
	Role      pb.Config_DeviceConfig_Role
	PublicKey []byte
	Licensed  bool

	LastHeard time.Time
	SNR       float32
	RSSI      int32 // from the last packet heard live; 0 when unknown
	HopsAway  *uint32
	ViaMQTT   bool
	Channel   uint32
	Favorite  bool
	Ignored   bool

	Latitude, Longitude *float64
	Altitude            *int32
	PositionTime        time.Time

	BatteryLevel *uint32 // > 100 means powered
	Voltage      *float32
	ChannelUtil  *float32
	AirUtilTx    *float32
	Uptime       *uint32
}

// ID is the node's "!xxxxxxxx" id.
func (n *Node) ID() string { return NodeID(n.Num) }

// Name is the best human name: long name, else short name, else the id.
func (n *Node) Name() string {
	switch {
	case n.LongName != "":
		return n.LongName
	case n.ShortName != "":
		return n.ShortName
	}
	return n.ID()
}

// Clone returns a copy that shares nothing mutable with n.
func (n *Node) Clone() Node {
	c := *n
	c.PublicKey = append([]byte(nil), n.PublicKey...)
	c.HopsAway = clonePtr(n.HopsAway)
	c.Latitude, c.Longitude, c.Altitude = clonePtr(n.Latitude), clonePtr(n.Longitude), clonePtr(n.Altitude)
	c.BatteryLevel, c.Voltage = clonePtr(n.BatteryLevel), clonePtr(n.Voltage)
	c.ChannelUtil, c.AirUtilTx, c.Uptime = clonePtr(n.ChannelUtil), clonePtr(n.AirUtilTx), clonePtr(n.Uptime)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// nodeJSON is the documented node shape for --json output (snake_case).
type nodeJSON struct {
	ID           string   `json:"id"`
	Num          uint32   `json:"num"`
	LongName     string   `json:"long_name"`
	ShortName    string   `json:"short_name"`
	HWModel      string   `json:"hw_model"`
	Role         string   `json:"role"`
	LastHeard    *string  `json:"last_heard"`
	SNR          float32  `json:"snr"`
	RSSI         *int32   `json:"rssi,omitempty"`
	HopsAway     *uint32  `json:"hops_away"`
	ViaMQTT      bool     `json:"via_mqtt"`
	BatteryLevel *uint32  `json:"battery_level"`
	Voltage      *float32 `json:"voltage,omitempty"`
	Latitude     *float64 `json:"latitude"`
	Longitude    *float64 `json:"longitude"`
	Altitude     *int32   `json:"altitude,omitempty"`
	IsFavorite   bool     `json:"is_favorite,omitempty"`
}

// MarshalJSON writes the node with the field names the gateway documents.
func (n Node) MarshalJSON() ([]byte, error) {
	j := nodeJSON{
		ID: n.ID(), Num: n.Num, LongName: n.LongName, ShortName: n.ShortName,
		HWModel: n.HWModel.String(), Role: n.Role.String(), SNR: n.SNR, HopsAway: n.HopsAway,
		ViaMQTT: n.ViaMQTT, BatteryLevel: n.BatteryLevel, Voltage: n.Voltage,
		Latitude: n.Latitude, Longitude: n.Longitude, Altitude: n.Altitude, IsFavorite: n.Favorite,
	}
	if !n.LastHeard.IsZero() {
		s := n.LastHeard.UTC().Format(time.RFC3339)
		j.LastHeard = &s
	}
	if n.RSSI != 0 {
		j.RSSI = &n.RSSI
	}
	return json.Marshal(j)
}

// nodeFromInfo converts a NodeDB entry from the radio.
func nodeFromInfo(ni *pb.NodeInfo) *Node {
	n := &Node{Num: ni.GetNum()}
	n.applyUser(ni.GetUser())
	if ni.GetLastHeard() != 0 {
		n.LastHeard = time.Unix(int64(ni.GetLastHeard()), 0)
	}
	n.SNR = ni.GetSnr()
	if ni.HopsAway != nil {
		h := ni.GetHopsAway()
		n.HopsAway = &h
	}
	n.ViaMQTT = ni.GetViaMqtt()
	n.Channel = ni.GetChannel()
	n.Favorite = ni.GetIsFavorite()
	n.Ignored = ni.GetIsIgnored()
	if ni.GetPosition() != nil {
		n.applyPosition(ni.GetPosition())
	}
	if ni.GetDeviceMetrics() != nil {
		n.applyMetrics(ni.GetDeviceMetrics())
	}
	return n
}

func (n *Node) applyUser(u *pb.User) {
	if u == nil {
		return
	}
	n.LongName, n.ShortName = u.GetLongName(), u.GetShortName()
	n.HWModel, n.Role = u.GetHwModel(), u.GetRole()
	n.Licensed = u.GetIsLicensed()
	if len(u.GetPublicKey()) > 0 {
		n.PublicKey = append(n.PublicKey[:0], u.GetPublicKey()...)
	}
}

func (n *Node) applyPosition(p *pb.Position) {
	if p.LatitudeI != nil && p.LongitudeI != nil && (p.GetLatitudeI() != 0 || p.GetLongitudeI() != 0) {
		lat, lon := float64(p.GetLatitudeI())/1e7, float64(p.GetLongitudeI())/1e7
		n.Latitude, n.Longitude = &lat, &lon
	}
	if p.Altitude != nil {
		a := p.GetAltitude()
		n.Altitude = &a
	}
	if p.GetTime() != 0 {
		n.PositionTime = time.Unix(int64(p.GetTime()), 0)
	}
}

func (n *Node) applyMetrics(m *pb.DeviceMetrics) {
	if m.BatteryLevel != nil {
		v := m.GetBatteryLevel()
		n.BatteryLevel = &v
	}
	if m.Voltage != nil {
		v := m.GetVoltage()
		n.Voltage = &v
	}
	if m.ChannelUtilization != nil {
		v := m.GetChannelUtilization()
		n.ChannelUtil = &v
	}
	if m.AirUtilTx != nil {
		v := m.GetAirUtilTx()
		n.AirUtilTx = &v
	}
	if m.UptimeSeconds != nil {
		v := m.GetUptimeSeconds()
		n.Uptime = &v
	}
}

// HopsOf returns the hop count a packet travelled, if it can be trusted:
// hop_start must be at least hop_limit, and either hop_start is set or the
// sender's firmware is new enough to set Data.bitfield (2.5+ always does).
func HopsOf(p *pb.MeshPacket) (uint32, bool) {
	start, limit := p.GetHopStart(), p.GetHopLimit()
	if start < limit {
		return 0, false
	}
	if start == 0 && (p.GetDecoded() == nil || p.GetDecoded().Bitfield == nil) {
		return 0, false
	}
	return start - limit, true
}

// heard updates the node from a packet it sent, as the firmware's NodeDB
// does on every decoded packet.
func (n *Node) heard(p *pb.MeshPacket, now time.Time) {
	if p.GetRxTime() != 0 {
		n.LastHeard = time.Unix(int64(p.GetRxTime()), 0)
	} else {
		n.LastHeard = now
	}
	if p.GetRxSnr() != 0 {
		n.SNR = p.GetRxSnr()
	}
	if p.RxRssi != nil || p.GetRxRssi() != 0 {
		n.RSSI = p.GetRxRssi()
	}
	n.ViaMQTT = p.GetViaMqtt()
	n.Channel = p.GetChannel()
	if h, ok := HopsOf(p); ok {
		n.HopsAway = &h
	}
}
