package backend

import (
	"fmt"

	"github.com/meshgate/meshgate/auth"
)

// Op names one operation of the core. The names double as the audit log's
// action names where an operation is audited.
type Op string

// The operations, grouped as the roles see them.
const (
	// Reading: every role, on the radios its key may use.
	OpWhoami       Op = "whoami"
	OpRadios       Op = "radios"
	OpNodes        Op = "nodes"
	OpMessages     Op = "messages"
	OpHistory      Op = "history"
	OpPackets      Op = "packets"
	OpMQTT         Op = "mqtt"
	OpConfig       Op = "config"
	OpTraceHistory Op = "traceroute.history"
	OpRules        Op = "rules"
	OpRuleTest     Op = "rules.test"
	OpFilters      Op = "filters"
	OpBeacon       Op = "beacon"
	OpNode         Op = "node" // use a radio's API as a virtual node client

	// Talking on the mesh and managing automation: operators.
	OpSend        Op = "send"
	OpTraceroute  Op = "traceroute"
	OpSweep       Op = "sweep"
	OpRequest     Op = "request"
	OpRuleAdd     Op = "rule.add"
	OpRuleChange  Op = "rule.change" // update, enable, disable, delete
	OpFilterAdd   Op = "filter.add"
	OpFilterEdit  Op = "filter.change" // enable, disable, delete
	OpBeaconSet   Op = "beacon.set"
	OpBeaconStart Op = "beacon.start" // start, stop
	OpBeaconTest  Op = "beacon.test"
	OpBeaconRm    Op = "beacon.delete"
	// OpReconnect: try a radio the gateway stepped back from at once
	// (it takes the radio from the other app if that is still there).
	OpReconnect Op = "radio.reconnect"
	// OpNodePacket: a virtual node client's packets other than texts,
	// traceroutes, requests and admin messages (waypoints, alerts, app
	// ports), paced per port like requests.
	OpNodePacket Op = "node.packet"

	// The radios themselves and other users: admins.
	OpRadioFilter  Op = "filter.add-radio-wide"
	OpConfigSet    Op = "config.set"
	OpMQTTSet      Op = "mqtt.set"
	OpReboot       Op = "reboot"
	OpShutdown     Op = "shutdown"
	OpFactoryReset Op = "factory-reset"
	OpNodeDBReset  Op = "nodedb-reset"
	OpSessions     Op = "sessions"
	OpKick         Op = "session.kick"
	OpAudit        Op = "audit"
	OpDial         Op = "dial"
	// OpNodeAdmin: admin messages from a virtual node client, to our own
	// radio or to a remote node; each one audited.
	OpNodeAdmin Op = "node.admin"
	// OpNodeSecrets: keys and passwords in a virtual node's handshake
	// (private key, Wi-Fi and MQTT passwords, channel keys); others get
	// them blanked.
	OpNodeSecrets Op = "node.secrets"
)

// rule is one row of the policy table.
type rule struct {
	// need is the action the caller's role must allow.
	need auth.Action
	// owned operations act on something a user owns (a responder rule, a
	// filter, a radio's beacon): its owner may, anyone else needs
	// auth.ManageOthers.
	owned bool
	// what names the operation in a refusal ("sending messages needs the
	// operator role").
	what string
}

