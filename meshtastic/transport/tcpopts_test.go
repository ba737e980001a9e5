package transport

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestTCPLiveness: a radio link has a user timeout, so a radio that
// vanished is noticed in about a minute rather than fifteen.
func TestTCPLiveness(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_USER_TIMEOUT is Linux-only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Address{Kind: TCP, Host: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := userTimeout(c.(*tcpConn).Conn.(*net.TCPConn))
	if err != nil || got != TCPUserTimeout {
		t.Fatalf("TCP_USER_TIMEOUT %v (%v), want %v", got, err, TCPUserTimeout)
	}
}
