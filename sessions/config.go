package sessions

import (
	"log/slog"
	"time"
)

// Defaults, as DESIGN.md sets them.
const (
	DefaultMaxSessions  = 10
	DefaultMaxPerKey    = 5
	DefaultIdleTimeout  = time.Hour
	DefaultReapInterval = 5 * time.Minute
	DefaultPacketLog    = 500
)

// Bounds for values that make no sense. Below minIdleTimeout every session
// would be reaped between two keystrokes; below minReapInterval the reaper
// only burns CPU; above maxPacketLog one session could pin megabytes of
// packets that every other session has long forgotten.
const (
	minIdleTimeout  = time.Second
	minReapInterval = 10 * time.Millisecond
	maxPacketLog    = 100_000
)

// Config tunes a Manager. The zero value gives the defaults; zero or
// negative fields mean "default".
type Config struct {
	// MaxSessions caps concurrent sessions; Open refuses beyond it.
	// Default 10.
	MaxSessions int
	// MaxPerKey caps the sessions one key (User.Fingerprint) may have open
	// at once, so no single key can fill the gateway. Default 5. Records
	// without a fingerprint (made by tests and tools, never by the server)
	// are not counted per key.
	MaxPerKey int
	// IdleTimeout: a session with no user input for this long is closed by
	// the reaper. Default 1 h, at least 1 s.
	IdleTimeout time.Duration
	// ReapInterval is how often the reaper looks. Default 5 min, at least
	// 10 ms, and never longer than IdleTimeout (otherwise a session could
	// outlive the timeout by more than the timeout itself).
	ReapInterval time.Duration
	// PacketLog is the capacity of each session's packet log. Default 500,
	// at most 100,000.
	PacketLog int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives session lifecycle events. Default: discard.
	Logger *slog.Logger
}

// normalize fills defaults and clamps nonsense. Values that had to be
// changed (as opposed to left unset) are logged, so an operator who passed
// --idle-timeout 10ms learns why sessions last a second.
func (c Config) normalize() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	adjusted := func(field string, from, to any) {
		c.Logger.Warn("sessions: config value out of range, adjusted", "field", field, "from", from, "to", to)
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxPerKey <= 0 {
		c.MaxPerKey = DefaultMaxPerKey
	}
	switch {
	case c.IdleTimeout <= 0:
		c.IdleTimeout = DefaultIdleTimeout
	case c.IdleTimeout < minIdleTimeout:
		adjusted("IdleTimeout", c.IdleTimeout, minIdleTimeout)
		c.IdleTimeout = minIdleTimeout
	}
	switch {
	case c.ReapInterval <= 0:
		c.ReapInterval = min(DefaultReapInterval, c.IdleTimeout)
	case c.ReapInterval < minReapInterval:
		adjusted("ReapInterval", c.ReapInterval, minReapInterval)
		c.ReapInterval = minReapInterval
	case c.ReapInterval > c.IdleTimeout:
		adjusted("ReapInterval", c.ReapInterval, c.IdleTimeout)
		c.ReapInterval = c.IdleTimeout
	}
	switch {
	case c.PacketLog <= 0:
		c.PacketLog = DefaultPacketLog
	case c.PacketLog > maxPacketLog:
		adjusted("PacketLog", c.PacketLog, maxPacketLog)
		c.PacketLog = maxPacketLog
	}
	return c
}
