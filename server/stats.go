package server

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/meshgate/meshgate/auth"
)

// Auth failure reasons, as counted and exported.
const (
	ReasonUnknownKey    = "unknown_key"
	ReasonExpired       = "expired"
	ReasonSourceDenied  = "source_denied"
	ReasonShuttingDown  = "shutting_down"
	ReasonOther         = "other"
	reasonCount         = 5
	reasonIndexUnknown  = 0
	reasonIndexExpired  = 1
	reasonIndexSource   = 2
	reasonIndexShutdown = 3
	reasonIndexOther    = 4
)

// AuthReasons lists the reasons in a fixed order.
var authReasons = [reasonCount]string{ReasonUnknownKey, ReasonExpired, ReasonSourceDenied, ReasonShuttingDown, ReasonOther}

// counters are the daemon's own numbers, read by the metrics exporter.
type counters struct {
	connections     atomic.Uint64
	refusedPreAuth  atomic.Uint64
	sessionsOpened  atomic.Uint64
	sessionsRefused atomic.Uint64 // gateway full
	refusedKey      atomic.Uint64 // the key's cap
	refusedConn     atomic.Uint64 // the connection's cap
	authFailures    [reasonCount]atomic.Uint64
	refusedBy       sync.Map // refusal reason → *atomic.Uint64
	closedNoSession atomic.Uint64
	forwardsRefused atomic.Uint64 // direct-tcpip channels refused
	nodeRefused     sync.Map      // node listener refusals by reason → *atomic.Uint64
}

// refused counts a connection or login refused by a limit.
func (c *counters) refused(reason string) {
	if preAuthReason(reason) {
		c.refusedPreAuth.Add(1)
	}
	n, _ := c.refusedBy.LoadOrStore(reason, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
}

func (c *counters) authFailed(err error) {
	i := reasonIndexOther
	switch {
	case errors.Is(err, auth.ErrUnknownKey):
		i = reasonIndexUnknown
	case errors.Is(err, auth.ErrExpired):
		i = reasonIndexExpired
	case errors.Is(err, auth.ErrSourceDenied):
		i = reasonIndexSource
	case errors.Is(err, errShuttingDown):
		i = reasonIndexShutdown
	}
	c.authFailures[i].Add(1)
}

var errShuttingDown = errors.New("the gateway is shutting down")

// Stats is a snapshot of the daemon's counters.
type Stats struct {
	Connections     uint64            // TCP connections accepted for a handshake
	RefusedPreAuth  uint64            // connections refused by the unauthenticated-connection limits
	SessionsOpened  uint64            // sessions that got past the cap
	SessionsRefused uint64            // logins refused because the gateway was full
	RefusedPerKey   uint64            // logins refused because the key had its most sessions open
	RefusedPerConn  uint64            // sessions refused because their connection had its most open
	AuthFailures    map[string]uint64 // failed key attempts by reason
	Unauthenticated int               // connections still authenticating now
	Authenticated   int               // authenticated connections open now
	// Refused counts connections and logins refused by a connection limit,
	// by reason (the Refused* constants; every reason is present).
	Refused         map[string]uint64
	ClosedNoSession uint64 // authenticated connections closed for having no session
	// ForwardsRefused counts forward requests refused: a target other than
	// a radio's virtual node, a radio the key may not use, a full gateway.
	ForwardsRefused uint64
	// NodeRefused counts connections a node listener refused, by reason
	// (the NodeRefused* constants; every reason is present).
	NodeRefused map[string]uint64
}

// Stats returns the daemon's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Connections: s.count.connections.Load(), RefusedPreAuth: s.count.refusedPreAuth.Load(),
		SessionsOpened: s.count.sessionsOpened.Load(), SessionsRefused: s.count.sessionsRefused.Load(),
		RefusedPerKey: s.count.refusedKey.Load(), RefusedPerConn: s.count.refusedConn.Load(),
		AuthFailures: make(map[string]uint64, reasonCount), Unauthenticated: s.lim.pending(),
		Authenticated: s.conns.count(), Refused: make(map[string]uint64, len(refusalReasons)),
		ClosedNoSession: s.count.closedNoSession.Load(), ForwardsRefused: s.count.forwardsRefused.Load(),
		NodeRefused: make(map[string]uint64, len(nodeRefusals)),
	}
	for _, r := range nodeRefusals {
		st.NodeRefused[r] = 0
		if n, ok := s.count.nodeRefused.Load(r); ok {
			st.NodeRefused[r] = n.(*atomic.Uint64).Load()
		}
	}
	for _, r := range refusalReasons {
		st.Refused[r] = 0
		if n, ok := s.count.refusedBy.Load(r); ok {
			st.Refused[r] = n.(*atomic.Uint64).Load()
		}
	}
	for i, r := range authReasons {
		st.AuthFailures[r] = s.count.authFailures[i].Load()
	}
	return st
}
