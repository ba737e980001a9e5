package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.bug.st/serial"
)

// pollInterval bounds each blocking serial read so deadlines are honoured;
// the serial library reports a timeout as (0, nil) rather than an error.
const pollInterval = 200 * time.Millisecond

type serialConn struct {
	port   serial.Port
	device string

	mu       sync.Mutex
	deadline time.Time
	closed   chan struct{}
	once     sync.Once
}

func openSerial(a Address) (*serialConn, error) {
	// Closing a tty with HUPCL set drops DTR/RTS, which resets many boards;
	// clear it first, as the reference client does.
	clearHUPCL(a.Device)
	mode := &serial.Mode{BaudRate: a.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	if !a.DTR || !a.RTS {
		// Only touch the modem lines when asked to: the ioctl fails on
		// devices without them (pseudo-terminals, some USB bridges).
		mode.InitialStatusBits = &serial.ModemOutputBits{DTR: a.DTR, RTS: a.RTS}
	}
	port, err := serial.Open(a.Device, mode)
	if err != nil {
		return nil, err
	}
	if err := port.SetReadTimeout(pollInterval); err != nil {
		_ = port.Close()
		return nil, fmt.Errorf("set read timeout: %w", err)
	}
	return &serialConn{port: port, device: a.Device, closed: make(chan struct{})}, nil
}

func (c *serialConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		dl := c.deadline
		c.mu.Unlock()
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		n, err := c.port.Read(p)
		if err != nil {
			var pe *serial.PortError
			if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
				return n, net.ErrClosed
			}
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		default:
		}
	}
}

func (c *serialConn) Write(p []byte) (int, error) {
	n, err := c.port.Write(p)
	if err == nil && n < len(p) {
		err = errors.New("serial: short write")
	}
	return n, err
}

func (c *serialConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// CloseWrite waits for queued output to reach the device so that a final
// command is not cut off by the close.
func (c *serialConn) CloseWrite() error { return c.port.Drain() }

func (c *serialConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		err = c.port.Close()
	})
	return err
}

func (c *serialConn) Kind() Kind     { return Serial }
func (c *serialConn) Remote() string { return c.device }
