package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/command"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// rfNode returns the id of a named node heard over RF on the gateway's radio.
func rfNode(t *testing.T, g *gateway, skip int) *pb.NodeInfo {
	t.Helper()
	r := g.sims["base"]
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() && n.GetUser().GetShortName() != "" {
			if skip == 0 {
				return n
			}
			skip--
		}
	}
	t.Fatal("no node")
	return nil
}

func inject(g *gateway, from uint32, id uint32, text string) {
	bf := uint32(1)
	g.sims["base"].Inject(&pb.MeshPacket{From: from, To: meshtastic.Broadcast, Id: id, HopStart: 3, HopLimit: 3,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(text), Bitfield: &bf}}})
}

func TestRulesFiltersAuditAndRestart(t *testing.T) {
	op := newUser(t, "otto", `role="operator"`)
	op2 := newUser(t, "olga", `role="operator"`)
	admin := newUser(t, "ada", `role="admin"`)
	users := []*user{op, op2, admin}
	dataDir := t.TempDir()
	g := startGateway(t, gwOptions{users: users, dataDir: dataDir})

	r := g.run(t, op, `rules add -r base --trigger ping --reply "pong {sender_short}" --cooldown 1m --json`)
	if r.code != 0 {
		t.Fatalf("rules add: %+v", r)
	}
	var rule struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal([]byte(r.stdout), &rule)
	if r := g.run(t, op2, "rules rm "+itoa(rule.ID)); r.code != exitDenied {
		t.Fatalf("another operator removed the rule: %+v", r)
	}
	if r := g.run(t, op, `rules add -r base --trigger x --reply "{nope}"`); r.code != command.ExitUsage || !strings.Contains(r.stderr, "nope") {
		t.Fatalf("bad template: %+v", r)
	}
	if r := g.run(t, op, "rules test "+itoa(rule.ID)+" ping me"); !strings.Contains(r.stdout, "replies: pong SMPL") {
		t.Fatalf("rules test: %+v", r)
	}

	// The rule answers a ping with nobody logged in to watch.
	n := rfNode(t, g, 0)
	eventually(t, 10*time.Second, "the rule to connect the radio", func() bool {
		b, _ := g.reg.Get("base")
		return b.Status().State.String() == "connected"
	})
	inject(g, n.GetNum(), 0x4001, "PING?")
	eventually(t, 10*time.Second, "the automatic reply", func() bool {
		return strings.Contains(g.run(t, op, "messages -r base --json").stdout, "pong "+n.GetUser().GetShortName())
	})

	// A personal block filter hides a node from one user's views only.
	hidden := rfNode(t, g, 1)
	if r := g.run(t, op, "filters add -r base --node "+hidden.GetUser().GetId()); r.code != 0 {
		t.Fatalf("filters add: %+v", r)
	}
	if out := g.run(t, op, "nodes -r base --json").stdout; strings.Contains(out, hidden.GetUser().GetId()) {
		t.Fatal("a blocked node still shows for the user who blocked it")
	}
	if out := g.run(t, op2, "nodes -r base --json").stdout; !strings.Contains(out, hidden.GetUser().GetId()) {
		t.Fatal("another user's filter hid a node from me")
	}
	if r := g.run(t, op, "filters add -r base --radio-wide --text spam"); r.code != exitDenied {
		t.Fatalf("operator made a radio-wide filter: %+v", r)
	}

	// Admin actions are audited with who did them.
	if r := g.run(t, admin, "nodedb-reset -r base --yes"); r.code != 0 {
		t.Fatalf("nodedb-reset: %+v", r)
	}
	audit := g.run(t, admin, "audit --json").stdout
	for _, want := range []string{`"action": "nodedb-reset"`, `"user": "ada"`, `"action": "rule.add"`, `"user": "otto"`, `"action": "filter.add"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	if r := g.run(t, op, "audit"); r.code != exitDenied {
		t.Fatalf("operator read the audit log: %+v", r)
	}

	// Restart on the same data directory: everything is still there.
	g.stop(t)
	g2 := startGateway(t, gwOptions{users: users, dataDir: dataDir})
	if out := g2.run(t, op, "history -r base --json").stdout; !strings.Contains(out, "PING?") {
		t.Fatalf("history lost across a restart: %s", out)
	}
	if out := g2.run(t, op, "rules --json").stdout; !strings.Contains(out, `"trigger": "ping"`) {
		t.Fatalf("rules lost across a restart: %s", out)
	}
	if out := g2.run(t, op, "filters --json").stdout; !strings.Contains(out, hidden.GetUser().GetId()) {
		t.Fatalf("filters lost across a restart: %s", out)
	}
	if out := g2.run(t, admin, "audit --json").stdout; !strings.Contains(out, "nodedb-reset") {
		t.Fatalf("audit lost across a restart: %s", out)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestBeaconCommands(t *testing.T) {
	op := newUser(t, "otto", `role="operator"`)
	viewer := newUser(t, "vera", `role="viewer"`)
	g := startGateway(t, gwOptions{users: []*user{op, viewer}})
	if r := g.run(t, op, `beacon -r base set --template "{my_name}: {nodes} nodes" --interval 1m`); r.code != command.ExitUsage {
		t.Fatalf("a 1-minute beacon was accepted: %+v", r)
	}
	if r := g.run(t, viewer, `beacon -r base set --template "x" --interval 1h`); r.code != exitDenied {
		t.Fatalf("a viewer set a beacon: %+v", r)
	}
	if r := g.run(t, op, `beacon -r base set --template "{my_name}: {nodes} nodes" --interval 30m`); r.code != 0 {
		t.Fatalf("beacon set: %+v", r)
	}
	r := g.run(t, op, "beacon -r base test")
	if r.code != 0 || !strings.Contains(r.stdout, "nodes") {
		t.Fatalf("beacon test: %+v", r)
	}
	if out := g.run(t, op, "messages -r base --json").stdout; !strings.Contains(out, `"sent_by": "beacon (otto)"`) {
		t.Fatalf("the beacon is not in the messages: %s", out)
	}
	if r := g.run(t, op, "beacon -r base start"); r.code != 0 || !strings.Contains(g.run(t, op, "beacon -r base").stdout, "running") {
		t.Fatalf("beacon start: %+v", r)
	}
}
