package transport

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]string{
		"radio.local":                       "tcp://radio.local:4403",
		"10.0.0.5:4404":                     "tcp://10.0.0.5:4404",
		"tcp://127.0.0.1:9000":              "tcp://127.0.0.1:9000",
		"tcp://127.0.0.1":                   "tcp://127.0.0.1:4403",
		"[::1]:4403":                        "tcp://[::1]:4403",
		"::1":                               "tcp://[::1]:4403",
		"serial:///dev/ttyUSB0":             "serial:///dev/ttyUSB0",
		"/dev/ttyACM0":                      "serial:///dev/ttyACM0",
		"serial:///dev/ttyUSB0?baud=921600": "serial:///dev/ttyUSB0?baud=921600",
		"serial:///dev/ttyUSB0?dtr=0&rts=0": "serial:///dev/ttyUSB0?dtr=0&rts=0",
	}
	for in, want := range good {
		a, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if a.String() != want {
			t.Errorf("Parse(%q) = %s, want %s", in, a, want)
		}
	}
	for _, in := range []string{"", "http://x", "tcp://:80", "host:0", "host:99999", "serial://dev/ttyUSB0",
		"serial:///dev/x?baud=abc", "serial:///dev/x?parity=odd", "tcp://a b"} {
		if _, err := Parse(in); !errors.Is(err, ErrBadAddress) {
			t.Errorf("Parse(%q) = %v, want ErrBadAddress", in, err)
		}
	}
}

// One modem line released without the other leaves a classic ESP32 in
// reset or in its bootloader; the address is refused with the reason.
func TestParseRefusesHalfModemLines(t *testing.T) {
	for in, want := range map[string]string{
		"serial:///dev/ttyUSB0?dtr=0":       "holds an ESP32 board in reset",
		"serial:///dev/ttyUSB0?dtr=0&rts=1": "holds an ESP32 board in reset",
		"serial:///dev/ttyUSB0?rts=0":       "ROM bootloader",
		"/dev/ttyUSB0?rts=false&dtr=true":   "ROM bootloader",
	} {
		_, err := Parse(in)
		if !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "dtr=0&rts=0") {
			t.Errorf("Parse(%q) = %v, want a refusal saying %q", in, err, want)
		}
	}
	for _, in := range []string{"serial:///dev/ttyUSB0?dtr=0&rts=0", "serial:///dev/ttyUSB0?dtr=1&rts=1", "serial:///dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0"} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

func TestDialUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	a, _ := Parse(addr)
	if _, err := Dial(context.Background(), a); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if _, err := Dial(context.Background(), Address{Kind: Serial, Device: "/dev/does-not-exist", Baud: DefaultBaud}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("serial: got %v, want ErrUnreachable", err)
	}
}
