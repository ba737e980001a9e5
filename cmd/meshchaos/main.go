// Command meshchaos measures how a real `meshgate serve` process holds up
// when things go wrong: a radio that keeps dropping off, the gateway
// killed with SIGKILL under load, another app fighting for the radio,
// clients that stop reading, an hour of steady use, and a flood of
// strangers beside the team. It runs everything on loopback against
// simulated radios and real SSH clients, and prints the figures that
// docs/reliability.md publishes.
//
//	go build -o bin/meshgate ./cmd/meshgate
//	go run ./cmd/meshchaos -meshgate bin/meshgate            # short: a few minutes
//	go run ./cmd/meshchaos -meshgate bin/meshgate -long      # the published run
//	go run ./cmd/meshchaos -meshgate bin/meshgate -only flap,crash
//
// It exits 1 when a scenario misses one of its targets, 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// scenario is one experiment. It returns its figures and the targets it
// missed (an empty list: all met).
type scenario struct {
	name string
	run  func(ctx context.Context, e *env) (*report, error)
}

var scenarios = []scenario{
	{"flap", runFlap},
	{"crash", runCrash},
	{"contention", runContention},
	{"slow", runSlow},
	{"soak", runSoak},
	{"abuse", runAbuse},
}

// env is what every scenario gets: the binary, a scratch directory, the
// run's settings and where to print progress.
type env struct {
	bin  string
	root string
	set  settings
	log  io.Writer
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("meshchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("meshgate", "bin/meshgate", "the meshgate binary to test")
	fs.Bool("long", false, "the full published run (about 1 h 30 min) instead of the short one (a few minutes)")
	only := fs.String("only", "", "comma-separated scenarios to run ("+names()+"; default all)")
	out := fs.String("json", "", "also write the figures as JSON to this file")
	keep := fs.Bool("keep", false, "keep the scratch directory (gateway logs and databases)")
	// The preset decides the flags' defaults, so -h shows the values a
	// run will use and an explicit flag still wins over the preset.
	set := shortSettings()
	for _, a := range args {
		if a == "-long" || a == "--long" || a == "-long=true" || a == "--long=true" {
			set = longSettings()
		}
	}
	set.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: meshchaos [-long] [-only LIST] [-json FILE] [flags]\n\nFlags (each scenario's size; -long changes the defaults to the published run's):\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meshchaos: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	var chosen []scenario
	for _, s := range scenarios {
		if *only == "" || slices.Contains(strings.Split(*only, ","), s.name) {
			chosen = append(chosen, s)
		}
	}
	for _, n := range strings.Split(*only, ",") {
		if n != "" && !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == n }) {
			fmt.Fprintf(stderr, "meshchaos: no scenario %q (there are %s)\n", n, names())
			return 2
		}
	}
	absBin, err := filepath.Abs(*bin)
	if err == nil {
		_, err = os.Stat(absBin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshchaos: the meshgate binary: %v (build it with `make build`)\n", err)
		return 2
	}
	root, err := os.MkdirTemp("", "meshchaos-")
	if err != nil {
		fmt.Fprintln(stderr, "meshchaos:", err)
		return 1
	}
	if *keep {
		fmt.Fprintf(stderr, "meshchaos: scratch directory %s\n", root)
	} else {
		defer os.RemoveAll(root)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{bin: absBin, root: root, set: set, log: stderr}
	all := map[string]*report{}
	failed := false
	for _, s := range chosen {
		e.logf("== %s", s.name)
		start := time.Now()
		rep, err := s.run(ctx, e)
		if err != nil {
			fmt.Fprintf(stdout, "\n## %s\nerror: %v\n", s.name, err)
			failed = true
			continue
		}
		rep.Seconds = time.Since(start).Seconds()
		all[s.name] = rep
		rep.print(stdout, s.name)
		if len(rep.Missed) > 0 {
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "meshchaos:", err)
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

func names() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return strings.Join(n, ", ")
}

// report is a scenario's outcome: figures by name, in order, and the
// targets it missed.
type report struct {
	Figures []figure `json:"figures"`
	Missed  []string `json:"missed"`
	Seconds float64  `json:"seconds"`
}

type figure struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (r *report) add(name, format string, args ...any) {
	r.Figures = append(r.Figures, figure{name, fmt.Sprintf(format, args...)})
}

// check records a target: met or missed.
func (r *report) check(ok bool, target string) {
	if !ok {
		r.Missed = append(r.Missed, target)
	}
}

func (r *report) print(w io.Writer, name string) {
	fmt.Fprintf(w, "\n## %s (%.0f s)\n", name, r.Seconds)
	for _, f := range r.Figures {
		fmt.Fprintf(w, "- %s: %s\n", f.Name, f.Value)
	}
	if len(r.Missed) == 0 {
		fmt.Fprintln(w, "- targets: all met")
	}
	for _, m := range r.Missed {
		fmt.Fprintf(w, "- MISSED: %s\n", m)
	}
}
