// Command meshgate shares Meshtastic radios over SSH. This file only picks
// the subcommand; each one lives in its own file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `meshgate shares Meshtastic radios with a team over SSH.

Usage:
  meshgate [serve] [flags]       run the SSH gateway (the default; --demo for simulated radios)
  meshgate sim [flags]           run a simulated radio (TCP API, or a pseudo-terminal with --pty)
  meshgate check [flags]         validate the configuration, authorized_keys, radios and data directory (like sshd -t)
  meshgate health [ADDR]         exit 0 if a gateway answers on ADDR (default 127.0.0.1:2222)
  meshgate info [--json] ADDR    connect to a radio, print its identity, config and nodes, and exit
  meshgate version               print the version

ADDR is host[:port] (port 4403 by default), tcp://host:port or serial:///dev/ttyUSB0.
Run 'meshgate COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks errors that come from bad command-line input (exit 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "--version" {
		args = append([]string{"serve"}, args...)
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "sim":
		err = runSim(ctx, args[1:], stdout, stderr)
	case "info":
		err = runInfo(ctx, args[1:], stdout, stderr)
	case "check":
		err = runCheck(ctx, args[1:], stdout, stderr)
	case "health":
		err = runHealth(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "meshgate %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "meshgate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "meshgate %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "meshgate %s: %v\n", args[0], err)
		return 1
	}
}

// newFlagSet returns a flag set that reports errors to stderr and lets
// run decide the exit code.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("meshgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: meshgate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// ("info 127.0.0.1 --json"), which the standard flag package does not.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