// policy is the one table that decides who may do what. Front ends never
// compare roles: they ask Allowed or Can.
var policy = map[Op]rule{
	OpWhoami:       {auth.Read, false, "seeing your identity"},
	OpRadios:       {auth.Read, false, "listing radios"},
	OpNodes:        {auth.Read, false, "listing nodes"},
	OpMessages:     {auth.Read, false, "reading messages"},
	OpHistory:      {auth.Read, false, "reading history"},
	OpPackets:      {auth.Read, false, "reading packets"},
	OpMQTT:         {auth.Read, false, "reading MQTT settings"},
	OpConfig:       {auth.Read, false, "reading the configuration"},
	OpTraceHistory: {auth.Read, false, "reading traceroute history"},
	OpRules:        {auth.Read, false, "listing responders"},
	OpRuleTest:     {auth.Read, false, "testing a responder"},
	OpFilters:      {auth.Read, false, "listing filters"},
	OpBeacon:       {auth.Read, false, "seeing the beacon"},
	OpNode:         {auth.Read, false, "using a radio as a virtual node"},

	OpSend:        {auth.Send, false, "sending messages"},
	OpTraceroute:  {auth.Traceroute, false, "running traceroutes"},
	OpSweep:       {auth.Sweep, false, "running sweeps"},
	OpRequest:     {auth.Request, false, "asking nodes for data"},
	OpRuleAdd:     {auth.ManageRules, false, "adding responders"},
	OpRuleChange:  {auth.ManageRules, true, "changing responders"},
	OpFilterAdd:   {auth.ManageRules, false, "adding filters"},
	OpFilterEdit:  {auth.ManageRules, true, "changing filters"},
	OpBeaconSet:   {auth.ManageRules, true, "setting the beacon"},
	OpBeaconStart: {auth.ManageRules, true, "starting or stopping the beacon"},
	OpBeaconTest:  {auth.ManageRules, true, "sending the beacon"},
	OpBeaconRm:    {auth.ManageRules, true, "removing the beacon"},
	OpNodePacket:  {auth.Send, false, "sending packets from a virtual node"},
	OpReconnect:   {auth.Reconnect, false, "reconnecting a radio"},

	OpRadioFilter:  {auth.ManageOthers, false, "setting radio-wide filters"},
	OpConfigSet:    {auth.WriteConfig, false, "changing the configuration"},
	OpMQTTSet:      {auth.WriteConfig, false, "changing the MQTT settings"},
	OpReboot:       {auth.Reboot, false, "rebooting a radio"},
	OpShutdown:     {auth.Shutdown, false, "shutting a radio down"},
	OpFactoryReset: {auth.FactoryReset, false, "factory-resetting a radio"},
	OpNodeDBReset:  {auth.ResetNodeDB, false, "resetting a radio's NodeDB"},
	OpSessions:     {auth.ManageSessions, false, "listing sessions"},
	OpKick:         {auth.ManageSessions, false, "closing sessions"},
	OpAudit:        {auth.ReadAudit, false, "reading the audit log"},
	OpDial:         {auth.Dial, false, "dialling a radio by address"},
	OpNodeAdmin:    {auth.WriteConfig, false, "sending admin messages from a virtual node"},
	OpNodeSecrets:  {auth.WriteConfig, false, "reading a radio's keys and passwords"},
}

// Ops lists every operation, for tests and help.
func Ops() []Op {
	out := make([]Op, 0, len(policy))
	for op := range policy {
		out = append(out, op)
	}
	return out
}

// MinRole is the lowest role that may perform op (on what it owns).
func MinRole(op Op) auth.Role {
	p, ok := policy[op]
	if !ok {
		return auth.Admin + 1
	}
	for r := auth.Viewer; r <= auth.Admin; r++ {
		if r.Can(p.need) {
			return r
		}
	}
	return auth.Admin + 1
}

// Can reports whether id may perform op at all (on what it owns, for owned
// operations). Front ends use it to grey out what a user cannot do.
func Can(id auth.Identity, op Op) bool {
	p, ok := policy[op]
	return ok && id.Role.Can(p.need)
}

// CanOthers reports whether id may perform an owned op on what others own.
func CanOthers(id auth.Identity, op Op) bool {
	return Can(id, op) && id.Role.Can(auth.ManageOthers)
}

// Allowed decides whether the caller may perform op on something owned by
// owner (a key fingerprint; "" when the operation acts on nothing owned).
// ownerName is shown in the refusal.
func Allowed(id auth.Identity, op Op, owner, ownerName string) error {
	p, ok := policy[op]
	if !ok {
		return denied("unknown operation %q", op)
	}
	if !id.Role.Can(p.need) {
		return denied("%s needs the %s role (you are %s)", p.what, MinRole(op), roleName(id.Role))
	}
	if p.owned && owner != "" && owner != id.Fingerprint && !id.Role.Can(auth.ManageOthers) {
		return denied("%s: it belongs to %s", p.what, ownerName)
	}
	return nil
}

// covers reports whether id's radio grant reaches something bound to
// radio ("" for nothing bound). A key limited by radios= manages sessions,
// audit entries, rules and filters of those radios only; what is bound to
// no radio belongs to keys without a limit.
func covers(id auth.Identity, radio string) bool {
	if id.Radios == nil {
		return true
	}
	return radio != "" && id.MayUse(radio)
}

// Denial explains why id may not perform op, or "" when it may.
func Denial(id auth.Identity, op Op) string {
	if err := Allowed(id, op, "", ""); err != nil {
		return err.Error()
	}
	return ""
}

func roleName(r auth.Role) string {
	if !r.Valid() {
		return "no role"
	}
	return r.String()
}

// String is the op's name.
func (o Op) String() string { return string(o) }

var _ fmt.Stringer = Op("")
