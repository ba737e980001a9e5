package server

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/radio"
)

// command is one exec command of the scripting interface.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	role    auth.Role
	run     func(e *execEnv, fs *flag.FlagSet, args []string) int
	flags   func(fs *flag.FlagSet)
}

// commands is the whole exec interface, in help order.
func commands() []*command {
	return []*command{
		{name: "tui", args: "[-r RADIO]", summary: "the terminal UI (needs ssh -t), optionally bound to a radio", role: auth.Viewer, run: (*execEnv).cmdTUINoPTY},
		{name: "help", args: "[COMMAND]", summary: "list commands, or show one command's flags", role: auth.Viewer, run: (*execEnv).cmdHelp},
		{name: "whoami", args: "[--json]", summary: "your identity, role and allowed radios", role: auth.Viewer, run: (*execEnv).cmdWhoami},
		{name: "radios", args: "[--json]", summary: "the radios you may use and their link state", role: auth.Viewer, run: (*execEnv).cmdRadios},
		{name: "nodes", args: "-r RADIO [--filter all|rf|mqtt|nearby] [--sort heard|name|hops|snr] [--json]", summary: "the radio's node list", role: auth.Viewer, run: (*execEnv).cmdNodes},
		{name: "messages", args: "-r RADIO [--limit N] [--json]", summary: "recent text messages", role: auth.Viewer, run: (*execEnv).cmdMessages},
		{name: "packets", args: "-r RADIO [--limit N] [--follow] [--json]", summary: "recent packets; --follow streams new ones until you disconnect", role: auth.Viewer, run: (*execEnv).cmdPackets},
		{name: "mqtt", args: "-r RADIO [--json]", summary: "MQTT settings and how much traffic arrives via MQTT", role: auth.Viewer, run: (*execEnv).cmdMQTT},
		{name: "config", args: "-r RADIO [--json]", summary: "the radio's configuration (secrets hidden)", role: auth.Viewer, run: (*execEnv).cmdConfig},
		{name: "send", args: "-r RADIO [--to !NODE] [--channel N] [--no-wait] TEXT", summary: "send a text; waits for the ack unless --no-wait", role: auth.Operator, run: (*execEnv).cmdSend},
		{name: "traceroute", args: "-r RADIO [--json] !NODE", summary: "trace the route to a node and back (queued: one per 30 s per radio)", role: auth.Operator, run: (*execEnv).cmdTraceroute},
		{name: "reboot", args: "-r RADIO --yes [--delay 5s]", summary: "reboot the radio", role: auth.Admin, run: (*execEnv).cmdReboot},
		{name: "shutdown", args: "-r RADIO --yes", summary: "power the radio off (it stays off until someone presses its button)", role: auth.Admin, run: (*execEnv).cmdShutdown},
		{name: "factory-reset", args: "-r RADIO --yes [--device]", summary: "restore factory settings (--device also wipes keys and NodeDB)", role: auth.Admin, run: (*execEnv).cmdFactoryReset},
		{name: "nodedb-reset", args: "-r RADIO --yes [--keep-favorites]", summary: "empty the radio's node database", role: auth.Admin, run: (*execEnv).cmdNodeDBReset},
		{name: "history", args: "-r RADIO [--limit N] [--json]", summary: "stored text messages, from before the gateway restarted too", role: auth.Viewer, run: (*execEnv).cmdHistory},
		{name: "rules", args: "[-r RADIO] | add -r RADIO --trigger TEXT --reply TEMPLATE [flags] | rm|enable|disable ID | test ID TEXT", summary: "auto-responder rules (operators manage their own; admins any)", role: auth.Viewer, run: (*execEnv).cmdRules},
		{name: "filters", args: "| add [-r RADIO] [--allow] [--radio-wide] --node|--port|--channel|--text|--regex V | rm|enable|disable ID", summary: "message filters: yours change only your views; radio-wide ones (admins) what history and responder ignore", role: auth.Viewer, run: (*execEnv).cmdFilters},
		{name: "beacon", args: "-r RADIO [set --template T --interval 1h [--channel N] | start | stop | test | rm]", summary: "a periodic broadcast from the radio", role: auth.Viewer, run: (*execEnv).cmdBeacon},
		{name: "audit", args: "[--limit N] [--json]", summary: "who changed what: admin actions, config changes, kicks, rules", role: auth.Admin, run: (*execEnv).cmdAudit},
		{name: "sessions", args: "[--json]", summary: "every open session on the gateway", role: auth.Admin, run: (*execEnv).cmdSessions},
		{name: "kick", args: "SESSION_ID [--reason TEXT]", summary: "close another session", role: auth.Admin, run: (*execEnv).cmdKick},
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run executes one command line and returns its exit status.
func (e *execEnv) run(argv []string) int {
	e.rec.Touch()
	name := argv[0]
	c := findCommand(name)
	if c == nil {
		return e.usage(name, fmt.Sprintf("unknown command %q (try: help)", name))
	}
	if e.id.Role < c.role {
		e.s.log.Warn("command denied", "session", e.rec.ID(), "user", e.id.Name, "command", name, "role", e.id.Role)
		fmt.Fprintf(e.errOut, "meshgate %s: permission denied: needs the %s role (you are %s)\n", name, c.role, e.id.Role)
		return exitDenied
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return c.run(e, fs, argv[1:])
}

// usage reports a bad command line in one line, exit status 2.
func (e *execEnv) usage(cmd, reason string) int {
	fmt.Fprintf(e.errOut, "meshgate %s: %s\n", cmd, reason)
	return exitUsage
}

// fail reports a failed command in one line.
func (e *execEnv) fail(cmd string, code int, err error) int {
	fmt.Fprintf(e.errOut, "meshgate %s: %v\n", cmd, err)
	return code
}

// parse parses flags anywhere on the line ("nodes --json -r base" and
// "send -r base hello --to !1234" both work). It returns the positional
// arguments, or ok=false after printing help or a usage error.
func (e *execEnv) parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	help := fs.Bool("help", false, "show this command's flags")
	fs.BoolVar(help, "h", false, "show this command's flags")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, e.usage(fs.Name(), err.Error()+" (see: help "+fs.Name()+")"), false
		}
		if *help {
			e.printUsage(fs)
			return nil, exitOK, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *execEnv) printUsage(fs *flag.FlagSet) {
	c := findCommand(fs.Name())
	fmt.Fprintf(e.out, "usage: %s %s\n\n%s (role: %s)\n\nflags:\n", c.name, c.args, c.summary, c.role)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" || f.Name == "help" {
			return
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(e.out, "  --%-16s %s%s\n", f.Name, f.Usage, def)
	})
}

