package meshtastic

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// handle applies one FromRadio message. Variants we have no use for are
// counted and skipped; unknown ones arrive as nil payloads and are skipped
// the same way, which is what keeps us compatible with newer firmware.
func (c *Client) handle(msg *pb.FromRadio) {
	now := c.opts.Now()
	switch v := msg.GetPayloadVariant().(type) {
	case *pb.FromRadio_MyInfo:
		c.withTarget(func(st *radioState) {
			st.myInfo = v.MyInfo
			st.myNum = v.MyInfo.GetMyNodeNum()
		})
	case *pb.FromRadio_NodeInfo:
		n := nodeFromInfo(v.NodeInfo)
		live := c.withTarget(func(st *radioState) {
			if old, ok := st.nodes[n.Num]; ok && n.RSSI == 0 {
				n.RSSI = old.RSSI
			}
			st.nodes[n.Num] = n
		})
		if live {
			cp := n.Clone()
			c.emit(Event{Kind: EventNode, Time: now, Node: &cp})
		}
	case *pb.FromRadio_Metadata:
		c.withTarget(func(st *radioState) { st.metadata = v.Metadata })
	case *pb.FromRadio_Channel:
		c.applyConfig(now, func(st *radioState) {
			if i := v.Channel.GetIndex(); i >= 0 && int(i) < len(st.channels) {
				st.channels[i] = v.Channel
			}
		})
	case *pb.FromRadio_Config:
		c.applyConfig(now, func(st *radioState) {
			if t, ok := configType(v.Config); ok {
				st.config[t] = v.Config
			}
		})
	case *pb.FromRadio_ModuleConfig:
		c.applyConfig(now, func(st *radioState) {
			if t, ok := moduleType(v.ModuleConfig); ok {
				st.module[t] = v.ModuleConfig
			}
		})
	case *pb.FromRadio_FileInfo:
		c.withTarget(func(st *radioState) { st.files++ })
	case *pb.FromRadio_ConfigCompleteId:
		c.completeHandshake(v.ConfigCompleteId)
	case *pb.FromRadio_Packet:
		c.handlePacket(v.Packet)
	case *pb.FromRadio_QueueStatus:
		c.handleQueueStatus(v.QueueStatus)
		c.emit(Event{Kind: EventQueueStatus, Time: now, Queue: v.QueueStatus})
	case *pb.FromRadio_ClientNotification:
		c.handleNotification(v.ClientNotification)
		c.emit(Event{Kind: EventNotification, Time: now, Notification: v.ClientNotification})
	case *pb.FromRadio_LogRecord:
		c.stats.logLines.Add(1)
		r := v.LogRecord
		line := r.GetMessage()
		if r.GetSource() != "" {
			line = r.GetSource() + ": " + line
		}
		c.emit(Event{Kind: EventLog, Time: now, Log: r.GetLevel().String() + " " + line})
	case *pb.FromRadio_Rebooted:
		// The radio restarted under us (serial boot frame): its per-client
		// state is gone, so ask for the config again.
		c.log.Info("radio rebooted; handshaking again")
		c.emit(Event{Kind: EventRebooted, Time: now})
		c.startHandshake()
	case *pb.FromRadio_MqttClientProxyMessage:
		// The radio publishes through us and we have no broker to give
		// it to: say so loudly rather than drop MQTT in silence.
		c.stats.skipped.Add(1)
		c.warnProxy(now)
	default:
		// deviceuiConfig, xmodem, lockdown status, region presets and
		// variants newer than our schema.
		c.stats.skipped.Add(1)
	}
}

// withTarget runs f on the state a handshake is filling, or on the live
// state outside a handshake. It reports whether the live state changed.
func (c *Client) withTarget(f func(*radioState)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.staging != nil {
		f(c.staging)
		return false
	}
	if c.state == nil {
		return false
	}
	f(c.state)
	return true
}

// applyConfig stores a channel or config section; outside a handshake it
// also tells the consumer to take a new snapshot.
func (c *Client) applyConfig(now time.Time, f func(*radioState)) {
	if c.withTarget(f) {
		c.emit(Event{Kind: EventConfig, Time: now})
	}
}

