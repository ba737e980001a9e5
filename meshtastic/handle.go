package meshtastic

import (
	"errors"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

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
	default:
		// deviceuiConfig, xmodem, MQTT proxy, lockdown status, region
		// presets and variants newer than our schema.
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
	if st != nil && p.GetFrom() != 0 {
		n := st.nodes[p.GetFrom()]
		if n == nil {
			n = &Node{Num: p.GetFrom()}
			st.nodes[n.Num] = n
		}
		if p.GetFrom() != st.myNum {
			n.heard(p, now)
		}
		if d := p.GetDecoded(); d != nil {
			switch d.GetPortnum() {
			case pb.PortNum_NODEINFO_APP:
				u := &pb.User{}
				if proto.Unmarshal(d.GetPayload(), u) == nil {
					n.applyUser(u)
				}
			case pb.PortNum_POSITION_APP:
				pos := &pb.Position{}
				if proto.Unmarshal(d.GetPayload(), pos) == nil {
					n.applyPosition(pos)
				}
			case pb.PortNum_TELEMETRY_APP:
				t := &pb.Telemetry{}
				if proto.Unmarshal(d.GetPayload(), t) == nil && t.GetDeviceMetrics() != nil {
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
	c.emit(Event{Kind: EventPacket, Time: now, Packet: p})
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
func (c *Client) handleQueueStatus(q *pb.QueueStatus) {
	id := q.GetMeshPacketId()
	if id == 0 {
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
	p.finish(result{err: &QueueError{Result: q.GetRes(), RequestID: id}})
}
