package transport

import (
	"context"
	"errors"
	"net"
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