func (c *Client) completeHandshake(nonce uint32) {
	c.mu.Lock()
	if c.staging == nil || nonce != c.nonce {
		c.mu.Unlock()
		c.log.Debug("ignoring config_complete_id for another handshake", "nonce", nonce)
		return
	}
	st := c.staging
	first := c.state == nil
	if c.state != nil && nonce == NonceOnlyNodes {
		// A nodes-only exchange carries no config: keep what we had.
		c.state.nodes = st.nodes
	} else {
		c.state = st
	}
	c.staging = nil
	c.handshakeAt = c.opts.Now()
	ch := c.handshaken
	snap := c.state.snapshot()
	c.mu.Unlock()
	close(ch)
	if first {
		close(c.ready)
	}
	// Consumers replace what they kept (channels, config, NodeDB): after a
	// reboot all of it may have changed.
	c.emit(Event{Kind: EventConfig, Time: c.opts.Now(), Snapshot: &snap, Resync: true})
	if mq := snap.MQTT(); mq.GetEnabled() && mq.GetProxyToClientEnabled() {
		c.warnProxy(c.opts.Now())
	}
}

// handlePacket updates the NodeDB, resolves waiting requests, then passes
// the packet on.
func (c *Client) handlePacket(p *pb.MeshPacket) {
	now := c.opts.Now()
	var changed *Node
	c.mu.Lock()
	st := c.state
	if c.staging != nil {
		st = c.staging
	}
	replay := IsReplay(p)
	if st != nil && p.GetFrom() != 0 {
		n := st.nodes[p.GetFrom()]
		if n == nil {
			n = &Node{Num: p.GetFrom()}
			st.nodes[n.Num] = n
		}
		// A replayed record was heard long ago: the NodeInfo of the
		// handshake already says when and how.
		if p.GetFrom() != st.myNum && !replay {
			n.heard(p, now)
		}
		if d := p.GetDecoded(); d != nil {
			switch d.GetPortnum() {
			case pb.PortNum_NODEINFO_APP:
				u := &pb.User{}
				if pb.Unmarshal(d.GetPayload(), u) == nil && p.GetFrom() != st.myNum {
					if why := keyConflict(n, u, st); why != "" {
						c.log.Warn("ignoring a NodeInfo the radio refused", "node", NodeID(n.Num), "why", why)
					} else {
						n.applyUser(u)
					}
				}
			case pb.PortNum_POSITION_APP:
				pos := &pb.Position{}
				if pb.Unmarshal(d.GetPayload(), pos) == nil {
					n.applyPosition(pos)
				}
			case pb.PortNum_TELEMETRY_APP:
				t := &pb.Telemetry{}
				if pb.Unmarshal(d.GetPayload(), t) == nil && t.GetDeviceMetrics() != nil {
					n.applyMetrics(t.GetDeviceMetrics())
				}
			}
		}
		if st == c.state {
			cp := n.Clone()
			changed = &cp
		}
	}
	c.mu.Unlock()
	c.resolve(p)
	if changed != nil {
		c.emit(Event{Kind: EventNode, Time: now, Node: changed})
	}
	c.emit(Event{Kind: EventPacket, Time: now, Packet: p, Replay: replay})
}

// keyConflict says why the firmware's NodeDB refuses a NodeInfo
// (NodeDB::updateUser), or "" when it accepts it: once a node's 32-byte
// public key is known, a NodeInfo with a different key or none is dropped
// ("Public Key mismatch, dropping NodeInfo"), and a node advertising our
// own key is refused with a warning to the client. The firmware still hands
// the packet to the client, so without this check a spoofed name and key
// would be shown.
func keyConflict(n *Node, u *pb.User, st *radioState) string {
	k := u.GetPublicKey()
	if own := st.nodes[st.myNum]; own != nil && len(own.PublicKey) == 32 && bytes.Equal(k, own.PublicKey) {
		return "it advertises our own public key"
	}
	if len(n.PublicKey) == 32 && !bytes.Equal(k, n.PublicKey) {
		return "its public key differs from the one known"
	}
	return ""
}

