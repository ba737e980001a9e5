package auth

import (
	"fmt"
	"strings"
)

// Role is what a key may do on the radios it is allowed to use. Roles are
// ordered: every role may do everything the roles below it may, so a check
// can be written as r >= Operator.
//
// The zero Role is deliberately not a role: an Identity that was never filled
// in may do nothing, rather than silently becoming a viewer of every radio.
type Role int

// The roles, lowest first.
const (
	// Viewer reads everything on its allowed radios and changes nothing.
	Viewer Role = iota + 1
	// Operator is a viewer who also talks on the mesh: sends messages,
	// runs traceroutes and sweeps, and manages responders, filters and
	// beacons.
	Operator
	// Admin is an operator who may also change and reset the radios
	// themselves and manage other users' sessions.
	Admin
)

// Valid reports whether r is one of Viewer, Operator or Admin.
func (r Role) Valid() bool { return r >= Viewer && r <= Admin }

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole reads a role name as written in authorized_keys or a config file
// ("viewer", "operator", "admin"; case does not matter).
func ParseRole(s string) (Role, error) {
	for r := Viewer; r <= Admin; r++ {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q (want viewer, operator or admin)", s)
}

// MarshalText writes the role's name, so roles read naturally in JSON and
// YAML. An invalid role is an error rather than a number nobody can read back.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("cannot marshal invalid %v", r)
	}
	return []byte(r.String()), nil
}

// UnmarshalText is the inverse of MarshalText.
func (r *Role) UnmarshalText(text []byte) error {
	v, err := ParseRole(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Action is something a session asks to do; Role.Can decides whether it may.
// Keeping the table here, next to the roles, means the server, the TUI and
// the exec commands all ask the same question and get the same answer.
type Action int

// The actions, grouped by the lowest role that may perform them.
const (
	// Read covers every view: nodes, messages, packets, MQTT health,
	// device config, radios.
	Read Action = iota + 1

	// Send transmits a text message.
	Send
	// Traceroute starts a traceroute to a node.
	Traceroute
	// Sweep starts a traceroute sweep over many nodes.
	Sweep
	// ManageRules creates, changes or deletes responders, filters and
	// beacons.
	ManageRules
	// Request asks a node for its position, telemetry or node info.
	Request
	// Reconnect makes the gateway try a radio it has stepped back from
	// (another app was using it) at once, taking it from that app.
	Reconnect

	// WriteConfig changes the radio's device, channel or MQTT configuration.
	WriteConfig
	// Reboot restarts the radio.
	Reboot
	// Shutdown powers the radio off.
	Shutdown
	// FactoryReset wipes the radio's configuration.
	FactoryReset
	// ResetNodeDB clears the radio's node database.
	ResetNodeDB
	// ManageSessions lists every session on the gateway and kicks them.
	ManageSessions
	// Dial connects to a radio address that is not in the configuration
	// (still limited to the server's --allow-dial ranges).
	Dial
	// ReadAudit reads the audit log.
	ReadAudit
	// ManageOthers changes what another user owns (their responder rules
	// and filters).
	ManageOthers
)

func (a Action) String() string {
	switch a {
	case Read:
		return "read"
	case Send:
		return "send"
	case Traceroute:
		return "traceroute"
	case Sweep:
		return "sweep"
	case ManageRules:
		return "manage-rules"
	case WriteConfig:
		return "write-config"
	case Reboot:
		return "reboot"
	case Shutdown:
		return "shutdown"
	case FactoryReset:
		return "factory-reset"
	case ResetNodeDB:
		return "reset-nodedb"
	case ManageSessions:
		return "manage-sessions"
	case Dial:
		return "dial"
	case Request:
		return "request"
	case Reconnect:
		return "reconnect"
	case ReadAudit:
		return "read-audit"
	case ManageOthers:
		return "manage-others"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// minRole is the lowest role allowed to perform a, or 0 for an unknown
// action, which nobody may perform.
func (a Action) minRole() Role {
	switch {
	case a == Read:
		return Viewer
	case a >= Send && a <= Reconnect:
		return Operator
	case a >= WriteConfig && a <= ManageOthers:
		return Admin
	}
	return 0
}

// Can reports whether role r may perform a. Invalid roles and unknown actions
// are always refused.
func (r Role) Can(a Action) bool {
	need := a.minRole()
	return r.Valid() && need != 0 && r >= need
}
