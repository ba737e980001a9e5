package meshtastic

import (
	"errors"
	"fmt"
	"strings"

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
	// ErrSilent: the radio stopped answering heartbeats while the link
	// stayed open (it lost power or its network); the link is failed.
	ErrSilent = errors.New("meshtastic: the radio stopped answering")
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

// QueueError is a non-zero result in the radio's queue status for a packet
// it did not send. The result is the firmware's send error: a routing
// error code (Routing.Error, e.g. 6 NO_CHANNEL, 7 TOO_LARGE, 9
// DUTY_CYCLE_LIMIT) from encoding, or one of its ERRNO values (MeshTypes.h)
// from the radio interface: 32 ERRNO_UNKNOWN (the transmit queue is full),
// 33 ERRNO_NO_INTERFACES, 34 ERRNO_DISABLED (transmitting is off or the
// region is unset). 32 to 34 collide with routing codes; in a queue status
// they are the ERRNO values.
type QueueError struct {
	Result    int32
	RequestID uint32
}

func (e *QueueError) Error() string {
	return fmt.Sprintf("meshtastic: packet %#08x: the radio did not send it: %s", e.RequestID, QueueResult(e.Result))
}

// Is treats a queue refusal as not delivered, and TOO_LARGE as too large.
func (e *QueueError) Is(target error) bool {
	switch target {
	case ErrNotDelivered:
		return true
	case ErrTooLarge:
		return e.Result == int32(pb.Routing_TOO_LARGE)
	case ErrRateLimited:
		return e.Result == int32(pb.Routing_RATE_LIMIT_EXCEEDED) || e.Result == int32(pb.Routing_DUTY_CYCLE_LIMIT)
	}
	return false
}

// QueueResult puts a QueueStatus result code into words.
func QueueResult(res int32) string {
	switch res {
	case 0:
		return "queued"
	case 32:
		return "its transmit queue is full (code 32)"
	case 33:
		return "it has no radio interface (code 33)"
	case 34:
		return "its transmitter is disabled or its region is unset (code 34)"
	case int32(pb.Routing_TOO_LARGE):
		return "the packet is too large for one LoRa frame (code 7)"
	case int32(pb.Routing_NO_CHANNEL):
		return "no such channel (code 6)"
	case int32(pb.Routing_DUTY_CYCLE_LIMIT):
		return "the regional duty-cycle limit is reached (code 9)"
	}
	if name, ok := pb.Routing_Error_name[res]; ok {
		return fmt.Sprintf("%s (code %d)", strings.ToLower(strings.ReplaceAll(name, "_", " ")), res)
	}
	return fmt.Sprintf("error code %d", res)
}
