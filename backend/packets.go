package backend

import (
	"context"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/store"
)

// Packet is one packet a radio heard, decoded to one line.
type Packet struct {
	Radio   string    `json:"radio"`
	At      time.Time `json:"time"`
	ID      uint32    `json:"id"`
	From    string    `json:"from"`
	FromNum uint32    `json:"from_num"`
	To      string    `json:"to"`
	ToNum   uint32    `json:"to_num"`
	Channel uint32    `json:"channel"`
	Port    string    `json:"port"`
	Summary string    `json:"summary"`
	SNR     *float32  `json:"snr"`
	RSSI    *int32    `json:"rssi"`
	Hops    *uint32   `json:"hops"`
	// HopStart and HopLimit are null for stored packets (not kept).
	HopStart *uint32 `json:"hop_start"`
	HopLimit *uint32 `json:"hop_limit"`
	ViaMQTT  bool    `json:"via_mqtt"`
	WantAck  bool    `json:"want_ack"`
	// RequestID is the packet this one answers (0 for none).
	RequestID uint32 `json:"request_id"`
}

func u32(v uint32) *uint32 { return &v }

func viaMQTT(p *pb.MeshPacket) bool { return radio.ViaMQTT(p) }

// PacketOf converts a packet the radio heard.
func PacketOf(radioName string, p *radio.Packet) Packet {
	m := p.P
	out := Packet{Radio: radioName, At: utc(p.At), ID: m.GetId(), From: meshtastic.NodeID(m.GetFrom()), FromNum: m.GetFrom(),
		To: meshtastic.NodeID(m.GetTo()), ToNum: m.GetTo(), Channel: m.GetChannel(), Port: radio.PortName(m),
		Summary: radio.Summary(m), SNR: snrPtr(m.GetRxSnr()), RSSI: rssiPtr(m.GetRxRssi()), HopStart: u32(m.GetHopStart()),
		HopLimit: u32(m.GetHopLimit()), ViaMQTT: viaMQTT(m), WantAck: m.GetWantAck(), RequestID: m.GetDecoded().GetRequestId()}
	if h, ok := meshtastic.HopsOf(m); ok {
		out.Hops = &h
	}
	return out
}

// PacketList is a radio's recent packets as the caller sees them.
type PacketList struct {
	Radio   string   `json:"radio"`
	Packets []Packet `json:"packets"`
	Hidden  int      `json:"hidden"`
}

// Packets lists the newest packets the radio heard (limit 0: the default
// of 50), oldest first, through the caller's personal filters.
func (b *Backend) Packets(ctx context.Context, c Caller, radioName string, limit int) (PacketList, error) {
	br, limit, personal, err := b.live(ctx, c, OpPackets, radioName, limit)
	if err != nil {
		return PacketList{}, err
	}
	out := PacketList{Radio: br.Name(), Packets: []Packet{}}
	for _, p := range br.RecentPackets(limit) {
		if ok, _ := personal.AllowsPacket(p.P); !ok {
			out.Hidden++
			continue
		}
		out.Packets = append(out.Packets, PacketOf(br.Name(), p))
	}
	return out, nil
}

// Follow is a live stream of a radio's events for one caller.
type Follow struct {
	b       *Backend
	br      *radio.Broker
	sub     *radio.Subscription
	visible func(*pb.MeshPacket) bool
}

// Follow subscribes the caller to a radio's live packets, waiting
// (bounded) for the link. Close it when done.
func (b *Backend) Follow(ctx context.Context, c Caller, radioName string, wait time.Duration) (*Follow, error) {
	if err := Allowed(c.Identity, OpPackets, "", ""); err != nil {
		return nil, err
	}
	br, err := b.radio(c, radioName)
	if err != nil {
		return nil, err
	}
	personal := b.personalFilters(ctx, c, br.Name(), nil)
	// The follower's own subscription keeps the radio wanted while it
	// waits for the link; a second one would count it twice among the
	// radio's users.
	sub := br.Subscribe(c.SessionID())
	bind(c, br)
	if err := b.awaitLink(ctx, br, wait); err != nil {
		sub.Close()
		return nil, err
	}
	return &Follow{b: b, br: br, sub: sub, visible: func(p *pb.MeshPacket) bool {
		ok, _ := personal.AllowsPacket(p)
		return ok
	}}, nil
}

// Radio is the followed radio's name.
func (f *Follow) Radio() string { return f.br.Name() }

// Events delivers the radio's events; Visible says whether a packet passes
// the caller's filters.
func (f *Follow) Events() <-chan *radio.Event { return f.sub.Events() }

// Visible reports whether the caller's filters let p through.
func (f *Follow) Visible(p *pb.MeshPacket) bool { return f.visible(p) }

// View is the radio's current shared view (node names for text output).
func (f *Follow) View() *radio.View { return f.br.View() }

// Close ends the stream.
func (f *Follow) Close() {
	f.sub.Close()
}

// PacketHistory lists the radio's stored packet summaries, from before
// the gateway restarted too, oldest first, through the caller's personal
// filters. Stored packets keep their summary, not the whole packet:
// hop_start and hop_limit are null, want_ack and request_id 0.
func (b *Backend) PacketHistory(ctx context.Context, c Caller, radioName string, limit int) (PacketList, error) {
	db, br, limit, err := b.stored(c, OpPackets, radioName, limit)
	if err != nil {
		return PacketList{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	rows, err := db.Packets(dctx, br.Name(), store.Page{Limit: limit})
	if err != nil {
		return PacketList{}, failed(err)
	}
	personal := b.personalFilters(ctx, c, br.Name(), nil)
	out := PacketList{Radio: br.Name(), Packets: []Packet{}}
	for _, p := range rows {
		pkt := &pb.MeshPacket{From: p.From, To: p.To, Channel: p.Channel, ViaMqtt: p.ViaMQTT,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum(p.PortNum)}}}
		if ok, _ := personal.Allows(pkt, ""); !ok {
			out.Hidden++
			continue
		}
		out.Packets = append(out.Packets, Packet{Radio: p.Radio, At: utc(p.At), ID: p.ID, From: meshtastic.NodeID(p.From),
			FromNum: p.From, To: meshtastic.NodeID(p.To), ToNum: p.To, Channel: p.Channel, Port: p.Port, Summary: p.Summary,
			SNR: snrPtr(p.SNR), RSSI: rssiPtr(p.RSSI), Hops: p.Hops, ViaMQTT: p.ViaMQTT})
	}
	return out, nil
}