// IsReplay reports whether p is a record firmware 2.8 replays from its
// NodeDB after a handshake rather than a packet heard now. 2.8 sends the
// stored positions, device and environment telemetry and status messages
// of other nodes as broadcast packets from them after config_complete_id,
// shaped like live ones (PhoneAPI::makeReplay*Packet); the mark is their id,
// derived from node, record time (rx_time) and kind by makeReplayPacketId:
// h = num; h = h*2654435761 + time; h = h*2654435761 + kind (0 becomes 1),
// where kind is the port for positions (3) and status (36) and the
// Telemetry variant tag for telemetry (2 device, 3 environment). A live
// packet has that id by chance once in 2^32.
func IsReplay(p *pb.MeshPacket) bool {
	d := p.GetDecoded()
	if d == nil || p.GetFrom() == 0 || p.GetTo() != Broadcast || p.RxTime == nil {
		return false
	}
	var kinds []uint32
	switch d.GetPortnum() {
	case pb.PortNum_POSITION_APP:
		kinds = []uint32{uint32(pb.PortNum_POSITION_APP)}
	case pb.PortNum_TELEMETRY_APP:
		kinds = []uint32{2, 3}
	case pb.PortNum_NODE_STATUS_APP:
		kinds = []uint32{uint32(pb.PortNum_NODE_STATUS_APP)}
	default:
		return false
	}
	for _, k := range kinds {
		h := p.GetFrom()
		h = h*2654435761 + p.GetRxTime()
		h = h*2654435761 + k
		if h == 0 {
			h = 1
		}
		if h == p.GetId() {
			return true
		}
	}
	return false
}

// proxyWarning is what the client says when the radio wants its MQTT
// traffic carried by the client.
const proxyWarning = "the radio's MQTT is set to proxy through its client (mqtt.proxy_to_client_enabled), " +
	"and meshgate does not relay MQTT: this radio sends and receives nothing over MQTT " +
	"until proxy_to_client_enabled is turned off"

// warnProxy tells the consumer, once per link, that MQTT is lost.
func (c *Client) warnProxy(now time.Time) {
	if c.proxyWarned.Swap(true) {
		return
	}
	c.log.Warn(proxyWarning)
	c.emit(Event{Kind: EventNotification, Time: now, Notification: &pb.ClientNotification{
		Time: uint32(now.Unix()), Level: pb.LogRecord_WARNING, Message: proxyWarning}})
}

// handleNotification matches a radio refusal to the request it concerns,
// by reply_id only. The firmware sets reply_id on every refusal of a packet
// (traceroute limit, broadcast traceroute, duty cycle); a notification
// without one is about the radio, not a request (for example the MQTT
// server check of MQTT::isValidConfig, which comes in the middle of an edit
// whose write still succeeds), so it is passed on as an event only.
func (c *Client) handleNotification(n *pb.ClientNotification) {
	if n.ReplyId == nil {
		return
	}
	msg := n.GetMessage()
	limited := strings.Contains(strings.ToLower(msg), "once every") || strings.Contains(strings.ToLower(msg), "rate")
	err := &NotificationError{Level: n.GetLevel(), Message: msg, Limited: limited}
	c.mu.Lock()
	p := c.pending[n.GetReplyId()]
	c.mu.Unlock()
	if p != nil {
		p.finish(result{err: err})
	}
}

// handleQueueStatus marks a request as taken by the radio, or fails it.
// A packet sent with want_ack is not failed by a non-zero result: the
// firmware starts its retransmissions before it first tries to queue the
// packet (ReliableRouter::send) and ends them with a routing answer of its
// own (the ack, or MAX_RETRANSMIT, TOO_LARGE, NO_CHANNEL... from
// Router::abortSendAndNak), so that answer decides.
func (c *Client) handleQueueStatus(q *pb.QueueStatus) {
	id := q.GetMeshPacketId()
	if id == 0 {
		// The answer to a heartbeat (firmware 2.7.5 and later).
		c.hbAnswers.Store(true)
		return
	}
	c.mu.Lock()
	p := c.pending[id]
	if p != nil && q.GetRes() == 0 && !p.accepted {
		p.accepted = true
		close(p.queued)
	}
	c.mu.Unlock()
	if p == nil || q.GetRes() == 0 {
		return
	}
	if p.wantAck {
		c.log.Debug("the radio could not queue a packet yet; it retransmits", "id", id, "res", q.GetRes())
		return
	}
	p.finish(result{err: &QueueError{Result: q.GetRes(), RequestID: id}})
}
