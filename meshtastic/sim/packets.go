package sim

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// clientPacketLocked is the firmware's handling of ToRadio.packet
// (PhoneAPI::handleToRadioPacket, then MeshService/Router): duplicate-id
// drop, rate limits with their exact answers, then transmission with a
// QueueStatus, and whatever the mesh answers later.
func (r *Radio) clientPacketLocked(s *session, p *pb.MeshPacket) {
	p = proto.Clone(p).(*pb.MeshPacket)
	// The client's from is meaningless for sending: MeshService turns it
	// into 0 ("local") and it becomes our number on the air. But the rate
	// limits of PhoneAPI::handleToRadioPacket run before that, and the text
	// limit's refusal is addressed to the from the client gave.
	clientFrom := p.From
	p.From = 0
	p.NextHop, p.RelayNode = 0, 0
	if p.Id != 0 && s.seenRecentlyLocked(p.Id) {
		r.stats.duplicates.Add(1)
		r.log.Debug("sim: dropping client packet with a recently used id", "id", p.Id)
		return
	}
	d := p.GetDecoded()
	port := d.GetPortnum()
	now := r.now()

	if port == pb.PortNum_TRACEROUTE_APP && p.To == Broadcast && p.HopLimit > 0 {
		r.stats.rateLimited.Add(1)
		r.notifyClientLocked(s, p.Id, pb.LogRecord_WARNING, "Multi-hop traceroute to the broadcast address is not allowed")
		s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(0, p.Id)))
		return
	}
	if limit := r.limitFor(port); limit > 0 {
		if last, ok := s.lastPort[port]; ok && now.Sub(last) < limit {
			r.stats.rateLimited.Add(1)
			switch port {
			case pb.PortNum_TEXT_MESSAGE_APP:
				s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(0, p.Id)))
				r.refuseToLocked(clientFrom, p, pb.Routing_RATE_LIMIT_EXCEEDED)
			case pb.PortNum_TRACEROUTE_APP:
				r.notifyClientLocked(s, p.Id, pb.LogRecord_WARNING,
					fmt.Sprintf("Traceroute can only be sent once every %d seconds", int(limit/time.Second)))
				s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(0, p.Id)))
			default:
				s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(0, p.Id)))
			}
			return
		}
	}
	s.lastPort[port] = now

	if p.Id == 0 {
		p.Id = r.newPacketIDLocked()
	}
	t := uint32(now.Unix())
	p.RxTime = &t
	if port == pb.PortNum_TRACEROUTE_APP && p.To != Broadcast {
		p.WantAck = true
	}
	if p.WantAck && p.HopLimit == 0 {
		p.HopLimit = r.set.hopLimit()
	}
	p.HopLimit = min(p.HopLimit, maxHops)
	p.HopStart = p.HopLimit
	if p.To != Broadcast && p.Channel == 0 && !p.PkiEncrypted {
		// A DM on channel 0 goes out on the channel the peer was heard on.
		if ni := r.db[p.To]; ni != nil {
			p.Channel = ni.Channel
		}
	}
	if reason := r.sendableLocked(p); reason != pb.Routing_NONE {
		// The firmware hands the routing error code back as the send
		// result, so QueueStatus.res carries it too.
		s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(int32(reason), p.Id)))
		r.toPhoneLocked(r.localRoutingLocked(p, reason))
		return
	}
	if r.txFull > 0 {
		// The radio's TX queue is full: RadioLibInterface::send refuses it
		// and MeshService reports ERRNO_UNKNOWN as the QueueStatus result.
		// For want_ack, ReliableRouter::send has already scheduled its
		// retransmissions, which deliver it once the queue drains; anything
		// else is simply lost.
		r.txFull--
		s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(errnoUnknown, p.Id)))
		if !p.WantAck {
			return
		}
		r.stats.clientPackets.Add(1)
		r.routeLocked(s, p)
		return
	}
	// Only the newest few matter for QueueStatus; keep the list short even
	// when a client floods ports that have no rate limit.
	if len(r.txTimes) >= txQueueMax {
		r.txTimes = append(r.txTimes[:0], r.txTimes[1:]...)
	}
	r.txTimes = append(r.txTimes, time.Now())
	s.urgent = append(s.urgent, wrapFromRadio(r.queueStatusLocked(0, p.Id)))
	r.stats.clientPackets.Add(1)
	r.routeLocked(s, p)
}