func (e *execEnv) cmdHelp(fs *flag.FlagSet, args []string) int {
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 1 {
		c := findCommand(pos[0])
		if c == nil {
			return e.usage("help", fmt.Sprintf("unknown command %q", pos[0]))
		}
		// Show the command's own flags by asking it for --help.
		sub := flag.NewFlagSet(c.name, flag.ContinueOnError)
		sub.SetOutput(io.Discard)
		return c.run(e, sub, []string{"--help"})
	}
	fmt.Fprintf(e.out, "meshgate: shared Meshtastic radios. Usage: ssh GATEWAY COMMAND [flags]\n\n")
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		mark := ""
		if e.id.Role < c.role {
			mark = " (" + c.role.String() + " only)"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", c.name, c.summary, mark)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.out, "\nEvery command takes --json where it prints data, and -h for its flags.\n"+
		"Without a command you get the interactive screen (use ssh -t).\n")
	return exitOK
}

// writeJSON prints one JSON document.
func (e *execEnv) writeJSON(v any) int {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFailed
	}
	return exitOK
}

// radioFlag registers -r/--radio on fs.
func radioFlag(fs *flag.FlagSet) *string {
	r := fs.String("radio", "", "the radio to use (see: radios)")
	fs.StringVar(r, "r", "", "the radio to use (see: radios)")
	return r
}

