package transport

import (
	"net"
	"time"
)

// TCP liveness. The radio answers nothing at the TCP level when it loses
// power or its Wi-Fi, so without these a dead link looks open until the
// kernel gives up retransmitting (about 15 minutes on Linux).
const (
	// TCPUserTimeout bounds how long sent data may stay unacknowledged
	// before the kernel drops the connection (TCP_USER_TIMEOUT, Linux).
	TCPUserTimeout = 60 * time.Second
	// Keepalive probes: the first after tcpKeepIdle of silence, then every
	// tcpKeepInterval, and tcpKeepCount unanswered ones close the link.
	tcpKeepIdle     = 30 * time.Second
	tcpKeepInterval = 10 * time.Second
	tcpKeepCount    = 3
)

// tuneTCP sets keepalive probes, the user timeout and no-delay on a new
// radio connection. Failures are ignored: the client's heartbeats still
// notice a silent radio.
func tuneTCP(tc *net.TCPConn) {
	_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: tcpKeepIdle, Interval: tcpKeepInterval, Count: tcpKeepCount})
	_ = tc.SetNoDelay(true)
	_ = setUserTimeout(tc, TCPUserTimeout)
}
