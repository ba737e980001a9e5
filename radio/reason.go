package radio

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"unicode"

	"github.com/meshgate/meshgate/meshtastic"
)

// ReasonMax is the most runes Status.Reason has.
const ReasonMax = 40

// reasonOf says in a few words why a link failed. Errors arrive wrapped
// in context ("transport: radio unreachable: 127.0.0.1:4403: dial tcp
// 127.0.0.1:4403: connect: connection refused"); the useful part is the
// cause at the end, or for well-known causes a plainer phrase.
func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, ErrSilent):
		return "the radio stopped answering"
	case errors.Is(err, ErrYielded):
		return "left to another app"
	case errors.Is(err, meshtastic.ErrContended):
		return "another app is using the radio"
	case errors.Is(err, ErrUnstable):
		return "the radio keeps resetting"
	case errors.Is(err, os.ErrNotExist):
		return "device not found"
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.EIO):
		return "serial device gone"
	case errors.Is(err, ErrSerialLost):
		return "serial link lost"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "unknown host " + dns.Name
		}
		return "name lookup failed"
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the radio closed the connection"
	}
	return ShortReason(err.Error())
}

// ShortReason shortens an error message for a table: the last part of a
// "context: context: cause" chain, on one line, at most ReasonMax runes
// (cut with "…").
func ShortReason(msg string) string {
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		msg = msg[i+2:]
	}
	if r := []rune(msg); len(r) > ReasonMax {
		msg = string(r[:ReasonMax-1]) + "…"
	}
	return msg
}
