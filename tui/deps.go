package tui

import (
	"context"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// Radio is what the UI needs from one radio's broker. Everything it
// returns is shared with other sessions and must not be modified.
type Radio interface {
	Name() string
	Status() radio.Status
	View() *radio.View
	Messages(n int) []*radio.Message
	Message(id uint32) (radio.Message, bool)
	QueueLen() int
	SendText(ctx context.Context, who string, t meshtastic.Text) (radio.Message, error)
	Traceroute(ctx context.Context, dest uint32, o meshtastic.TraceOptions, onPos func(radio.Position)) (*meshtastic.Route, error)
	Admin(ctx context.Context, f func(context.Context, *meshtastic.Client) error) error
	Announce(text string)
	// SendBeacon renders a beacon and sends it now (the Rules tab's test).
	SendBeacon(ctx context.Context, b responder.Beacon) (radio.Message, error)
}

var _ Radio = (*radio.Broker)(nil)

// Session is the login's own record: its packet log, MQTT health,
// traceroute results, sweep and filters. *sessions.Session has it.
type Session interface {
	ID() string
	IdleFor(now time.Time) time.Duration
	Drops() uint64
	Packets() []sessions.LoggedPacket
	LastPackets(n int) []sessions.LoggedPacket
	PacketsSeen() uint64
	MQTTHealth() sessions.MQTTHealth
	AddTrace(t sessions.TraceResult)
	Traces() []sessions.TraceResult
	SetSweep(st sessions.SweepStatus)
	Sweep() sessions.SweepStatus
	SetFilters(f sessions.Filters)
	Filters() sessions.Filters
}

var _ Session = (*sessions.Session)(nil)

// Store is what the Rules tab needs from the gateway's database: the
// responder rules, message filters and beacons, and a revision that
// changes whenever any of them does. *store.Store has it; every change is
// audited by the store itself. Ownership and roles are the UI's to check
// before calling, as the exec commands do.
type Store interface {
	Revision() uint64

	Rules(ctx context.Context, radio string) ([]responder.Rule, error)
	Rule(ctx context.Context, id int64) (responder.Rule, error)
	AddRule(ctx context.Context, by store.Actor, r responder.Rule) (responder.Rule, error)
	UpdateRule(ctx context.Context, by store.Actor, r responder.Rule) error
	SetRuleEnabled(ctx context.Context, by store.Actor, id int64, enabled bool) error
	DeleteRule(ctx context.Context, by store.Actor, id int64) error

	Filters(ctx context.Context) ([]filter.Filter, error)
	AddFilter(ctx context.Context, by store.Actor, f filter.Filter) (filter.Filter, error)
	SetFilterEnabled(ctx context.Context, by store.Actor, id int64, enabled bool) error
	DeleteFilter(ctx context.Context, by store.Actor, id int64) error

	Beacon(ctx context.Context, radio string) (responder.Beacon, error)
	PutBeacon(ctx context.Context, by store.Actor, b responder.Beacon) (responder.Beacon, error)
	SetBeaconEnabled(ctx context.Context, by store.Actor, radio string, enabled bool) error
	DeleteBeacon(ctx context.Context, by store.Actor, radio string) error
}

var _ Store = (*store.Store)(nil)

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
}

// Config is what a model is built from.
type Config struct {
	// Context ends with the session. Timers, sends, traceroutes, sweeps and
	// admin operations started by the UI end with it.
	Context  context.Context
	Identity auth.Identity
	Session  Session
	Radios   Radios
	// Radio, when set, is the radio the session is already bound to (ssh
	// -t gateway tui -r NAME): the UI starts on its tabs instead of the
	// lobby.
	Radio Radio
	// IdleTimeout is the session's idle limit; the status line counts down
	// during its last minutes. Zero disables the countdown.
	IdleTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Audit, when set, is told about every admin operation the user ran:
	// the radio, the action (an auth.Action name) and its outcome.
	Audit func(radio, action string, err error)
	// Store, when set, is the gateway's database: the Rules tab manages
	// its rules, filters and beacon, and the user's own filters apply to
	// this session's views. Nil: the gateway runs without one.
	Store Store
}
