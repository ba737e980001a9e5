package tui

import (
	"context"
	"time"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// Radio is what the UI streams from one radio's broker itself: its link
// state, its shared view and messages, and its traceroute queue. Every
// operation on the radio goes through the core (Config.Backend) instead.
// Everything it returns is shared with other sessions and must not be
// modified.
type Radio interface {
	Name() string
	Status() radio.Status
	View() *radio.View
	Messages(n int) []*radio.Message
	Message(id uint32) (radio.Message, bool)
	QueueLen() int
	// VirtualClients is how many apps use the radio's API through the
	// gateway (virtual node clients); they are among its users.
	VirtualClients() int
}

var _ Radio = (*radio.Broker)(nil)

// Session is what the UI reads from the login's own record: its packet
// log, MQTT health, traceroute results, sweep and view filters. The core
// writes the traceroute results and the sweep. *sessions.Session has it.
type Session interface {
	ID() string
	IdleFor(now time.Time) time.Duration
	Drops() uint64
	Packets() []sessions.LoggedPacket
	LastPackets(n int) []sessions.LoggedPacket
	PacketsSeen() uint64
	MQTTHealth() sessions.MQTTHealth
	Traces() []sessions.TraceResult
	Sweep() sessions.SweepStatus
	SetFilters(f sessions.Filters)
	Filters() sessions.Filters
}

var _ Session = (*sessions.Session)(nil)

// Radios lists the radios this login may use and binds the session to one.
// *Link has it.
type Radios interface {
	List() []RadioInfo
	// Bind makes the session use the named radio: it subscribes to the
	// radio's events (delivered to the program as messages) and starts the
	// session's per-radio state afresh when the radio changes.
	Bind(name string) (Radio, error)
}

// RadioInfo is one line of the lobby.
type RadioInfo struct {
	Name   string
	Status radio.Status
	Users  int // sessions bound to it
	Nodes  int // nodes in its NodeDB; 0 until it first connected
}

// Config is what a model is built from.
type Config struct {
	// Context ends with the session. Timers and the operations the UI
	// asks the core for (sends, traceroutes, sweeps, admin actions) end
	// with it.
	Context context.Context
	// Backend is the core: every action and every permission question
	// goes to it. Required.
	Backend *backend.Backend
	// Caller is who asks: the key's identity and its session record
	// (required), with Via "tui".
	Caller backend.Caller
	Radios Radios
	// Radio, when set, is the radio the session is already bound to (ssh
	// -t gateway tui -r NAME): the UI starts on its tabs instead of the
	// lobby.
	Radio Radio
	// IdleTimeout is the session's idle limit; the status line counts down
	// during its last minutes. Zero disables the countdown.
	IdleTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}
