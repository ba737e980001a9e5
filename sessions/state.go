package sessions

import (
	"slices"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// LoggedPacket is one entry of a session's packet log. Packet is shared,
// read-only, with every other session on the same radio: nothing may
// modify it.
type LoggedPacket struct {
	At     time.Time
	Packet *pb.MeshPacket
	// Outgoing: the gateway sent it (a user's text or traceroute, a
	// responder's reply, a virtual node's app), rather than heard it.
	Outgoing bool
}

// traceLimit bounds the traceroute results a session keeps. At the radio's
// pace of one traceroute per 30 s, 100 results cover most of an hour.
const traceLimit = 100

// TraceResult is the outcome of one traceroute the session asked for.
// Route (nil when Err is set) is shared read-only like logged packets.
type TraceResult struct {
	Target uint32
	At     time.Time
	Route  *meshtastic.Route
	Err    error
}

// SweepOutcome is where one node of a sweep stands.
type SweepOutcome uint8

// Sweep outcomes.
const (
	SweepPending   SweepOutcome = iota // not traced yet
	SweepComplete                      // a route came back
	SweepTimeout                       // the node did not answer
	SweepError                         // the traceroute failed otherwise (Err says why)
	SweepCancelled                     // the sweep was stopped before this node
)

func (o SweepOutcome) String() string {
	switch o {
	case SweepPending:
		return "pending"
	case SweepComplete:
		return "complete"
	case SweepTimeout:
		return "timeout"
	case SweepError:
		return "error"
	case SweepCancelled:
		return "cancelled"
	}
	return "unknown"
}

// SweepResult is one node of a sweep.
type SweepResult struct {
	Node    uint32
	Outcome SweepOutcome
	Route   *meshtastic.Route // set when Outcome is SweepComplete; shared read-only
	Err     error
	At      time.Time // when the outcome was recorded
}

// SweepStatus is the state of a session's traceroute sweep (tracing many
// nodes one after another at the radio's pace). The sweep runner owns the
// sweep and publishes its progress with Session.SetSweep; views read it
// with Session.Sweep. Both copy, so neither side sees the other's later
// changes to Results.
type SweepStatus struct {
	Running   bool
	Cancelled bool
	Total     int // nodes to trace
	Done      int // nodes with an outcome other than pending
	Results   []SweepResult
	Started   time.Time
	Finished  time.Time // zero while running
}

// Clone returns a copy that shares no Results slice with s.
func (s SweepStatus) Clone() SweepStatus {
	s.Results = slices.Clone(s.Results)
	return s
}

// Filters are a session's view filters: what the user chose to see. The
// session only stores them (so they survive switching tabs); the view
// applies them.
type Filters struct {
	Nodes  []uint32     // only packets from or to these nodes; empty: all
	Ports  []pb.PortNum // only these ports; empty: all (encrypted packets count as UNKNOWN_APP)
	Search string       // free text, matched by the view against what it renders
}

// Clone returns a copy that shares no slices with f.
func (f Filters) Clone() Filters {
	f.Nodes = slices.Clone(f.Nodes)
	f.Ports = slices.Clone(f.Ports)
	return f
}

// IsZero reports whether no filter is set.
func (f Filters) IsZero() bool {
	return len(f.Nodes) == 0 && len(f.Ports) == 0 && f.Search == ""
}

// Match applies the node and port filters to p. Search is left to the view,
// which knows what text it shows for a packet.
func (f Filters) Match(p *pb.MeshPacket) bool {
	if len(f.Nodes) > 0 && !slices.Contains(f.Nodes, p.GetFrom()) && !slices.Contains(f.Nodes, p.GetTo()) {
		return false
	}
	if len(f.Ports) > 0 && !slices.Contains(f.Ports, p.GetDecoded().GetPortnum()) {
		return false
	}
	return true
}
