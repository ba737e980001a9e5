package meshtastic

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func randUint32() uint32 { return rand.Uint32() }

// unmarshal decodes leniently: strings that are not valid UTF-8 are
// repaired rather than failing the message (see pb.Unmarshal).
func unmarshal(b []byte, m proto.Message) error { return pb.Unmarshal(b, m) }

// Traceroute markers from the firmware: an unknown relay (one that did not
// add itself, e.g. old firmware or an MQTT hop) and an unknown SNR.
const (
	UnknownHop uint32 = 0xFFFFFFFF
	UnknownSNR int32  = -128
)

// Hop is one node on a traced route, with the SNR it received at.
type Hop struct {
	Num      uint32
	Known    bool    // false for a relay that did not identify itself
	SNR      float32 // dB
	SNRKnown bool
}

// Route is a decoded traceroute answer. Towards runs from the first relay
// to the target; Back runs from the first relay on the way back to us.
// Both end with the endpoint, whose entry carries the final SNR.
type Route struct {
	From, To  uint32 // us and the target
	Towards   []Hop
	Back      []Hop
	BackKnown bool // the reply carried a usable return path
	RequestID uint32
	RTT       time.Duration
}

// DecodeRoute turns a traceroute reply packet into a Route. requester is
// our node number; the reply comes from the target.
func DecodeRoute(reply *pb.MeshPacket, requester uint32) (*Route, error) {
	d := reply.GetDecoded()
	if d.GetPortnum() != pb.PortNum_TRACEROUTE_APP {
		return nil, fmt.Errorf("meshtastic: not a traceroute packet (%s)", d.GetPortnum())
	}
	rd := &pb.RouteDiscovery{}
	if err := pb.Unmarshal(d.GetPayload(), rd); err != nil {
		return nil, fmt.Errorf("meshtastic: bad traceroute payload: %w", err)
	}
	r := &Route{From: requester, To: reply.GetFrom(), RequestID: d.GetRequestId()}
	r.Towards = hops(rd.GetRoute(), rd.GetSnrTowards(), reply.GetFrom())
	// The return path is only meaningful when the reply says how far it
	// travelled and the lists line up (firmware before 2.5 lacks both).
	if reply.GetHopStart() != 0 && len(rd.GetSnrBack()) == len(rd.GetRouteBack())+1 {
		r.BackKnown = true
		r.Back = hops(rd.GetRouteBack(), rd.GetSnrBack(), requester)
	}
	return r, nil
}

// hops pairs route entries with SNRs; snrs has one more entry than route
// (the endpoint's own reception). Mismatched lists leave SNRs unknown.
func hops(route []uint32, snrs []int32, end uint32) []Hop {
	all := append(append([]uint32(nil), route...), end)
	aligned := len(snrs) == len(route)+1
	out := make([]Hop, len(all))
	for i, n := range all {
		out[i] = Hop{Num: n, Known: n != UnknownHop}
		if aligned && snrs[i] != UnknownSNR {
			out[i].SNR, out[i].SNRKnown = float32(snrs[i])/4, true
		}
	}
	return out
}

// String renders a route like the reference CLI: "!a --> !b (6.25dB) --> !c (?dB)".
func (r *Route) String() string {
	var b strings.Builder
	line := func(start uint32, hs []Hop) {
		b.WriteString(NodeID(start))
		for _, h := range hs {
			b.WriteString(" --> ")
			if h.Known {
				b.WriteString(NodeID(h.Num))
			} else {
				b.WriteString("?")
			}
			if h.SNRKnown {
				fmt.Fprintf(&b, " (%gdB)", h.SNR)
			} else {
				b.WriteString(" (?dB)")
			}
		}
	}
	line(r.From, r.Towards)
	if r.BackKnown {
		b.WriteString("\n")
		line(r.To, r.Back)
	}
	return b.String()
}

// TraceOptions tune a traceroute.
type TraceOptions struct {
	Channel  uint32
	HopLimit uint32 // 0: the radio's configured hop limit
	// ID is the request's packet id; 0 picks a fresh one.
	ID uint32
}

// Traceroute asks dest for the route to it and back, and waits for the
// reply (bounded by ctx). The radio allows one traceroute per 30 s from the
// client; a faster one fails with an error matching ErrRateLimited. A
// target that never answers fails with ErrNoResponse.
func (c *Client) Traceroute(ctx context.Context, dest uint32, o TraceOptions) (*Route, error) {
	if dest == 0 || dest == Broadcast {
		return nil, fmt.Errorf("meshtastic: traceroute needs one destination node")
	}
	p := &pb.MeshPacket{
		Id:       o.ID,
		To:       dest,
		Channel:  o.Channel,
		WantAck:  true, // the firmware forces it for unicast traceroutes anyway
		HopLimit: c.hopLimit(o.HopLimit),
		Priority: pb.MeshPacket_RELIABLE,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum:      pb.PortNum_TRACEROUTE_APP,
			WantResponse: true,
			// An empty RouteDiscovery encodes to zero bytes.
		}},
	}
	start := c.opts.Now()
	id, err := c.Send(p, pb.PortNum_TRACEROUTE_APP)
	if err != nil {
		return nil, err
	}
	reply, err := c.Wait(ctx, id)
	if err != nil {
		return nil, err
	}
	r, err := DecodeRoute(reply, c.MyNodeNum())
	if err != nil {
		return nil, err
	}
	r.RTT = c.opts.Now().Sub(start)
	return r, nil
}
