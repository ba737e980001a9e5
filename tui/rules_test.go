package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/store"
)

// addRule saves a rule of radio "base" owned by name, straight into the
// store; a rule without a cooldown gets the default one.
func addRule(t testing.TB, fx *fixture, name string, r responder.Rule) responder.Rule {
	t.Helper()
	r.Radio, r.Owner, r.OwnerName = "base", "SHA256:test-"+name, name
	if r.Cooldown == 0 {
		r.Cooldown = responder.DefaultCooldown
	}
	saved, err := fx.db.AddRule(context.Background(), store.Actor{Name: name, Fingerprint: r.Owner}, r)
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// twoRules gives alice two rules on base: #1 "ping" and #2 "hello".
func twoRules(u *ui) {
	addRule(u.t, u.fx, "alice", responder.Rule{Trigger: "ping", Match: responder.MatchExact, Reply: "pong {sender_short}",
		Enabled: true, Cooldown: time.Minute})
	ch := uint32(1)
	addRule(u.t, u.fx, "alice", responder.Rule{Trigger: "hello", Match: responder.MatchContains, Reply: "hi {sender_name}, {hops} hops",
		Type: responder.TypeDirect, Source: responder.SourceRF, Channel: &ch, SenderCooldown: 5 * time.Minute, DryRun: true, Enabled: true})
}

func flashed(u *ui, text string) {
	u.t.Helper()
	u.waitModel("the flash "+text, func(m *Model) bool { return strings.Contains(m.flash.text, text) })
}

// The Rules tab's sections at the classic and a large size, a form with a
// validation error, and a tested rule.
func TestGoldenRules(t *testing.T) {
	type step func(u *ui)
	keys := func(ks ...string) step { return func(u *ui) { u.key(ks...) } }
	seeded := func(u *ui) {
		twoRules(u)
		addRule(u.t, u.fx, "bob", responder.Rule{Trigger: "^wx( .*)?$", Match: responder.MatchRegex, Reply: "{time}: clear", Enabled: false})
		ctx := context.Background()
		for _, f := range []filter.Filter{
			{Owner: "SHA256:test-alice", OwnerName: "alice", Radio: "base", Mode: filter.Block, Kind: filter.KindPort, Value: "TELEMETRY", Enabled: true},
			{Owner: "SHA256:test-alice", OwnerName: "alice", Mode: filter.Block, Kind: filter.KindText, Value: "spam", Enabled: false},
			{Owner: "SHA256:test-bob", OwnerName: "bob", Radio: "base", Mode: filter.Block, Kind: filter.KindText, Value: "not alice's", Enabled: true},
			{Scope: filter.ScopeRadio, Owner: "SHA256:test-root", OwnerName: "root", Radio: "base", Mode: filter.Block, Kind: filter.KindNode, Value: "!00000bad", Enabled: true},
		} {
			if _, err := u.fx.db.AddFilter(ctx, store.Actor{Name: f.OwnerName, Fingerprint: f.Owner}, f); err != nil {
				u.t.Fatal(err)
			}
		}
		if _, err := u.fx.db.PutBeacon(ctx, store.Actor{Name: "alice", Fingerprint: "SHA256:test-alice"}, responder.Beacon{Radio: "base",
			Owner: "SHA256:test-alice", OwnerName: "alice", Template: "{my_name} up · {nodes} nodes · {time}", Interval: time.Hour, Enabled: true}); err != nil {
			u.t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		w, h  int
		role  auth.Role
		steps []step
	}{
		{"rules_responders_80x24", 80, 24, 0, []step{seeded, keys("7", "j")}},
		{"rules_responders_160x48", 160, 48, 0, []step{seeded, keys("7")}},
		{"rules_filters_80x24", 80, 24, 0, []step{seeded, keys("7", "l")}},
		{"rules_filters_160x48", 160, 48, auth.Admin, []step{seeded, keys("7", "l")}},
		{"rules_beacon_80x24", 80, 24, 0, []step{seeded, keys("7", "h")}},
		{"rules_beacon_160x48", 160, 48, 0, []step{seeded, keys("7", "h")}},
		{"rules_form_error", 80, 24, 0, []step{keys("7", "a", "down", "space", "space", "up", "enter"), typed2("(unclosed"), keys("enter", "ctrl+s")}},
		{"rules_tested", 80, 24, 0, []step{seeded, keys("7", "t"), typed2("PING"), keys("enter")}},
		{"rules_viewer", 80, 24, auth.Viewer, []step{seeded, keys("7")}},
		{"rules_help", 80, 24, 0, []step{keys("7", "?")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{frozen: true, store: true})
			u := startUI(t, fx, uiOpts{w: c.w, h: c.h, role: c.role, bind: "base"})
			u.connected()
			for _, s := range c.steps {
				s(u)
			}
			u.waitModel("the rules to load", func(m *Model) bool { return !m.storeStale() })
			golden.RequireEqual(t, trimLines(u.settled()))
		})
	}
}

func typed2(s string) func(u *ui) { return func(u *ui) { u.typeText(s) } }

// An operator adds a rule (a bad regex first: the error shows in the form),
// edits it, tests it, turns it off and deletes it; the store audits it all.
func TestRulesResponderLifecycle(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("7", "a", "enter")
	u.typeText("^(ping")
	u.key("enter", "down", "space", "space") // match: contains → prefix → regex
	u.key("down", "enter")
	u.typeText("pong {sender_short} via {source_type}")
	u.key("ctrl+s")
	u.waitText("not a valid regular expression")
	u.do(func(m *Model) {
		if m.rules.form == nil || len(m.pf.rules) != 0 {
			t.Error("an invalid rule closed the form or was saved")
		}
	})
	u.key("up", "up", "enter", "ctrl+u")
	u.typeText("^ping")
	u.key("ctrl+s")
	u.waitModel("the rule saved", func(m *Model) bool { return m.rules.form == nil && len(m.pf.rules) == 1 })
	flashed(u, "rule #1 added")

	// Edit: a cooldown that is no duration is refused, then a good one.
	u.key("e")
	u.waitModel("the edit form", func(m *Model) bool { return m.rules.form != nil && m.rules.form.id == 1 })
	u.key("down", "down", "down", "down", "down", "down", "enter", "ctrl+u")
	u.typeText("soon")
	u.key("ctrl+s")
	u.waitText("is not a duration")
	u.key("enter", "ctrl+u")
	u.typeText("2m")
	u.key("ctrl+s")
	u.waitModel("the edit saved", func(m *Model) bool {
		return m.rules.form == nil && len(m.pf.rules) == 1 && m.pf.rules[0].Cooldown == (2*time.Minute).Seconds()
	})

	// Test against samples.
	u.key("t")
	u.typeText("Ping there")
	u.key("enter")
	s := u.waitText("✓ rule #1 replies")
	if !strings.Contains(s, "via RF") {
		t.Errorf("the reply was not rendered:\n%s", s)
	}
	u.key("t")
	u.typeText("say ping")
	u.key("enter")
	u.waitText("✗ rule #1 does not match")

	u.key("space")
	u.waitModel("the rule off", func(m *Model) bool { return len(m.pf.rules) == 1 && !m.pf.rules[0].Enabled })
	u.key("d")
	u.waitModel("the confirmation", func(m *Model) bool { return m.dialog != nil })
	u.key("y")
	u.waitModel("the rule gone", func(m *Model) bool { return len(m.pf.rules) == 0 })

	entries, err := fx.db.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.User != "alice" || e.Fingerprint != "SHA256:test-alice" {
			t.Errorf("audit entry by %q/%q", e.User, e.Fingerprint)
		}
		actions = append(actions, e.Action)
	}
	if len(actions) != 4 {
		t.Errorf("audit: %v, want add, update, disable, delete", actions)
	}
}

