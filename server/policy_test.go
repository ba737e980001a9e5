package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/command"
)

// Every operation, for every role, over real SSH: the exec command is
// refused (exit 3, "permission denied") exactly when the core's policy
// table says so, with the role it needs in the reason. The UI's answers
// are checked against the same table in tui/.
func TestPolicyThroughExec(t *testing.T) {
	vera := newUser(t, "vera", `role="viewer"`)
	otto := newUser(t, "otto", `role="operator"`)
	olga := newUser(t, "olga", `role="operator"`)
	ada := newUser(t, "ada", `role="admin"`)
	g := startGateway(t, gwOptions{users: []*user{vera, otto, olga, ada}, radios: []string{"base", "field"}})
	node := rfNode(t, g, 0).GetUser().GetId()

	// olga owns a rule and a filter; ada owns the beacon.
	id := func(r result) string {
		var v struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.ID == 0 {
			t.Fatalf("fixture: %+v", r)
		}
		return strconv.FormatInt(v.ID, 10)
	}
	rule := id(g.run(t, olga, "rules add -r base --trigger ping --reply pong --json"))
	filter := id(g.run(t, olga, "filters add --text spam --json"))
	if r := g.run(t, ada, "beacon set -r base --template hi --interval 1h"); r.code != 0 {
		t.Fatalf("beacon: %+v", r)
	}

	type tc struct {
		op   backend.Op
		line string
		// others: the line acts on what olga owns.
		others bool
	}
	cases := []tc{
		{backend.OpWhoami, "whoami", false},
		{backend.OpRadios, "radios", false},
		{backend.OpNodes, "nodes -r base", false},
		{backend.OpMessages, "messages -r base", false},
		{backend.OpHistory, "history -r base", false},
		{backend.OpPackets, "packets -r base", false},
		{backend.OpMQTT, "mqtt -r base", false},
		{backend.OpConfig, "config -r base", false},
		{backend.OpTraceHistory, "traceroute -r base --history", false},
		{backend.OpRules, "rules", false},
		{backend.OpRuleTest, "rules test " + rule + " ping", false},
		{backend.OpFilters, "filters", false},
		{backend.OpBeacon, "beacon -r base", false},
		{backend.OpSend, "send -r base --no-wait hello", false},
		{backend.OpTraceroute, "traceroute -r base " + node, false},
		{backend.OpSweep, "sweep -r base --plan", false},
		{backend.OpRequest, "request -r base --timeout 3s nodeinfo " + node, false},
		{backend.OpRuleAdd, "rules add -r base --trigger hello --reply hi", false},
		{backend.OpRuleChange, "rules disable " + rule, true},
		{backend.OpFilterAdd, "filters add --text junk", false},
		{backend.OpFilterEdit, "filters disable " + filter, true},
		{backend.OpBeaconSet, "beacon set -r base --template hi --interval 1h", true},
		{backend.OpBeaconStart, "beacon stop -r base", true},
		{backend.OpBeaconTest, "beacon test -r base", true},
		{backend.OpRadioFilter, "filters add -r base --radio-wide --text spam", false},
		{backend.OpSessions, "sessions", false},
		{backend.OpKick, "kick 00000000", false},
		{backend.OpAudit, "audit", false},
		{backend.OpDial, "nodes -r 127.0.0.1:9", false},
		{backend.OpConfigSet, "config set -r field lora.hop_limit 3", false},
		{backend.OpMQTTSet, "mqtt set -r field enabled false", false},
		{backend.OpNodeDBReset, "nodedb-reset -r field --yes", false},
		{backend.OpReboot, "reboot -r field --yes --delay 0s", false},
		{backend.OpFactoryReset, "factory-reset -r field --yes", false},
		{backend.OpBeaconRm, "beacon rm -r base", true},
		{backend.OpShutdown, "shutdown -r field --yes", false},
	}
	seen := map[backend.Op]bool{}
	for _, c := range cases {
		seen[c.op] = true
		need := backend.MinRole(c.op)
		for _, u := range []*user{vera, otto, ada} {
			role := map[*user]auth.Role{vera: auth.Viewer, otto: auth.Operator, ada: auth.Admin}[u]
			r := g.run(t, u, c.line)
			wantDenied := role < need || (c.others && role < auth.Admin)
			denied := r.code == exitDenied && strings.Contains(r.stderr, "permission denied")
			if c.op == backend.OpFilterEdit && c.others && role == auth.Operator {
				// Another user's personal filter is not shown to an
				// operator at all: "no filter N" rather than denied.
				wantDenied, denied = true, r.code == command.ExitUsage && strings.Contains(r.stderr, "no filter")
			}
			if c.op == backend.OpDial && role == auth.Admin {
				// Allowed to dial, but only inside --allow-dial ranges
				// (none here): refused by the range, not the role.
				if !strings.Contains(r.stderr, "allowed dial ranges") {
					t.Errorf("%s as admin: %+v", c.line, r)
				}
				continue
			}
			if denied != wantDenied {
				t.Errorf("%s as %s: exit %d stderr %q; want denied=%v", c.line, role, r.code, r.stderr, wantDenied)
				continue
			}
			if role < need && !strings.Contains(r.stderr, "needs the "+need.String()+" role (you are "+role.String()+")") {
				t.Errorf("%s as %s: refusal does not name the role: %q", c.line, role, r.stderr)
			}
		}
	}
	for _, op := range backend.Ops() {
		if !seen[op] {
			t.Errorf("operation %s is not covered", op)
		}
	}
}
