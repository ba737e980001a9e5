package command

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// fixture is a core over one simulated radio, for running commands in
// process (the SSH path is tested in server/).
type fixture struct {
	core *backend.Backend
	sim  *sim.Radio
	mgr  *sessions.Manager
	db   *store.Store
	reg  *radio.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := simtest.Fast(7, 8)
	cfg.Limits = sim.RateLimits{Text: -1, Traceroute: -1}
	r, addr := simtest.Start(t, cfg)
	db, err := store.Open(filepath.Join(t.TempDir(), "meshgate.db"), store.Options{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := radio.NewRegistry(ctx, radio.Config{Grace: 100 * time.Millisecond, TextPace: 10 * time.Millisecond,
		TracePace: 50 * time.Millisecond, Store: db, Automation: radio.NewAutomation(db, nil)}, nil)
	t.Cleanup(func() { cancel(); reg.Wait(); _ = db.Close() })
	if _, err := reg.Add("base", addr); err != nil {
		t.Fatal(err)
	}
	mgr := sessions.NewManager(sessions.Config{})
	return &fixture{core: backend.New(backend.Deps{Radios: reg, Sessions: mgr, Store: db}), sim: r, mgr: mgr, db: db, reg: reg}
}

type result struct {
	code        int
	out, errOut string
}

// run runs one command line as a user of role.
func (f *fixture) run(t *testing.T, role auth.Role, line string) result {
	t.Helper()
	rec, err := f.mgr.Open(sessions.User{Name: role.String(), Fingerprint: "SHA256:" + role.String(), Role: role.String(), Kind: sessions.Exec})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := Env{Ctx: ctx, Backend: f.core, Out: &out, Err: &errOut,
		Caller: backend.Caller{Identity: auth.Identity{Name: role.String(), Fingerprint: "SHA256:" + role.String(), Role: role}, Session: rec, Via: "exec"}}
	code := RunLine(env, line)
	return result{code, out.String(), errOut.String()}
}

// paths lists every command path of the tree ("rules add").
func paths() []string {
	r := &runner{env: Env{Caller: backend.Caller{Identity: auth.Identity{Role: auth.Admin}}}}
	var out []string
	var walk func(c *cobra.Command, prefix string)
	walk = func(c *cobra.Command, prefix string) {
		for _, s := range c.Commands() {
			if s.Name() == "help" {
				continue
			}
			p := strings.TrimSpace(prefix + " " + s.Name())
			out = append(out, p)
			walk(s, p)
		}
	}
	walk(r.tree(), "")
	return out
}

// Every command and subcommand prints its real flags for -h, --help and
// `help CMD SUB`, never panics, and exits 0.
func TestHelpEveryCommand(t *testing.T) {
	f := newFixture(t)
	r := &runner{env: Env{Caller: backend.Caller{Identity: auth.Identity{Role: auth.Admin}}}}
	root := r.tree()
	all := paths()
	if len(all) < 30 {
		t.Fatalf("only %d commands found", len(all))
	}
	for _, p := range all {
		c, _, err := root.Find(strings.Fields(p))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{p + " -h", p + " --help", "help " + p} {
			res := f.run(t, auth.Viewer, line)
			if res.code != 0 || res.errOut != "" {
				t.Errorf("%q: exit %d, stderr %q", line, res.code, res.errOut)
				continue
			}
			if !strings.Contains(res.out, "usage: ssh GATEWAY "+p) {
				t.Errorf("%q: no usage line for %q:\n%s", line, p, res.out)
			}
			if strings.Contains(res.out, "--r ") {
				t.Errorf("%q: -r is listed as --r:\n%s", line, res.out)
			}
			c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
				if !strings.Contains(res.out, "--"+fl.Name) {
					t.Errorf("%q: flag --%s is not listed:\n%s", line, fl.Name, res.out)
				}
			})
			if c.Flags().Lookup("radio") != nil && !strings.Contains(res.out, "-r, --radio") {
				t.Errorf("%q: -r, --radio is not listed:\n%s", line, res.out)
			}
			// A default shown is one the user can type back: "1h", not "1h0m0s".
			for _, bad := range []string{"m0s", "h0m", "(default 0s)", "(default 0)"} {
				if strings.Contains(res.out, bad) {
					t.Errorf("%q shows %q:\n%s", line, bad, res.out)
				}
			}
		}
	}
	res := f.run(t, auth.Viewer, "help")
	for _, p := range all {
		if !strings.Contains(p, " ") && !strings.Contains(res.out, "  "+p+" ") {
			t.Errorf("help does not list %q", p)
		}
	}
	if !strings.Contains(res.out, "send") || !strings.Contains(res.out, "(operator role)") {
		t.Errorf("a viewer's help does not mark operator commands:\n%s", res.out)
	}
}

