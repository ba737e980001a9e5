package responder

import (
	"strconv"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Incoming is a received text message as the engine needs to see it.
// NewIncoming fills one from a packet and the NodeDB; tests and the "try a
// rule" screen build them by hand.
type Incoming struct {
	Radio    string // the radio that heard it
	PacketID uint32 // the packet's id (with From, identifies the packet)
	From     uint32 // sender's node number
	To       uint32 // meshtastic.Broadcast or a node number
	MyNode   uint32 // the radio's own node number
	Channel  uint32 // channel index it came on
	Text     string // the message; empty for non-text packets and reactions

	ViaMQTT bool    // reached us through an MQTT broker
	Hops    *uint32 // hops travelled; nil when unknown
	SNR     float32 // dB; meaningless via MQTT
	RSSI    int32   // dBm; 0 when unknown

	// SenderKnown is set when the radio has the sender's NodeInfo (a name);
	// a sender without one is never answered, as we cannot tell a real user
	// from noise or a spoofed node number.
	SenderKnown bool
	SenderLong  string
	SenderShort string

	MyLong  string
	MyShort string
}

// NewIncoming describes packet p heard on radio. self is the radio's own
// node; sender is the sender's NodeDB entry, nil when the radio has none.
// Only plain text messages carry Text: other ports and emoji reactions get
// an empty Text, which the engine never answers.
func NewIncoming(radio string, p *pb.MeshPacket, self meshtastic.Node, sender *meshtastic.Node) Incoming {
	in := Incoming{
		Radio: radio, PacketID: p.GetId(), From: p.GetFrom(), To: p.GetTo(), MyNode: self.Num,
		Channel: p.GetChannel(), SNR: p.GetRxSnr(), RSSI: p.GetRxRssi(),
		ViaMQTT: p.GetViaMqtt() || p.GetTransportMechanism() == pb.MeshPacket_TRANSPORT_MQTT,
		MyLong:  self.LongName, MyShort: self.ShortName,
	}
	if d := p.GetDecoded(); d.GetPortnum() == pb.PortNum_TEXT_MESSAGE_APP && d.GetEmoji() == 0 {
		in.Text = string(d.GetPayload())
	}
	if h, ok := meshtastic.HopsOf(p); ok {
		in.Hops = &h
	}
	if sender != nil && (sender.LongName != "" || sender.ShortName != "") {
		in.SenderKnown = true
		in.SenderLong, in.SenderShort = sender.LongName, sender.ShortName
	}
	return in
}

// Direct reports whether the message was addressed to one node rather
// than broadcast on its channel.
func (in *Incoming) Direct() bool { return in.To != meshtastic.Broadcast }

// unknownValue renders a value the message does not carry.
const unknownValue = "?"

// variable returns the value of one rule template variable.
func (in *Incoming) variable(name string, now time.Time) (string, bool) {
	switch name {
	case "sender_name":
		return firstOf(in.SenderLong, in.SenderShort, meshtastic.NodeID(in.From)), true
	case "sender_short":
		// The firmware's default short name is the id's last four digits.
		return firstOf(in.SenderShort, meshtastic.NodeID(in.From)[5:]), true
	case "sender_id":
		return meshtastic.NodeID(in.From), true
	case "my_name":
		return firstOf(in.MyLong, in.MyShort, meshtastic.NodeID(in.MyNode)), true
	case "my_id":
		return meshtastic.NodeID(in.MyNode), true
	case "message":
		return in.Text, true
	case "message_type":
		if in.Direct() {
			return "direct", true
		}
		return "broadcast", true
	case "source_type":
		if in.ViaMQTT {
			return "MQTT", true
		}
		return "RF", true
	case "hops":
		if in.Hops == nil {
			return unknownValue, true
		}
		return strconv.FormatUint(uint64(*in.Hops), 10), true
	case "snr":
		// MQTT carries no radio measurements; an RF SNR of exactly 0 dB is real.
		if in.ViaMQTT {
			return unknownValue, true
		}
		return strconv.FormatFloat(float64(in.SNR), 'f', -1, 32), true
	case "rssi":
		if in.ViaMQTT || in.RSSI == 0 {
			return unknownValue, true
		}
		return strconv.FormatInt(int64(in.RSSI), 10), true
	case "time":
		return now.Format("15:04"), true
	}
	return "", false
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