// Viewers read; operators change their own rules and filters but not
// others' rules or radio-wide filters; admins change anything.
func TestRulesRoles(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	r := addRule(t, fx, "alice", responder.Rule{Trigger: "ping", Reply: "pong", Enabled: true})
	if _, err := fx.db.AddFilter(context.Background(), store.Actor{Name: "root"}, filter.Filter{Scope: filter.ScopeRadio,
		Owner: "SHA256:test-root", OwnerName: "root", Radio: "base", Kind: filter.KindText, Value: "spam", Enabled: true}); err != nil {
		t.Fatal(err)
	}

	viewer := startUI(t, fx, uiOpts{bind: "base", role: auth.Viewer, name: "vic"})
	viewer.connected()
	viewer.key("7")
	viewer.waitText("read-only: changes need the operator role")
	viewer.key("a")
	flashed(viewer, "adding responders needs the operator role (you are viewer)")
	viewer.key("space")
	flashed(viewer, "needs the operator role")
	viewer.key("t") // testing changes nothing: viewers may
	viewer.typeText("ping")
	viewer.key("enter")
	viewer.waitText("✓ rule #1 replies: pong")

	bob := startUI(t, fx, uiOpts{bind: "base", name: "bob"})
	bob.connected()
	bob.key("7", "e")
	flashed(bob, "changing responders: it belongs to alice")
	bob.key("d")
	flashed(bob, "belongs to alice")
	bob.key("l", "space")
	flashed(bob, "setting radio-wide filters needs the admin role (you are operator)")
	bob.key("a")
	bob.do(func(m *Model) {
		for _, c := range m.rules.form.fields[3].choices {
			if c == "radio-wide" {
				t.Error("an operator is offered radio-wide filters")
			}
		}
	})

	admin := startUI(t, fx, uiOpts{bind: "base", name: "root", role: auth.Admin})
	admin.connected()
	admin.key("7", "space")
	admin.waitModel("alice's rule off", func(m *Model) bool { return len(m.pf.rules) == 1 && !m.pf.rules[0].Enabled })
	admin.key("l", "space")
	admin.waitModel("the radio-wide filter off", func(m *Model) bool {
		fs := m.shownFilters()
		return len(fs) == 1 && !fs[0].Enabled
	})
	got, err := fx.db.Rule(context.Background(), r.ID)
	if err != nil || got.Owner != "SHA256:test-alice" {
		t.Errorf("the admin's change took the rule over: %+v %v", got, err)
	}
}