// allowedRadios lists the configured radios this identity may use.
func (e *execEnv) allowedRadios() []string {
	var out []string
	for _, n := range e.s.radios.Names() {
		if e.id.MayUse(n) {
			out = append(out, n)
		}
	}
	return out
}

// pickRadio resolves -r: a configured radio the user may use, the only one
// they may use when -r is missing, or (admins) an address inside the
// allowed dial ranges.
func (e *execEnv) pickRadio(cmd, name string) (*radio.Broker, int, bool) {
	allowed := e.allowedRadios()
	if name == "" {
		if len(allowed) == 1 {
			name = allowed[0]
		} else {
			return nil, e.usage(cmd, fmt.Sprintf("choose a radio with -r (one of: %s)", strings.Join(allowed, ", "))), false
		}
	}
	b, err := e.s.radios.Get(name)
	if err == nil {
		if !e.id.MayUse(name) {
			fmt.Fprintf(e.errOut, "meshgate %s: permission denied: your key may not use radio %q\n", cmd, name)
			return nil, exitDenied, false
		}
		return b, 0, true
	}
	if strings.ContainsAny(name, ":/") {
		if e.id.Role < auth.Admin {
			fmt.Fprintf(e.errOut, "meshgate %s: permission denied: only admins may dial an address\n", cmd)
			return nil, exitDenied, false
		}
		b, err := e.s.radios.Adhoc(name)
		if err != nil {
			fmt.Fprintf(e.errOut, "meshgate %s: %v\n", cmd, err)
			return nil, exitDenied, false
		}
		e.s.log.Info("ad-hoc radio", "session", e.rec.ID(), "user", e.id.Name, "address", name)
		return b, 0, true
	}
	return nil, e.usage(cmd, fmt.Sprintf("no radio named %q (one of: %s)", name, strings.Join(allowed, ", "))), false
}

// open resolves the radio a command names and attaches the session to it
// (see pickRadio and attach); the caller defers the returned detach.
func (e *execEnv) open(cmd, name string, wait time.Duration) (*radio.Broker, *radio.Subscription, func(), int, bool) {
	b, code, ok := e.pickRadio(cmd, name)
	if !ok {
		return nil, nil, nil, code, false
	}
	sub, detach, code, ok := e.attach(cmd, b, wait)
	if !ok {
		return nil, nil, nil, code, false
	}
	return b, sub, detach, 0, true
}

// attach binds the session to the radio, makes the broker connect, and
// waits (bounded) for the link. The returned func detaches.
func (e *execEnv) attach(cmd string, b *radio.Broker, wait time.Duration) (*radio.Subscription, func(), int, bool) {
	sub := b.Subscribe(e.rec.ID())
	e.rec.Bind(b.Name())
	e.s.log.Info("radio bound", "session", e.rec.ID(), "user", e.id.Name, "radio", b.Name())
	ctx, cancel := context.WithTimeout(e.ctx, wait)
	defer cancel()
	if err := b.WaitConnected(ctx); err != nil {
		sub.Close()
		code := exitFailed
		if errors.Is(err, context.DeadlineExceeded) {
			code = exitTimeout
		}
		return nil, nil, e.fail(cmd, code, err), false
	}
	return sub, sub.Close, 0, true
}

func sortedKeys[M ~map[K]V, K ~string, V any](m M) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// cmdTUINoPTY answers "tui" without a terminal.
func (e *execEnv) cmdTUINoPTY(fs *flag.FlagSet, args []string) int {
	radioFlag(fs)
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	return e.usage("tui", "the terminal UI needs a terminal: use ssh -t")
}