// routeLocked hands an accepted client packet to its destination.
func (r *Radio) routeLocked(s *session, p *pb.MeshPacket) {
	port := p.GetDecoded().GetPortnum()
	if p.To != r.myNum {
		r.proxyUplinkLocked(p)
	}
	switch p.To {
	case r.myNum:
		if port == pb.PortNum_ADMIN_APP {
			r.adminLocked(s, p)
		}
		// Anything else for ourselves is consumed locally, never echoed.
	case Broadcast:
		r.broadcastLocked(p)
	default:
		r.unicastLocked(p)
	}
}

// refuseToLocked is MeshService::sendRoutingErrorResponse: a NAK from our
// node addressed to the packet's from as the client sent it. Only a client
// that put our own node number there gets it back; for from 0 (left unset)
// the firmware sends the NAK over the air to node 0 and for any other
// number to that node, so the client hears nothing but the QueueStatus
// with res 0 it also gets for an accepted packet.
func (r *Radio) refuseToLocked(to uint32, p *pb.MeshPacket, reason pb.Routing_Error) {
	if to != r.myNum {
		r.log.Debug("sim: refusal addressed away from the client", "to", nodeID(to), "id", p.Id, "reason", reason)
		return
	}
	r.toPhoneLocked(r.localRoutingLocked(p, reason))
}

// errnoUnknown is the firmware's ERRNO_UNKNOWN (MeshTypes.h), the send
// result of a packet the full TX queue refused.
const errnoUnknown = 32

// FillTxQueue makes the next n client packets find the radio's TX queue
// full: their QueueStatus carries res 32 (ERRNO_UNKNOWN). A packet sent
// with want_ack is still delivered, by the retransmissions the firmware
// scheduled before it tried the queue (ReliableRouter::send); any other is
// lost.
func (r *Radio) FillTxQueue(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txFull = n
}

// limitFor is the configured gap for a port, 0 for none.
func (r *Radio) limitFor(port pb.PortNum) time.Duration {
	var d time.Duration
	switch port {
	case pb.PortNum_TEXT_MESSAGE_APP:
		d = r.cfg.Limits.Text
	case pb.PortNum_TRACEROUTE_APP:
		d = r.cfg.Limits.Traceroute
	case pb.PortNum_POSITION_APP, pb.PortNum_TELEMETRY_APP, pb.PortNum_WAYPOINT_APP, pb.PortNum_ALERT_APP:
		d = r.cfg.Limits.Position
	}
	return max(d, 0)
}

func (r *Radio) notifyClientLocked(s *session, replyID uint32, level pb.LogRecord_Level, msg string) {
	n := &pb.ClientNotification{Time: r.nowSecs(), Level: level, Message: msg}
	if replyID != 0 {
		n.ReplyId = &replyID
	}
	s.urgent = append(s.urgent, wrapFromRadio(n))
}

// sendableLocked checks what the firmware checks while encoding: a usable
// channel and an encoded Data that fits the radio frame.
func (r *Radio) sendableLocked(p *pb.MeshPacket) pb.Routing_Error {
	if !r.set.channelUsable(p.Channel) && !p.PkiEncrypted {
		return pb.Routing_NO_CHANNEL
	}
	d := p.GetDecoded()
	if d == nil {
		if len(p.GetEncrypted()) > maxEncodedData {
			return pb.Routing_TOO_LARGE
		}
		return pb.Routing_NONE
	}
	// The firmware always adds the bitfield before encoding.
	enc := proto.Clone(d).(*pb.Data)
	bf := uint32(0)
	enc.Bitfield = &bf
	limit := maxEncodedData
	if r.usesPKILocked(p) {
		limit = maxEncodedPKI
	}
	if proto.Size(enc) > limit {
		return pb.Routing_TOO_LARGE
	}
	return pb.Routing_NONE
}

