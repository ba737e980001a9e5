//go:build !linux

package transport

import (
	"net"
	"time"
)

// TCP_USER_TIMEOUT is Linux-only; elsewhere keepalive has to do.
func setUserTimeout(*net.TCPConn, time.Duration) error { return nil }

func userTimeout(*net.TCPConn) (time.Duration, error) { return 0, nil }