// Bad command lines are usage errors (exit 2) with a one-line reason.
func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ line, want string }{
		{"frob", `unknown command "frob"`},
		{"rules frob", `unknown subcommand "frob" (one of: add, disable, enable, rm, test)`},
		{"filters frob", `unknown subcommand "frob"`},
		{"beacon frob", `unknown subcommand "frob"`},
		{"config frob", `unknown subcommand "frob"`},
		{"nodes -r base extra", `unexpected argument "extra"`},
		{"whoami now", `unexpected argument "now"`},
		// What ssh makes of: rules add ... --reply 'pong {sender_name} hops={hops}'
		{"rules add -r base --trigger ping --reply pong {sender_name} hops={hops}", `unexpected argument "{sender_name}"`},
		{"send -r base --no-wait it's fine", `unbalanced quote`},
		{"send -r base --no-wait it's fine", `quote the whole command once more`},
		{"send -r base $HOME", `$NAME would be expanded`},
		{"send -r base a; reboot --yes", `one command per line`},
		{"help nope", `no command "nope"`},
		{"help rules nope", `no command "rules nope"`},
		{"nodes --bogus", `unknown flag: --bogus (see: help nodes)`},
		{"rules rm x", `"x" is not a rule id`},
		{"kick", `want a session id`},
		{"traceroute -r base", `want exactly one node`},
		{"traceroute -r base !1 !2", `unexpected argument "!2"`},
		{"request -r base weather !00000001", `"weather": want position, telemetry or nodeinfo`},
		{"config set -r base lora.hop_limit", `want KEY VALUE pairs`},
		{"telemetry -r base !00000001 --since 5x", `invalid argument "5x" for "--since" flag: not a duration (write it like 30s, 15m, 2h or 1h30m)`},
	} {
		res := f.run(t, auth.Admin, c.line)
		if res.code != ExitUsage || !strings.Contains(res.errOut, c.want) || strings.Count(strings.TrimSpace(res.errOut), "\n") != 0 {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q on one line", c.line, res.code, res.errOut, c.want)
		}
	}
}

// Quotes survive: the text sent is exactly the one quoted.
func TestQuotedTextIsSentIntact(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ line, text string }{
		{`send -r base --no-wait "it's fine"`, "it's fine"},
		{`send -r base --no-wait 'say "hi"'`, `say "hi"`},
		{`send -r base --no-wait two  words`, "two words"},
		{`send -r base --no-wait 'a & b < c'`, "a & b < c"},
	} {
		res := f.run(t, auth.Operator, c.line)
		if res.code != 0 {
			t.Fatalf("%q: %+v", c.line, res)
		}
		out := f.run(t, auth.Viewer, "messages -r base --json")
		if !strings.Contains(out.out, `"text": `+quoteJSON(c.text)) {
			t.Errorf("%q: sent text not %q in\n%s", c.line, c.text, out.out)
		}
	}
	// JSON keeps & as it is.
	if out := f.run(t, auth.Viewer, "messages -r base --json"); strings.Contains(out.out, `\u0026`) {
		t.Errorf("& escaped in JSON:\n%s", out.out)
	}
}