// usesPKILocked reports whether the firmware would encrypt p with the
// destination's public key: a DM to a known keyed node, on ports other
// than the ones that must stay readable by relays.
func (r *Radio) usesPKILocked(p *pb.MeshPacket) bool {
	if p.PkiEncrypted {
		return true
	}
	if p.To == Broadcast || p.To == r.myNum || r.set.owner.GetIsLicensed() {
		return false
	}
	switch p.GetDecoded().GetPortnum() {
	case pb.PortNum_TRACEROUTE_APP, pb.PortNum_NODEINFO_APP, pb.PortNum_ROUTING_APP, pb.PortNum_POSITION_APP:
		return false
	}
	ni := r.db[p.To]
	return ni != nil && len(ni.GetUser().GetPublicKey()) == 32
}

// localRoutingLocked builds a Routing answer our own node generates for
// the client's packet req (an implicit ack, a nak after retries, a rate
// limit or encoding error): from and to are our own number.
func (r *Radio) localRoutingLocked(req *pb.MeshPacket, reason pb.Routing_Error) *pb.MeshPacket {
	payload, _ := proto.Marshal(&pb.Routing{Variant: &pb.Routing_ErrorReason{ErrorReason: reason}})
	t := r.nowSecs()
	return &pb.MeshPacket{
		From:     r.myNum,
		To:       r.myNum,
		Channel:  req.Channel,
		Id:       r.newPacketIDLocked(),
		RxTime:   &t,
		Priority: pb.MeshPacket_ACK,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum:   pb.PortNum_ROUTING_APP,
			Payload:   payload,
			RequestId: req.Id,
		}},
	}
}

// failDelay is how long the firmware retransmits before giving up.
func (r *Radio) failDelayLocked() time.Duration {
	return r.jitterLocked(10 * r.cfg.AckDelay)
}

// replyDelayLocked is how long an answer from pe takes to come back.
func (r *Radio) replyDelayLocked(base time.Duration, pe *peer) time.Duration {
	d := base * time.Duration(pe.hops+1)
	if pe.viaMQTT {
		d += base / 2
	}
	return r.jitterLocked(d)
}

// laterLocked queues a packet for the client after d.
func (r *Radio) laterLocked(d time.Duration, build func() *pb.MeshPacket) {
	r.afterLocked(d, func() {
		if r.rebooting || r.down {
			return
		}
		if p := build(); p != nil {
			if p.From == r.myNum {
				r.toPhoneLocked(p)
			} else {
				r.receiveLocked(p)
			}
		}
	})
}

// broadcastLocked sends a client broadcast into the mesh. A want_ack
// broadcast gets the implicit ack (a neighbour was heard relaying it) from
// our own node; a zero-hop traceroute is answered by each neighbour that
// runs the module.
func (r *Radio) broadcastLocked(p *pb.MeshPacket) {
	neighbours := r.mesh.neighbours()
	if p.GetDecoded().GetPortnum() == pb.PortNum_TRACEROUTE_APP {
		for _, pe := range neighbours {
			if pe.traces && pe.reachable {
				r.laterLocked(r.replyDelayLocked(r.cfg.TracerouteDelay, pe), func() *pb.MeshPacket {
					return r.tracerouteReplyLocked(p, pe)
				})
			}
		}
	}
	if !p.WantAck {
		return
	}
	if !anyReachable(neighbours) {
		r.laterLocked(r.failDelayLocked(), func() *pb.MeshPacket {
			return r.localRoutingLocked(p, pb.Routing_MAX_RETRANSMIT)
		})
		return
	}
	r.laterLocked(r.jitterLocked(r.cfg.AckDelay), func() *pb.MeshPacket {
		return r.localRoutingLocked(p, pb.Routing_NONE)
	})
}

