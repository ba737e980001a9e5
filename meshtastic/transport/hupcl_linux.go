package transport

import "golang.org/x/sys/unix"

func clearHUPCL(device string) {
	fd, err := unix.Open(device, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return // the real open reports the problem
	}
	defer unix.Close(fd)
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil || t.Cflag&unix.HUPCL == 0 {
		return
	}
	t.Cflag &^= unix.HUPCL
	_ = unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
