package meshtastic

import (
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// EventKind says what happened on the link.
type EventKind int

// Event kinds.
const (
	// EventPacket: a mesh packet arrived (Packet set). Acks and admin
	// replies are delivered too, after the client has matched them.
	EventPacket EventKind = iota + 1
	// EventNode: a node was added or changed (Node set, a copy).
	EventNode
	// EventQueueStatus: the radio reported its transmit queue (Queue set).
	EventQueueStatus
	// EventNotification: the radio sent a client notification.
	EventNotification
	// EventLog: a line of radio log text or a LogRecord (Log set).
	EventLog
	// EventConfig: live config, module config, channels or the NodeDB
	// changed: after every completed handshake (the first one and every
	// one after a reboot; Resync set) and after an admin exchange changed
	// the client's copy, Snapshot holds the new state. For a channel or
	// config section the radio streams outside a handshake Snapshot is nil;
	// take one with Client.Snapshot.
	EventConfig
	// EventRebooted: the radio said it rebooted; the client re-handshakes.
	EventRebooted
	// EventLinkDown: the link is gone (Err set). It is the last event.
	EventLinkDown
)

func (k EventKind) String() string {
	switch k {
	case EventPacket:
		return "packet"
	case EventNode:
		return "node"
	case EventQueueStatus:
		return "queue"
	case EventNotification:
		return "notification"
	case EventLog:
		return "log"
	case EventConfig:
		return "config"
	case EventRebooted:
		return "rebooted"
	case EventLinkDown:
		return "link-down"
	}
	return "unknown"
}

// Event is one thing the radio told us.
type Event struct {
	Kind         EventKind
	Time         time.Time
	Packet       *pb.MeshPacket
	Node         *Node
	Queue        *pb.QueueStatus
	Notification *pb.ClientNotification
	Log          string
	Err          error
	// Snapshot is the radio's state after the change (EventConfig).
	Snapshot *Snapshot
	// Replay is true on an EventPacket that firmware 2.8 replayed from its
	// NodeDB after the handshake (a stored position or telemetry record,
	// see IsReplay), not something heard now.
	Replay bool
	// Resync is true on the EventConfig of a completed handshake: the
	// whole state was read again, and anything kept from before (nodes,
	// channels, config) should be replaced by Snapshot.
	Resync bool
}