func anyReachable(ps []*peer) bool {
	for _, p := range ps {
		if p.reachable {
			return true
		}
	}
	return false
}

// unicastLocked sends a client DM. A node that is not in the mesh, is
// unreachable, or lies beyond the packet's hop limit never acks, so the
// firmware gives up with MAX_RETRANSMIT (when an ack was wanted). Requests
// that produce an answer (traceroute, want_response) get only that answer:
// it doubles as the ack.
func (r *Radio) unicastLocked(p *pb.MeshPacket) {
	pe := r.mesh.byNum[p.To]
	if pe == nil || !pe.reachable || uint32(pe.hops) > p.HopLimit {
		if p.WantAck {
			r.laterLocked(r.failDelayLocked(), func() *pb.MeshPacket {
				return r.localRoutingLocked(p, pb.Routing_MAX_RETRANSMIT)
			})
		}
		return
	}
	d := p.GetDecoded()
	port := d.GetPortnum()
	switch {
	case port == pb.PortNum_TRACEROUTE_APP:
		if !pe.traces {
			// Delivered, but nothing there answers: the target's router
			// reports NO_RESPONSE once the request times out.
			r.laterLocked(r.replyDelayLocked(2*r.cfg.TracerouteDelay, pe), func() *pb.MeshPacket {
				return r.peerRoutingLocked(pe, p, pb.Routing_NO_RESPONSE)
			})
			return
		}
		r.laterLocked(r.replyDelayLocked(r.cfg.TracerouteDelay, pe), func() *pb.MeshPacket {
			return r.tracerouteReplyLocked(p, pe)
		})
	case port == pb.PortNum_ADMIN_APP:
		// Remote admin needs our key in the target's admin list, which no
		// simulated node has.
		reason := pb.Routing_NOT_AUTHORIZED
		if p.PkiEncrypted || r.usesPKILocked(p) {
			reason = pb.Routing_ADMIN_PUBLIC_KEY_UNAUTHORIZED
		}
		r.laterLocked(r.replyDelayLocked(r.cfg.AckDelay, pe), func() *pb.MeshPacket {
			return r.peerRoutingLocked(pe, p, reason)
		})
	case d.GetWantResponse() && (port == pb.PortNum_NODEINFO_APP || port == pb.PortNum_POSITION_APP || port == pb.PortNum_TELEMETRY_APP):
		r.laterLocked(r.replyDelayLocked(r.cfg.AckDelay, pe), func() *pb.MeshPacket {
			return r.dataReplyLocked(pe, p)
		})
	default:
		if p.WantAck {
			r.laterLocked(r.replyDelayLocked(r.cfg.AckDelay, pe), func() *pb.MeshPacket {
				return r.peerRoutingLocked(pe, p, pb.Routing_NONE)
			})
		}
		if port == pb.PortNum_TEXT_MESSAGE_APP && pe.chats && r.cfg.TrafficInterval > 0 {
			wait := r.replyDelayLocked(r.cfg.AckDelay, pe) + r.jitterLocked(2*r.cfg.TrafficInterval)
			r.laterLocked(wait, func() *pb.MeshPacket {
				return r.chatReplyLocked(pe, p)
			})
		}
	}
}

// peerRoutingLocked is a Routing packet from pe answering req.
func (r *Radio) peerRoutingLocked(pe *peer, req *pb.MeshPacket, reason pb.Routing_Error) *pb.MeshPacket {
	payload, _ := proto.Marshal(&pb.Routing{Variant: &pb.Routing_ErrorReason{ErrorReason: reason}})
	pkt := r.fromPeerLocked(pe, r.myNum, req.Channel, &pb.Data{
		Portnum:   pb.PortNum_ROUTING_APP,
		Payload:   payload,
		RequestId: req.Id,
	})
	pkt.Priority = pb.MeshPacket_ACK
	return pkt
}

