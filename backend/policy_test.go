package backend

import (
	"errors"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/auth"
)

// Expected is who may do what: V viewer, O operator, A admin (the lowest
// role; higher roles may too). Owned operations: their owner with that
// role, others' only admins. Front-end tests check their answers against
// the same table (see server/ and tui/).
var Expected = map[Op]auth.Role{
	OpWhoami: auth.Viewer, OpRadios: auth.Viewer, OpNodes: auth.Viewer, OpMessages: auth.Viewer,
	OpHistory: auth.Viewer, OpPackets: auth.Viewer, OpMQTT: auth.Viewer, OpConfig: auth.Viewer,
	OpTraceHistory: auth.Viewer, OpRules: auth.Viewer, OpRuleTest: auth.Viewer, OpFilters: auth.Viewer,
	OpBeacon: auth.Viewer, OpNode: auth.Viewer,

	OpSend: auth.Operator, OpTraceroute: auth.Operator, OpSweep: auth.Operator, OpRequest: auth.Operator,
	OpRuleAdd: auth.Operator, OpRuleChange: auth.Operator, OpFilterAdd: auth.Operator, OpFilterEdit: auth.Operator,
	OpBeaconSet: auth.Operator, OpBeaconStart: auth.Operator, OpBeaconTest: auth.Operator, OpBeaconRm: auth.Operator,
	OpNodePacket: auth.Operator, OpReconnect: auth.Operator,

	OpRadioFilter: auth.Admin, OpConfigSet: auth.Admin, OpMQTTSet: auth.Admin, OpReboot: auth.Admin,
	OpShutdown: auth.Admin, OpFactoryReset: auth.Admin, OpNodeDBReset: auth.Admin, OpSessions: auth.Admin,
	OpKick: auth.Admin, OpAudit: auth.Admin, OpDial: auth.Admin, OpNodeAdmin: auth.Admin, OpNodeSecrets: auth.Admin,
}

var roles = []auth.Role{auth.Viewer, auth.Operator, auth.Admin}

func TestPolicyTable(t *testing.T) {
	if len(Expected) != len(policy) {
		t.Fatalf("%d operations in the policy, %d in the expected table", len(policy), len(Expected))
	}
	for op, min := range Expected {
		if got := MinRole(op); got != min {
			t.Errorf("%s: minimum role %s, want %s", op, got, min)
		}
		for _, r := range roles {
			id := auth.Identity{Name: "u", Fingerprint: "SHA256:u", Role: r}
			err := Allowed(id, op, "", "")
			if want := r >= min; (err == nil) != want || Can(id, op) != want {
				t.Errorf("%s as %s: Allowed = %v, Can = %v, want allowed %v", op, r, err, Can(id, op), want)
			}
			if err != nil && (!errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "needs the "+min.String()+" role (you are "+r.String()+")")) {
				t.Errorf("%s as %s: refusal %q", op, r, err)
			}
			// Something another user owns.
			err = Allowed(id, op, "SHA256:other", "olga")
			owned := policy[op].owned
			if want := r >= min && (!owned || r == auth.Admin); (err == nil) != want {
				t.Errorf("%s as %s on olga's: %v, want allowed %v", op, r, err, want)
			}
			if err != nil && r >= min && !strings.Contains(err.Error(), "belongs to olga") {
				t.Errorf("%s as %s on olga's: refusal %q does not name the owner", op, r, err)
			}
		}
	}
	if Can(auth.Identity{}, OpWhoami) || Allowed(auth.Identity{}, OpWhoami, "", "") == nil {
		t.Error("an identity without a role may read")
	}
	if Allowed(auth.Identity{Role: auth.Admin}, Op("frob"), "", "") == nil {
		t.Error("an unknown operation is allowed")
	}
}
