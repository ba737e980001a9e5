package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/store"
)

// A rule made in the UI with its cooldowns left empty gets the core's
// defaults, the same as one made over exec.
func TestRuleFormTakesCoreDefaults(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("7", "a", "enter")
	u.typeText("ping")
	u.key("enter", "down", "down", "enter")
	u.typeText("pong")
	u.key("enter")
	u.do(func(m *Model) {
		if f := m.rules.form; f.val("cooldown") != "" || f.val("sender cooldown") != "" {
			t.Errorf("a new rule's form fills in cooldowns: %q, %q", f.val("cooldown"), f.val("sender cooldown"))
		}
	})
	u.key("ctrl+s")
	flashed(u, "rule #1 added")

	exec, err := fx.core.AddRule(context.Background(), backend.Caller{Identity: u.caller.Identity, Via: "exec"},
		backend.RuleSpec{Radio: "base", Trigger: "ping", Reply: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := fx.db.Rule(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cooldown != backend.DefaultRuleCooldown || got.SenderCooldown != backend.DefaultRuleSenderCooldown {
		t.Errorf("the UI's rule has cooldowns %s/%s, want the core's %s/%s", got.Cooldown, got.SenderCooldown,
			backend.DefaultRuleCooldown, backend.DefaultRuleSenderCooldown)
	}
	if exec.Cooldown != got.Cooldown.Seconds() || exec.SenderCooldown != got.SenderCooldown.Seconds() {
		t.Errorf("exec's rule has cooldowns %vs/%vs, the UI's %s/%s", exec.Cooldown, exec.SenderCooldown, got.Cooldown, got.SenderCooldown)
	}
	// The list may or may not show the exec rule yet; the UI's own (#1)
	// must be listed with the defaults either way.
	u.waitModel("the rule listed with the defaults", func(m *Model) bool {
		return len(m.pf.rules) >= 1 && m.pf.rules[0].ID == 1 && m.pf.rules[0].Cooldown == backend.DefaultRuleCooldown.Seconds() &&
			m.pf.rules[0].SenderCooldown == backend.DefaultRuleSenderCooldown.Seconds()
	})
}

// A viewer reaching for a new filter is told why not, in the core's words,
// and gets no form.
func TestViewerCannotAddFilter(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	u := startUI(t, fx, uiOpts{bind: "base", role: auth.Viewer, name: "vic"})
	u.connected()
	u.key("7", "l", "a")
	want := backend.Denial(u.caller.Identity, backend.OpFilterAdd)
	if want == "" {
		t.Fatal("the core lets viewers add filters")
	}
	flashed(u, want)
	u.do(func(m *Model) {
		if m.rules.form != nil {
			t.Error("a viewer got the filter form")
		}
	})
	// An operator may.
	op := startUI(t, fx, uiOpts{bind: "base", name: "olga"})
	op.connected()
	op.key("7", "l", "a")
	op.waitModel("the filter form", func(m *Model) bool { return m.rules.form != nil && m.rules.form.kind == formFilter })
}

// What the core refuses when the form is saved shows in the form, in the
// core's words, and the form stays open.
func TestRuleFormShowsCoreRefusal(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("7", "a", "enter")
	u.typeText("ping")
	u.key("enter", "down", "down", "enter")
	u.typeText("pong")
	u.key("enter", "down", "down", "down", "down", "enter")
	u.typeText("10s")
	u.key("ctrl+s")
	u.waitText("cooldown 10s is below the minimum of 30s")
	u.do(func(m *Model) {
		if m.rules.form == nil || len(m.pf.rules) != 0 {
			t.Error("a refused rule closed the form or was saved")
		}
	})
}

// The details pane lists the radio's stored traceroutes to the node,
// everyone's: bob sees the one alice ran.
func TestNodeDetailTraceHistory(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	alice := startUI(t, fx, uiOpts{bind: "base", w: 160, h: 48})
	alice.connected()
	var target uint32
	alice.do(func(m *Model) {
		for _, n := range m.nodes.list.items {
			if n.Num != m.view().MyNodeNum && !n.ViaMQTT && n.HopsAway != nil && *n.HopsAway == 1 {
				target = n.Num
				break
			}
		}
		m.nodes.sel = target
		m.nodes.locate()
	})
	alice.key("t")
	alice.waitModel("the traceroute", func(m *Model) bool { return m.trace.job == nil && len(m.trace.results) == 1 })
	if err := fx.db.Flush(context.Background()); err != nil { // the broker records traceroutes in batches
		t.Fatal(err)
	}

	bob := startUI(t, fx, uiOpts{bind: "base", name: "bob", w: 160, h: 48})
	bob.connected()
	bob.do(func(m *Model) { m.nodes.sel = target; m.nodes.locate() })
	bob.key("enter")
	s := bob.waitFor("the history", func(s string) bool { return strings.Contains(s, "history") && strings.Contains(s, "· alice") })
	if strings.Contains(s, "none stored") {
		t.Errorf("history both empty and not:\n%s", s)
	}
	bob.do(func(m *Model) {
		h := m.nodes.hist
		if h.node != target || len(h.list) != 1 || h.list[0].Target != meshtastic.NodeID(target) || h.list[0].RequestedBy != "alice" {
			t.Errorf("history of %s: %+v", meshtastic.NodeID(target), h)
		}
	})
}

// Admin actions from the UI go through the core, which writes the audit
// record (saying it came through the UI).
func TestAdminActionAudited(t *testing.T) {
	fx := newFixture(t, fixtureOpts{store: true})
	u := startUI(t, fx, uiOpts{bind: "base", role: auth.Admin, name: "ada"})
	u.connected()
	var short string
	u.do(func(m *Model) { self, _ := m.view().Self(); short = self.ShortName })
	u.key("6", "N")
	u.typeText(short)
	u.key("enter")
	u.waitText("the radio accepted the request to empty the node database of it")
	entries, err := fx.db.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == string(backend.OpNodeDBReset) && e.User == "ada" && e.Radio == "base" && strings.Contains(e.Detail, "via tui") {
			return
		}
	}
	t.Errorf("no audit record of the NodeDB reset: %+v", entries)
}

// C on the Device tab asks the core to connect now; on a radio that is
// connected already the core's answer is shown as it is.
func TestReconnectKeyAsksTheCore(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	u := startUI(t, fx, uiOpts{bind: "base"})
	u.connected()
	u.key("6", "C")
	flashed(u, "base is connected already; nothing to do")
}
