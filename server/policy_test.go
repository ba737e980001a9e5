package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/command"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/store"
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
	// The virtual node's operations, through a real ssh -L forward, first:
	// nothing else has sent anything through the radio yet.
	seen := nodePolicy(t, g, map[*user]auth.Role{vera: auth.Viewer, otto: auth.Operator, ada: auth.Admin})

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
		{backend.OpReconnect, "reconnect -r base --wait 1s", false},
	}
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

// nodePolicy checks the virtual node's operations for each role through a
// forward to base:4403, as the core's table says: every role may connect
// (node); texts and other packets (send, node.packet) need the operator
// role and are otherwise answered NOT_AUTHORIZED with nothing reaching
// the radio; admin messages (node.admin) need the admin role and are
// audited; keys in the handshake (node.secrets) are blanked for the
// others. It returns the operations it covered.
func nodePolicy(t *testing.T, g *gateway, roles map[*user]auth.Role) map[backend.Op]bool {
	t.Helper()
	r := g.sims["base"]
	id := uint32(0x3100)
	for u, role := range roles {
		c, err := g.dial(t, u)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := forward(t, c, "base:4403")
		if (err == nil) != (role >= backend.MinRole(backend.OpNode)) {
			t.Fatalf("forward as %s: %v", role, err)
		}
		app := newNodeApp(t, conn)
		var psk bool
		for _, m := range app.Handshake(uint32(role) + 10) {
			// More than a default-key index, and not the zeros that
			// stand in for a key withheld.
			if k := m.GetChannel().GetSettings().GetPsk(); len(k) > 1 && !bytes.Equal(k, make([]byte, len(k))) {
				psk = true
			}
		}
		if want := role >= backend.MinRole(backend.OpNodeSecrets); psk != want {
			t.Errorf("node.secrets as %s: channel keys shown %v, want %v", role, psk, want)
		}
		// check sends p and waits for it to be refused (NOT_AUTHORIZED,
		// nothing reaching the radio) or handled (reaching the radio).
		check := func(op backend.Op, p *pb.MeshPacket, answered func(*pb.MeshPacket) bool) {
			t.Helper()
			before := r.Stats().ClientPackets
			app.SendPacket(p)
			if role < backend.MinRole(op) {
				ans := app.Answer(5*time.Second, p.GetId())
				if e, ok := routingError(ans); !ok || e != pb.Routing_NOT_AUTHORIZED {
					t.Errorf("%s as %s: answer %v, want NOT_AUTHORIZED", op, role, ans)
				}
				time.Sleep(100 * time.Millisecond)
				if n := r.Stats().ClientPackets; n != before {
					t.Errorf("%s as %s: %d packets reached the radio", op, role, n-before)
				}
				return
			}
			eventually(t, 5*time.Second, string(op)+" as "+role.String()+" reaching the radio", func() bool {
				return r.Stats().ClientPackets > before
			})
			if answered != nil {
				if ans := app.Answer(5*time.Second, p.GetId()); !answered(ans) {
					t.Errorf("%s as %s: answer %v", op, role, ans)
				}
			}
		}
		id++
		check(backend.OpSend, appText(id, meshtastic.Broadcast, "hello from "+u.name, false), nil)
		id++
		// Packets are paced per port for everyone: each role its own.
		check(backend.OpNodePacket, &pb.MeshPacket{Id: id, To: meshtastic.Broadcast, HopLimit: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_PRIVATE_APP + pb.PortNum(role), Payload: []byte{1, 2, 3}}}}, nil)
		id++
		check(backend.OpNodeAdmin, appAdmin(id, r.MyNodeNum(), &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetOwnerRequest{GetOwnerRequest: true}}),
			func(p *pb.MeshPacket) bool { return p.GetDecoded().GetPortnum() == pb.PortNum_ADMIN_APP })
		app.Close()
		_ = c.Close()
	}
	// The admin's message is in the audit log; the refused ones are not.
	eventually(t, 5*time.Second, "the admin message in the audit log", func() bool {
		entries, err := g.db.Audit(context.Background(), store.AuditQuery{Action: string(backend.OpNodeAdmin)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.User != "ada" {
				t.Fatalf("audit entry %+v: only the admin's message was sent", e)
			}
		}
		return len(entries) == 1 && strings.Contains(entries[0].Detail, "get_owner_request")
	})
	ops := map[backend.Op]bool{backend.OpNode: true, backend.OpNodePacket: true, backend.OpNodeAdmin: true, backend.OpNodeSecrets: true}
	// The operator's text went out under its name; the viewer's did not.
	res := g.run(t, findUser(roles, auth.Admin), "messages -r base --json")
	if !strings.Contains(res.stdout, "hello from "+findUser(roles, auth.Operator).name) || strings.Contains(res.stdout, "hello from "+findUser(roles, auth.Viewer).name) {
		t.Errorf("messages after the apps' texts:\n%s", res.stdout)
	}
	return ops
}

func findUser(roles map[*user]auth.Role, want auth.Role) *user {
	for u, r := range roles {
		if r == want {
			return u
		}
	}
	return nil
}
