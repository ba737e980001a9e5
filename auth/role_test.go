package auth

import (
	"encoding/json"
	"testing"
)

func TestRoleOrderAndNames(t *testing.T) {
	if !(Viewer < Operator && Operator < Admin) {
		t.Fatal("roles are not ordered")
	}
	for _, r := range []Role{Viewer, Operator, Admin} {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
	if r, err := ParseRole("ADMIN"); err != nil || r != Admin {
		t.Errorf("ParseRole is case-sensitive: %v, %v", r, err)
	}
	for _, bad := range []string{"", "root", "admin ", "Role(3)"} {
		if _, err := ParseRole(bad); err == nil {
			t.Errorf("ParseRole(%q) succeeded", bad)
		}
	}
	if Role(0).Valid() || Role(4).Valid() || Role(0).String() != "Role(0)" {
		t.Error("out-of-range roles look valid")
	}
}

func TestRoleText(t *testing.T) {
	type doc struct{ Role Role }
	b, err := json.Marshal(doc{Operator})
	if err != nil || string(b) != `{"Role":"operator"}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"Role":"admin"}`), &d); err != nil || d.Role != Admin {
		t.Errorf("unmarshal: %v, %v", d.Role, err)
	}
	if err := json.Unmarshal([]byte(`{"Role":"god"}`), &d); err == nil {
		t.Error("unmarshal of an unknown role succeeded")
	}
	if _, err := json.Marshal(doc{}); err == nil {
		t.Error("marshal of the zero role succeeded")
	}
}

func TestRoleCan(t *testing.T) {
	tests := []struct {
		action                  Action
		viewer, operator, admin bool
	}{
		{Read, true, true, true},
		{Send, false, true, true},
		{Traceroute, false, true, true},
		{Sweep, false, true, true},
		{ManageRules, false, true, true},
		{WriteConfig, false, false, true},
		{Reboot, false, false, true},
		{Shutdown, false, false, true},
		{FactoryReset, false, false, true},
		{ResetNodeDB, false, false, true},
		{ManageSessions, false, false, true},
		{Dial, false, false, true},
		{Request, false, true, true},
		{Reconnect, false, true, true},
		{ReadAudit, false, false, true},
		{ManageOthers, false, false, true},
	}
	for _, tt := range tests {
		for r, want := range map[Role]bool{Viewer: tt.viewer, Operator: tt.operator, Admin: tt.admin} {
			if got := r.Can(tt.action); got != want {
				t.Errorf("%v.Can(%v) = %v, want %v", r, tt.action, got, want)
			}
		}
	}
	if Admin.Can(Action(0)) || Admin.Can(ManageOthers+1) || Role(0).Can(Read) {
		t.Error("unknown actions or invalid roles are allowed")
	}
	if Dial.String() != "dial" || Action(99).String() != "Action(99)" {
		t.Error("action names")
	}
}

func TestIdentityMayUse(t *testing.T) {
	all := Identity{Role: Viewer}
	some := Identity{Role: Viewer, Radios: []string{"base", "roof"}}
	if !all.MayUse("anything") || !some.MayUse("roof") || some.MayUse("car") || some.MayUse("Base") {
		t.Error("MayUse")
	}
}
