package sim

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// OpenPTY creates a pseudo-terminal for ServeStream: the radio serves the
// master, and a serial client opens slavePath as if it were /dev/ttyUSB0.
//
// The slave is set raw (no echo, no line editing, no output processing) so
// frames pass through byte for byte. The package keeps its own descriptor
// of the slave open for as long as master is alive: otherwise the pty would
// hang up each time the client closes the port, and reads on the master
// would fail until someone reopened it. That descriptor is released when
// master is closed and garbage collected.
//
// The master is non-blocking underneath, so it supports deadlines, which
// ServeStream uses to stop cleanly.
func OpenPTY() (master *os.File, slavePath string, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, "", fmt.Errorf("sim: open /dev/ptmx: %w", err)
	}
	fail := func(step string, err error) (*os.File, string, error) {
		_ = unix.Close(mfd)
		return nil, "", fmt.Errorf("sim: pty %s: %w", step, err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlock", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		return fail("number", err)
	}
	slavePath = fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail("open slave", err)
	}
	if err := makeRaw(sfd); err != nil {
		_ = unix.Close(sfd)
		return fail("raw mode", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	runtime.AddCleanup(master, func(fd int) { _ = unix.Close(fd) }, sfd)
	return master, slavePath, nil
}

// makeRaw is cfmakeraw: bytes in, bytes out, nothing interpreted.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
