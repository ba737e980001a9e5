package meshtastic

import (
	"errors"
	"fmt"

	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// Sentinel errors. Every error the client returns wraps one of these or a
// transport/context error, so callers branch with errors.Is.
var (
	// ErrUnreachable: the radio could not be reached at all (dial failed, or
	// it closed the connection before saying anything).
	ErrUnreachable = transport.ErrUnreachable
	// ErrContended: the radio accepted us and then dropped the link during
	// or right after the handshake. The firmware serves one API client and
	// closes the older one when another connects, so this almost always
	// means another app is attached to the same radio.
	ErrContended = errors.New("meshtastic: radio dropped the link right after connecting (another client is probably attached)")
	// ErrHandshake: the radio answered but the config exchange failed.
	ErrHandshake = errors.New("meshtastic: handshake failed")
	// ErrClosed: the client is closed or the link is down.
	ErrClosed = errors.New("meshtastic: link closed")
	// ErrRateLimited: the radio refused a packet because of its per-port
	// rate limits (text 1/2 s, traceroute 1/30 s).
	ErrRateLimited = errors.New("meshtastic: radio rate limit")
	// ErrNoResponse: the destination did not answer (traceroute, admin).
	ErrNoResponse = errors.New("meshtastic: no response")
	// ErrNotDelivered: the radio reported a delivery failure for a packet.
	ErrNotDelivered = errors.New("meshtastic: not delivered")
	// ErrTooLarge: the payload does not fit a Meshtastic packet.
	ErrTooLarge = errors.New("meshtastic: payload too large")
	// ErrRejected: the radio refused the request (bad request, not authorized).
	ErrRejected = errors.New("meshtastic: request rejected by the radio")
)

// RoutingError is a failure the radio reported in a ROUTING_APP answer.
type RoutingError struct {
	Reason    pb.Routing_Error
	RequestID uint32 // the packet it answers
	From      uint32 // the node that answered
}

func (e *RoutingError) Error() string {
	return fmt.Sprintf("meshtastic: packet %#08x: radio answered %s", e.RequestID, e.Reason)
}

// Is maps routing reasons onto the sentinels.
func (e *RoutingError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.Reason == pb.Routing_RATE_LIMIT_EXCEEDED
	case ErrNoResponse:
		return e.Reason == pb.Routing_NO_RESPONSE || e.Reason == pb.Routing_TIMEOUT
	case ErrTooLarge:
		return e.Reason == pb.Routing_TOO_LARGE
	case ErrRejected:
		switch e.Reason {
		case pb.Routing_BAD_REQUEST, pb.Routing_NOT_AUTHORIZED, pb.Routing_ADMIN_BAD_SESSION_KEY,
			pb.Routing_ADMIN_PUBLIC_KEY_UNAUTHORIZED:
			return true
		}
	case ErrNotDelivered:
		return true
	}
	return false
}

// NotificationError is a refusal the radio explained with a client
// notification (for example the traceroute 30 s limit).
type NotificationError struct {
	Level   pb.LogRecord_Level
	Message string
	// Limited is true when the notification reports a rate limit.
	Limited bool
}

func (e *NotificationError) Error() string { return "meshtastic: radio refused: " + e.Message }

// Is reports ErrRateLimited for rate-limit notifications.
func (e *NotificationError) Is(target error) bool {
	return target == ErrRejected || (e.Limited && target == ErrRateLimited)
}

// QueueError is a non-zero result in the radio's queue status for a packet.
type QueueError struct {
	Result    int32
	RequestID uint32
}

func (e *QueueError) Error() string {
	return fmt.Sprintf("meshtastic: packet %#08x: radio queue refused it (code %d)", e.RequestID, e.Result)
}

// Is treats a queue refusal as not delivered.
func (e *QueueError) Is(target error) bool { return target == ErrNotDelivered }