// A filter alice adds hides the node from her Nodes tab, counted, and not
// from bob's; her chat and packets hide its messages, counted too.
func TestPersonalFilterHidesNode(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	alice := startUI(t, fx, uiOpts{bind: "base"})
	alice.connected()
	bob := startUI(t, fx, uiOpts{bind: "base", name: "bob"})
	bob.connected()

	var target uint32
	var total int
	alice.do(func(m *Model) {
		for _, n := range m.nodes.list.items {
			if n.Num != m.view().MyNodeNum && !n.ViaMQTT {
				target = n.Num
				break
			}
		}
		total = len(m.nodes.list.items)
		m.nodes.sel = target
		m.nodes.locate()
	})
	alice.key("7", "l", "a") // the form starts with the node selected on the Nodes tab
	alice.waitModel("the filter form", func(m *Model) bool {
		return m.rules.form != nil && m.rules.form.val("value") == meshtastic.NodeID(target)
	})
	alice.key("ctrl+s")
	flashed(alice, "filter #1 added: block node "+meshtastic.NodeID(target))

	alice.key("1")
	s := alice.waitText("1 hidden by your filters")
	if strings.Contains(s, meshtastic.NodeID(target)) {
		t.Errorf("the blocked node still shows:\n%s", s)
	}
	alice.do(func(m *Model) {
		if len(m.nodes.list.items) != total-1 {
			t.Errorf("alice sees %d nodes, want %d", len(m.nodes.list.items), total-1)
		}
	})
	bob.key("1")
	bob.do(func(m *Model) {
		if len(m.nodes.list.items) != total || m.pf.nodes.Len() != 0 {
			t.Errorf("bob sees %d nodes, want %d", len(m.nodes.list.items), total)
		}
	})
	if s := bob.screen(); strings.Contains(s, "hidden by your filters") {
		t.Errorf("bob's view is filtered:\n%s", s)
	}

	// The node's texts: hidden and counted in alice's chat and packets.
	r := fx.sims["base"]
	for _, text := range []string{"from the blocked node", "again"} {
		r.Inject(&pb.MeshPacket{From: target, To: meshtastic.Broadcast, HopStart: 3, HopLimit: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(text)}}})
	}
	bob.key("2")
	bob.waitText("from the blocked node")
	alice.key("2")
	s = alice.waitText("2 hidden by your filters")
	if strings.Contains(s, "from the blocked node") {
		t.Errorf("alice's chat shows the blocked node:\n%s", s)
	}
	alice.key("3")
	alice.waitText("2 hidden by your filters")

	// Turning the filter off shows everything again.
	alice.key("7", "space")
	alice.key("2")
	alice.waitText("from the blocked node")
}

