package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/meshgate/meshgate/check"
)

// runCheck validates the configuration like `sshd -t`: every problem is
// printed with its file and line, and the exit status is 1 if the gateway
// would refuse to start.
func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadServeConfig(args, os.Environ(), stderr, "check")
	if err != nil {
		return err
	}
	rep := check.Run(cfg)
	for _, f := range rep.Findings {
		fmt.Fprintln(stdout, f)
	}
	if rep.Fatal() {
		return fmt.Errorf("%w", check.ErrFatal)
	}
	src := "defaults"
	if cfg.Source != "" {
		src = cfg.Source
	}
	fmt.Fprintf(stdout, "meshgate check: ok (%s; %d radios, %d keys, %d warnings)\n", src, rep.Radios, rep.Keys, len(rep.Findings))
	return nil
}

// runHealth exits 0 if a gateway answers on addr with an SSH banner. The
// container HEALTHCHECK uses it, so it needs no other tools.
func runHealth(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("health", "health [--timeout 3s] [ADDR]", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	addr := "127.0.0.1:2222"
	if len(pos) == 1 {
		addr = pos[0]
	} else if len(pos) > 1 {
		return fmt.Errorf("%w: want at most one address", errUsage)
	}
	c, err := net.DialTimeout("tcp", addr, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(*timeout))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return fmt.Errorf("no SSH banner from %s: %w", addr, err)
	}
	banner := strings.TrimSpace(string(buf[:n]))
	if !strings.HasPrefix(banner, "SSH-2.0-meshgate") {
		return fmt.Errorf("%s answered %q, not meshgate", addr, banner)
	}
	fmt.Fprintf(stdout, "ok %s\n", banner)
	return nil
}