// dataReplyLocked answers a NodeInfo, Position or Telemetry request.
func (r *Radio) dataReplyLocked(pe *peer, req *pb.MeshPacket) *pb.MeshPacket {
	now := r.now()
	var msg proto.Message
	switch req.GetDecoded().GetPortnum() {
	case pb.PortNum_NODEINFO_APP:
		msg = pe.user()
	case pb.PortNum_POSITION_APP:
		if pos := pe.position(now); pos != nil {
			msg = pos
		}
	case pb.PortNum_TELEMETRY_APP:
		msg = &pb.Telemetry{Time: uint32(now.Unix()), Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: pe.metrics(now, r.created)}}
	}
	if msg == nil {
		return r.peerRoutingLocked(pe, req, pb.Routing_NO_RESPONSE)
	}
	payload, _ := proto.Marshal(msg)
	pkt := r.fromPeerLocked(pe, r.myNum, req.Channel, &pb.Data{
		Portnum:   req.GetDecoded().GetPortnum(),
		Payload:   payload,
		RequestId: req.Id,
	})
	pkt.Priority = pb.MeshPacket_RESPONSE
	return pkt
}

// fromPeerLocked builds a packet as our radio receives it from pe: hop
// fields from pe's hop start and distance, SNR/RSSI of the last hop into
// us, via_mqtt and the transport it arrived on.
func (r *Radio) fromPeerLocked(pe *peer, to uint32, channel uint32, data *pb.Data) *pb.MeshPacket {
	t := r.nowSecs()
	p := &pb.MeshPacket{
		From:               pe.num,
		To:                 to,
		Channel:            channel,
		Id:                 r.newPacketIDLocked(),
		RxTime:             &t,
		ViaMqtt:            pe.viaMQTT,
		TransportMechanism: pb.MeshPacket_TRANSPORT_LORA,
	}
	if !pe.noHopInfo {
		bf := uint32(0)
		if pe.okToMQTT {
			bf |= 1
		}
		if data.WantResponse {
			bf |= 2
		}
		data.Bitfield = &bf
		p.HopStart = pe.hopStart
		p.HopLimit = pe.hopStart - uint32(pe.hops)
	} else {
		p.HopLimit = uint32(max(0, 3-pe.hops))
	}
	p.PayloadVariant = &pb.MeshPacket_Decoded{Decoded: data}
	mq := r.set.mqtt()
	if pe.viaMQTT && mq.GetEnabled() && r.set.channels[0].GetSettings().GetDownlinkEnabled() {
		// Our own broker connection delivers it directly: no RF reception.
		p.TransportMechanism = pb.MeshPacket_TRANSPORT_MQTT
		return p
	}
	last := pe.root()
	if last == nil {
		last = pe
	}
	p.RelayNode = last.num & 0xFF
	p.RxSnr = quarter(last.snr + float32(r.rng.NormFloat64()))
	rssi := last.rssi + int32(r.rng.IntN(7)) - 3
	p.RxRssi = &rssi
	return p
}

// quarter rounds an SNR to the 0.25 dB steps radios report.
func quarter(v float32) float32 {
	if v >= 0 {
		return float32(int(v*4+0.5)) / 4
	}
	return float32(int(v*4-0.5)) / 4
}

var chatReplies = []string{
	"Got it, thanks!", "Copy that 👍", "Loud and clear from here", "On my way",
	"Roger, will check", "Hey! Good to hear from you", "73", "Can't talk now, later?",
	"Signal is great today", "Yep, see you there",
}

func (r *Radio) chatReplyLocked(pe *peer, req *pb.MeshPacket) *pb.MeshPacket {
	text := chatReplies[r.rng.IntN(len(chatReplies))]
	pkt := r.fromPeerLocked(pe, r.myNum, req.Channel, &pb.Data{
		Portnum: pb.PortNum_TEXT_MESSAGE_APP,
		Payload: []byte(text),
	})
	if len(pe.pubKey) == 32 {
		pkt.PkiEncrypted = true
		pkt.PublicKey = append([]byte(nil), pe.pubKey...)
		pkt.Channel = 0
	}
	return pkt
}
