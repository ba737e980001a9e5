package tui

import (
	"strings"
	"testing"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
)

// The UI gives the same answer as the core (and so as the exec commands,
// checked in server/): for every action the UI offers, a role the core
// refuses is told the core's reason and gets no dialog, form or action;
// a role it allows is not told it may not. Help marks the same keys.
func TestPolicyThroughUI(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true, store: true})
	type action struct {
		op   backend.Op
		keys []string // from the Nodes tab of a freshly bound UI
	}
	actions := []action{
		{backend.OpSend, []string{"1", "d"}},
		{backend.OpTraceroute, []string{"1", "t"}},
		{backend.OpSend, []string{"2", "i"}},
		{backend.OpTraceroute, []string{"4", "t"}},
		{backend.OpSweep, []string{"4", "w"}},
		{backend.OpMQTTSet, []string{"5", "e"}},
		{backend.OpReboot, []string{"6", "R"}},
		{backend.OpShutdown, []string{"6", "H"}},
		{backend.OpFactoryReset, []string{"6", "F"}},
		{backend.OpNodeDBReset, []string{"6", "N"}},
		{backend.OpReconnect, []string{"6", "C"}},
		{backend.OpRuleAdd, []string{"7", "a"}},
		{backend.OpFilterAdd, []string{"7", "l", "a"}},
		{backend.OpBeaconSet, []string{"7", "l", "l", "a"}},
	}
	for _, role := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
		for _, a := range actions {
			t.Run(role.String()+"/"+strings.Join(a.keys, ""), func(t *testing.T) {
				u := startUI(t, fx, uiOpts{bind: "base", role: role, name: role.String()})
				u.connected()
				u.key(a.keys...)
				denial := backend.Denial(u.caller.Identity, a.op)
				if !backend.Can(u.caller.Identity, a.op) {
					flashed(u, denial)
					u.do(func(m *Model) {
						if m.dialog != nil || m.rules.form != nil || m.mqtt.edit != nil {
							t.Errorf("%s %v as %s: refused but a dialog or form opened", a.op, a.keys, role)
						}
					})
				} else {
					u.do(func(m *Model) {
						if strings.Contains(m.flash.text, "role (you are") {
							t.Errorf("%s %v as %s: allowed by the core, the UI says %q", a.op, a.keys, role, m.flash.text)
						}
					})
				}
				u.do(func(m *Model) {
					_, es := m.keys.helpFor(m.screen, m.pane(), u.caller.Identity)
					for _, e := range es {
						if e.b.Help().Key == lastKeyHelp(m, a.keys) && (e.denied != "") == backend.Can(u.caller.Identity, a.op) {
							t.Errorf("%s as %s: help says %q", a.op, role, e.denied)
						}
					}
				})
			})
		}
	}
}

// lastKeyHelp is the help label of the binding the last key of ks hits.
func lastKeyHelp(m *Model, ks []string) string {
	last := ks[len(ks)-1]
	for _, e := range []struct{ k, help string }{{"d", "d"}, {"t", "t"}, {"i", "i/enter"}, {"w", "w"}, {"e", "e"},
		{"R", "R"}, {"H", "H"}, {"F", "F"}, {"N", "N"}, {"C", "C"}, {"a", "a"}} {
		if e.k == last {
			return e.help
		}
	}
	return ""
}
