// Package transport opens the byte stream to a Meshtastic radio: a TCP
// connection to the radio's API port or a USB serial line. Both carry the
// same framing (package frame); only opening and closing differ.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTCPPort is the radio API port (firmware SERVER_API_DEFAULT_PORT).
const DefaultTCPPort = 4403

// DefaultBaud is the firmware's serial console speed.
const DefaultBaud = 115200

// Sentinel errors; callers test them with errors.Is.
var (
	ErrBadAddress  = errors.New("transport: bad radio address")
	ErrUnreachable = errors.New("transport: radio unreachable")
)

// Kind of link.
type Kind string

// Link kinds.
const (
	TCP    Kind = "tcp"
	Serial Kind = "serial"
)

// Address is a parsed radio address.
type Address struct {
	Kind Kind
	// Host is host:port for TCP.
	Host string
	// Device is the serial device path.
	Device string
	// Baud, DTR and RTS apply to serial links. DTR/RTS are asserted on open
	// (and left alone) unless the address says dtr=0&rts=0, for boards
	// that reset when the lines change. One without the other is refused:
	// see checkModemLines.
	Baud     int
	DTR, RTS bool
}

// String renders the address in its canonical form.
func (a Address) String() string {
	if a.Kind == Serial {
		s := "serial://" + a.Device
		var q []string
		if a.Baud != DefaultBaud {
			q = append(q, "baud="+strconv.Itoa(a.Baud))
		}
		if !a.DTR {
			q = append(q, "dtr=0")
		}
		if !a.RTS {
			q = append(q, "rts=0")
		}
		if len(q) > 0 {
			s += "?" + strings.Join(q, "&")
		}
		return s
	}
	return "tcp://" + a.Host
}

// Parse reads a radio address: "host", "host:port", "[v6]:port",
// "tcp://host:port" or "serial:///dev/ttyUSB0[?baud=N&dtr=0&rts=0]".
func Parse(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, fmt.Errorf("%w: empty", ErrBadAddress)
	}
	switch {
	case strings.HasPrefix(s, "serial://"):
		return parseSerial(s)
	case strings.HasPrefix(s, "tcp://"):
		return parseTCP(strings.TrimPrefix(s, "tcp://"), s)
	case strings.Contains(s, "://"):
		return Address{}, fmt.Errorf("%w: %q: unknown scheme (want tcp:// or serial://)", ErrBadAddress, s)
	case strings.HasPrefix(s, "/dev/"):
		return parseSerial("serial://" + s)
	}
	return parseTCP(s, s)
}

func parseTCP(hostport, orig string) (Address, error) {
	hostport = strings.TrimSuffix(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port given: the whole thing is the host (a bare IPv6 address
		// is allowed without brackets only when it has no port).
		host, port = strings.Trim(hostport, "[]"), strconv.Itoa(DefaultTCPPort)
	}
	if host == "" || strings.ContainsAny(host, " /?#@") {
		return Address{}, fmt.Errorf("%w: %q: missing or invalid host", ErrBadAddress, orig)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Address{}, fmt.Errorf("%w: %q: port must be 1-65535", ErrBadAddress, orig)
	}
	return Address{Kind: TCP, Host: net.JoinHostPort(host, strconv.Itoa(n))}, nil
}

func parseSerial(s string) (Address, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
	}
	if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
		return Address{}, fmt.Errorf("%w: %q: want serial:///dev/NAME (three slashes)", ErrBadAddress, s)
	}
	a := Address{Kind: Serial, Device: u.Path, Baud: DefaultBaud, DTR: true, RTS: true}
	q := u.Query()
	for k, v := range q {
		val := v[len(v)-1]
		switch k {
		case "baud":
			n, err := strconv.Atoi(val)
			if err != nil || n < 300 || n > 4000000 {
				return Address{}, fmt.Errorf("%w: %q: baud must be a number 300-4000000", ErrBadAddress, s)
			}
			a.Baud = n
		case "dtr", "rts":
			on, err := strconv.ParseBool(val)
			if err != nil {
				return Address{}, fmt.Errorf("%w: %q: %s must be 0 or 1", ErrBadAddress, s, k)
			}
			if k == "dtr" {
				a.DTR = on
			} else {
				a.RTS = on
			}
		default:
			return Address{}, fmt.Errorf("%w: %q: unknown option %q", ErrBadAddress, s, k)
		}
	}
	if err := checkModemLines(a); err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
	}
	return a, nil
}

// checkModemLines refuses a DTR/RTS combination that leaves a classic
// ESP32 board unable to run. Its USB-serial bridge drives the chip's EN
// (reset) and GPIO0 (boot mode) through the two-transistor auto-reset
// circuit that esptool's ClassicReset drives: RTS asserted with DTR released pulls EN
// low, so dtr=0 alone holds the chip in reset for as long as the port is
// open; DTR asserted with RTS released pulls GPIO0 low, so rts=0 alone
// sends the chip's next reset into the ROM bootloader instead of
// Meshtastic. Both asserted or both released leave the chip alone. The
// address is refused rather than warned about because the failure is
// silent (the radio just never answers) and the fix is one word; boards
// without that circuit (nRF52 and other native-USB boards) work with
// both lines on, the default, and native-USB nRF52 firmware needs DTR on
// to send anything at all.
func checkModemLines(a Address) error {
	switch {
	case !a.DTR && a.RTS:
		return fmt.Errorf("dtr=0 without rts=0 holds an ESP32 board in reset (its auto-reset circuit pulls EN low); use dtr=0&rts=0, or neither")
	case a.DTR && !a.RTS:
		return fmt.Errorf("rts=0 without dtr=0 makes an ESP32 board's next reset start its ROM bootloader instead of Meshtastic (GPIO0 is pulled low); use dtr=0&rts=0, or neither")
	}
	return nil
}

// Conn is an open link to a radio.
type Conn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// SetReadDeadline bounds a blocked Read, as net.Conn does; the frame
	// reader uses it to abandon half frames.
	SetReadDeadline(t time.Time) error
	// CloseWrite tells the radio we are done sending (TCP half close), so the
	// last command is not lost to a reset; serial links have nothing to do.
	CloseWrite() error
	Close() error
	// Kind says what sort of link this is.
	Kind() Kind
	// Remote names the other end for logs.
	Remote() string
}

// Dial opens the link an address names. Failure to open wraps ErrUnreachable.
func Dial(ctx context.Context, a Address) (Conn, error) {
	switch a.Kind {
	case TCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", a.Host)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, a.Host, err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tuneTCP(tc)
		}
		return &tcpConn{c}, nil
	case Serial:
		c, err := openSerial(a)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, a.Device, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: no link kind", ErrBadAddress)
}

type tcpConn struct{ net.Conn }

func (c *tcpConn) Kind() Kind     { return TCP }
func (c *tcpConn) Remote() string { return c.RemoteAddr().String() }

func (c *tcpConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