func quoteJSON(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// Text from the mesh with terminal escape sequences and bidi overrides
// comes out of every text command neutralised.
func TestMeshTextNeutralised(t *testing.T) {
	f := newFixture(t)
	if res := f.run(t, auth.Viewer, "nodes -r base"); res.code != 0 {
		t.Fatalf("nodes: %+v", res)
	}
	evil := "\x1b]0;pwned\x07\x1b[2J\u202eevil"
	var from uint32
	var key []byte
	for _, n := range f.sim.Nodes() {
		if n.GetNum() != f.sim.MyNodeNum() && !n.GetViaMqtt() {
			from, key = n.GetNum(), n.GetUser().GetPublicKey()
			break
		}
	}
	bf := uint32(1)
	f.sim.Inject(&pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: 0x7001, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(evil), Bitfield: &bf}}})
	// A name with the same sequences, from the same node.
	user, _ := proto.Marshal(&pb.User{Id: meshtastic.NodeID(from), LongName: "\x1b[31mred\u202e", ShortName: "E\x07V", PublicKey: key})
	f.sim.Inject(&pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: 0x7002, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_NODEINFO_APP, Payload: user}}})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.run(t, auth.Viewer, "messages -r base --json").out, "pwned") {
		if time.Now().After(deadline) {
			t.Fatal("the message never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var once sync.Once
	for _, line := range []string{"messages -r base", "history -r base", "packets -r base", "packets -r base --history", "nodes -r base"} {
		var res result
		deadline := time.Now().Add(10 * time.Second)
		for {
			res = f.run(t, auth.Viewer, line)
			if strings.Contains(res.out, "pwned") || strings.Contains(res.out, "red") || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond) // history is written in batches
		}
		if !strings.Contains(res.out, "pwned") && !strings.Contains(res.out, "red") {
			t.Errorf("%s: the message is not shown:\n%s", line, res.out)
		}
		if strings.ContainsAny(res.out, "\x1b\x07\u202e") {
			once.Do(func() {})
			t.Errorf("%s: escape sequences reach the terminal: %q", line, res.out)
		}
	}
}

// The core's guards reach the exec commands: they fail at once with the
// reason, before anything goes on the air.
func TestGuards(t *testing.T) {
	f := newFixture(t)
	self := meshtastic.NodeID(f.sim.MyNodeNum())
	for _, c := range []struct {
		line string
		code int
		want string
	}{
		{"rules add -r base --trigger a --reply b --cooldown 1s", ExitUsage, "cooldown 1s is below the minimum of 30s"},
		{"traceroute -r base " + self, ExitUsage, "own node"},
		{"traceroute -r base ^all", ExitUsage, "every node"},
		{"traceroute -r base !abc", ExitUsage, "8 hex digits"},
		{"send -r base --to !961f0e9 hi", ExitUsage, "(this has 7)"},
		{"send -r base --channel 3 hi", ExitUsage, "channel 3 is not enabled"},
		{"send -r base --to " + self + " hi", ExitUsage, "own node"},
		{"beacon set -r base --template hi --interval 1m", ExitUsage, "15m"},
		{"reboot -r base", ExitUsage, "add --yes"},
	} {
		start := time.Now()
		res := f.run(t, auth.Admin, c.line)
		if res.code != c.code || !strings.Contains(res.errOut, c.want) {
			t.Errorf("%q: exit %d stderr %q, want %d and %q", c.line, res.code, res.errOut, c.code, c.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%q took %s: the guard did not refuse at once", c.line, d)
		}
	}
}

// telemetry names the node a name matched, then one row per reading with
// units; a powered node's battery reads "ext" as in nodes.
func TestTelemetryText(t *testing.T) {
	f := newFixture(t)
	var node *pb.NodeInfo
	for _, n := range f.sim.Nodes() {
		if n.GetNum() != f.sim.MyNodeNum() && n.GetUser().GetLongName() != "" {
			node = n
			break
		}
	}
	u := node.GetUser()
	br, err := f.reg.Get("base")
	if err != nil {
		t.Fatal(err)
	}
	sub := br.Subscribe("names") // names come from the connected radio's node list
	defer sub.Close()
	if err := br.WaitConnected(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := f.run(t, auth.Viewer, "telemetry -r base "+node.GetUser().GetId()); res.code != 0 ||
		!strings.HasPrefix(res.out, "no telemetry from ") || !strings.HasSuffix(res.out, " in the last 24h\n") {
		t.Fatalf("before any reading: %+v", res)
	}
	level, powered, volts := uint32(87), uint32(101), 3.91
	at := time.Now().Add(-5 * time.Minute)
	f.db.AddTelemetry(store.Telemetry{Radio: "base", Node: node.GetNum(), At: at, BatteryLevel: &level, Voltage: &volts})
	f.db.AddTelemetry(store.Telemetry{Radio: "base", Node: node.GetNum(), At: at.Add(time.Minute), BatteryLevel: &powered})
	var res result
	deadline := time.Now().Add(5 * time.Second)
	for {
		res = f.run(t, auth.Viewer, "telemetry -r base --since 2h "+u.GetId())
		if strings.Count(res.out, "\n") == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSuffix(res.out, "\n"), "\n")
	want := u.GetLongName() + " (" + u.GetShortName() + ", " + u.GetId() + "): 2 readings in the last 2h"
	if res.code != 0 || len(lines) != 4 || lines[0] != want {
		t.Fatalf("got %+v, want first line %q and 4 lines", res, want)
	}
	if f := strings.Fields(lines[2]); len(f) < 3 || f[0] != "5m" || f[1] != "87%" || f[2] != "3.91V" {
		t.Errorf("first reading: %q", lines[2])
	}
	if f := strings.Fields(lines[3]); len(f) < 3 || f[0] != "4m" || f[1] != "ext" || f[2] != "-" {
		t.Errorf("second reading: %q", lines[3])
	}
}