// An operator sets the beacon (too short an interval is refused), starts
// it, sends it now and removes it.
func TestBeaconTab(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("7", "h", "e", "down", "enter", "ctrl+u")
	u.typeText("5m")
	u.key("ctrl+s")
	u.waitText("below the minimum 15m")
	u.key("enter", "ctrl+u")
	u.typeText("30m")
	u.key("ctrl+s")
	u.waitModel("the beacon set", func(m *Model) bool { return m.pf.beacon != nil && m.pf.beacon.Interval == (30*time.Minute).Seconds() })
	u.waitText("stopped")
	u.key("space")
	u.waitModel("the beacon started", func(m *Model) bool { return m.pf.beacon != nil && m.pf.beacon.Enabled })
	u.key("t")
	flashed(u, "beacon sent: ")
	u.do(func(m *Model) {
		msgs := m.radio.Messages(0)
		if len(msgs) == 0 || !msgs[len(msgs)-1].Outgoing || !strings.Contains(msgs[len(msgs)-1].Text, "on the air") {
			t.Errorf("the beacon did not go out: %+v", msgs)
		}
	})
	u.key("d", "y")
	u.waitModel("the beacon gone", func(m *Model) bool { return m.pf.beacon == nil && !m.storeStale() })
}

// Without a database the tab says so and its keys do nothing.
func TestRulesWithoutStore(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("7", "a")
	u.waitText("This gateway runs without a database")
	u.do(func(m *Model) {
		if m.rules.form != nil {
			t.Error("a form opened without a database")
		}
	})
}

func TestRuleFormValues(t *testing.T) {
	m := &Model{now: frozen, loc: time.UTC}
	for _, c := range []struct {
		in     string
		wantIn time.Duration
		wantAt time.Time
		bad    bool
	}{
		{"never", 0, time.Time{}, false}, {"", 0, time.Time{}, false}, {"24h", 24 * time.Hour, time.Time{}, false},
		{"2025-04-01 08:30", 0, time.Date(2025, 4, 1, 8, 30, 0, 0, time.UTC), false},
		{"-5m", -5 * time.Minute, time.Time{}, false}, // the core refuses it, in its words
		{"0s", 0, time.Time{}, true}, {"soon", 0, time.Time{}, true},
	} {
		in, at, err := m.parseExpiry(c.in)
		if (err != nil) != c.bad || in != c.wantIn || !at.Equal(c.wantAt) {
			t.Errorf("parseExpiry(%q) = %v, %v, %v", c.in, in, at, err)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", time.Minute: "1m", 90 * time.Second: "1m30s", time.Hour: "1h", 15 * time.Minute: "15m"} {
		if got := format.Typed(d); got != want {
			t.Errorf("format.Typed(%s) = %q, want %q", d, got, want)
		}
		if back, err := parseDur("x", want); err != nil || back != d {
			t.Errorf("parseDur(%q) = %s, %v", want, back, err)
		}
	}
}
