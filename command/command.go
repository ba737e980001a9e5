// Package command is the exec front end: `ssh GATEWAY COMMAND [flags]`.
// Each command turns its flags into one call on the core (backend/) and
// the result into text or JSON; policy, validation, defaults and audit
// live in the core. Commands, subcommands and flags are declared once
// (spf13/cobra, as soft-serve does for its SSH commands), so help, usage
// errors and the real flags never drift apart.
package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
)

// Exit statuses of exec commands (documented in the README).
const (
	ExitOK      = 0
	ExitFailed  = 1 // the operation failed
	ExitUsage   = 2 // a bad command line, an unknown radio, node or id
	ExitDenied  = 3 // the key's role or radio list does not allow it
	ExitFull    = 4 // a session limit was reached
	ExitTimeout = 5 // the radio or the mesh did not answer in time
	ExitEnded   = 6 // an admin or the gateway's shutdown ended the session
)

// Env is what one command runs with.
type Env struct {
	// Ctx ends with the session (a disconnect, a kick, shutdown).
	Ctx     context.Context
	Backend *backend.Backend
	Caller  backend.Caller
	Out     io.Writer
	Err     io.Writer
	// Now is the clock for ages ("5m"); default time.Now.
	Now func() time.Time
}

// usageError is a bad command line: exit status 2 and a pointer to help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Run runs one command line, already split into words, and returns its
// exit status. Errors are written to env.Err as one line.
func Run(env Env, argv []string) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	r := &runner{env: env}
	root := r.tree()
	root.SetArgs(argv)
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	root.SetContext(env.Ctx)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	return r.fail(cmd, err)
}

// RunLine splits a raw command line with POSIX shell quoting (see Split)
// and runs it.
func RunLine(env Env, line string) int {
	argv, err := Split(line)
	if err != nil {
		fmt.Fprintf(env.Err, "meshgate: %v\n", err)
		return ExitUsage
	}
	if len(argv) == 0 {
		argv = []string{"help"}
	}
	return Run(env, argv)
}

// fail reports err for cmd in one line and picks the exit status.
func (r *runner) fail(cmd *cobra.Command, err error) int {
	path := "meshgate"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	var se *silentError
	if errors.As(err, &se) {
		return ExitFor(se.err)
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue) || !r.ran:
		// Flag and argument errors come from the command library before
		// the command runs; they are usage errors too.
		hint := strings.TrimPrefix(path, "meshgate")
		fmt.Fprintf(r.env.Err, "%s: %s (see: help%s)\n", path, oneLine(err.Error()), hint)
		return ExitUsage
	case errors.Is(err, backend.ErrInvalid), errors.Is(err, backend.ErrNotFound):
		fmt.Fprintf(r.env.Err, "%s: %s\n", path, oneLine(err.Error()))
		return ExitUsage
	case errors.Is(err, backend.ErrDenied):
		fmt.Fprintf(r.env.Err, "%s: permission denied: %s\n", path, oneLine(err.Error()))
		return ExitDenied
	case errors.Is(err, backend.ErrTimeout):
		fmt.Fprintf(r.env.Err, "%s: %s\n", path, oneLine(err.Error()))
		return ExitTimeout
	case errors.Is(err, errSilent):
		return ExitFailed
	}
	fmt.Fprintf(r.env.Err, "%s: %s\n", path, oneLine(err.Error()))
	return ExitFailed
}

// ExitFor is the exit status for an error of the core.
func ExitFor(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, backend.ErrInvalid), errors.Is(err, backend.ErrNotFound):
		return ExitUsage
	case errors.Is(err, backend.ErrDenied):
		return ExitDenied
	case errors.Is(err, backend.ErrTimeout):
		return ExitTimeout
	}
	return ExitFailed
}

// errSilent fails a command that already said why (a JSON result with
// its error inside).
var errSilent = errors.New("failed")

// oneLine keeps an error to its first line, sanitised: errors may quote
// node names from the mesh.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return format.Clean(s)
}

// runner holds one command line's state.
type runner struct {
	env  Env
	json bool
	// ran is set once a command's own code runs: errors before that are
	// the command library's flag and argument errors.
	ran bool
}

func (r *runner) ctx() context.Context { return r.env.Ctx }

func (r *runner) c() backend.Caller { return r.env.Caller }

// writeJSON prints one JSON document, indented the same way everywhere
// and without HTML escaping (& stays &).
func (r *runner) writeJSON(v any) error {
	enc := json.NewEncoder(r.env.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeLine prints one compact JSON object on one line (--follow).
func (r *runner) writeLine(v any) error {
	enc := json.NewEncoder(r.env.Out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printf writes text output.
func (r *runner) printf(format string, args ...any) {
	fmt.Fprintf(r.env.Out, format, args...)
}

// note writes a progress or notice line to stderr (never mixed into JSON).
func (r *runner) note(format string, args ...any) {
	fmt.Fprintf(r.env.Err, "meshgate: "+format+"\n", args...)
}

// Argument checks with one-line reasons.

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// subcommands refuses anything but a known subcommand.
func subcommands(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, s := range cmd.Commands() {
		if !s.Hidden && s.Name() != "help" {
			names = append(names, s.Name())
		}
	}
	return usagef("unknown subcommand %q (one of: %s)", args[0], strings.Join(names, ", "))
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usagef("want %s", what)
		case len(args) > n:
			return usagef("unexpected argument %q (want %s; quote text that has spaces)", args[n], what)
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("want %s", what)
		}
		return nil
	}
}

// radioFlag adds -r/--radio.
func radioFlag(fs *pflag.FlagSet, v *string) {
	fs.StringVarP(v, "radio", "r", "", "the radio to use (see: radios); optional when your key may use only one")
}

// waitFlag adds --wait, the bound on waiting for a radio's link.
func waitFlag(fs *pflag.FlagSet, v *time.Duration) {
	durationVar(fs, v, "wait", 20*time.Second, "how long to wait for the radio to connect")
}

// durationVar adds a duration flag whose default in --help can be typed
// back ("1h", where pflag's own shows "1h0m0s") and whose error for a bad
// value shows what a duration looks like.
func durationVar(fs *pflag.FlagSet, v *time.Duration, name string, def time.Duration, usage string) {
	*v = def
	fs.Var((*durationValue)(v), name, usage)
}

type durationValue time.Duration

func (d *durationValue) Type() string { return "duration" }

func (d *durationValue) String() string {
	if *d == 0 {
		return "0" // the one zero pflag leaves out of --help
	}
	return format.Typed(time.Duration(*d))
}

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (write it like 30s, 15m, 2h or 1h30m)")
	}
	*d = durationValue(v)
	return nil
}

// run wraps a command's body: it marks the command as started (so its
// errors are not mistaken for flag errors).
func (r *runner) run(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		r.ran = true
		return f(cmd, args)
	}
}

// opAnnotation records the core operation a command performs; help marks
// commands the caller's role may not run.
const opAnnotation = "op"

func withOp(c *cobra.Command, op backend.Op) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[opAnnotation] = string(op)
	return c
}

// ParseTUI reads "tui [-r RADIO]" (the UI bound to a radio) and returns
// the radio named, "" for none.
func ParseTUI(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", nil
	}
	fs := pflag.NewFlagSet("tui", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var name string
	radioFlag(fs, &name)
	if err := fs.Parse(argv[1:]); err != nil {
		return "", usagef("%s (see: help tui)", err.Error())
	}
	if fs.NArg() > 0 {
		return "", usagef("unexpected argument %q (see: help tui)", fs.Arg(0))
	}
	return name, nil
}
