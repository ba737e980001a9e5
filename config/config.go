// Package config loads the gateway's settings: built-in defaults, then an
// optional YAML file, then MESHGATE_* environment variables, then
// command-line flags, each overriding the one before. Every setting has
// one name, used as the flag (--max-sessions), the environment variable
// (MESHGATE_MAX_SESSIONS) and the YAML key (max_sessions).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshgate/meshgate/format"
)

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Radio is one configured radio.
type Radio struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// AlwaysOn keeps the radio connected with nobody logged in.
	AlwaysOn bool `yaml:"always_on"`
}

// NodeListen is a plain TCP listener serving one radio's virtual node
// (--node-listen RADIO=ADDR).
type NodeListen struct {
	Radio  string `yaml:"radio"`
	Listen string `yaml:"listen"`
}

// DefaultNodeAllow is who a node listener serves when node-allow is not
// set: this host only.
var DefaultNodeAllow = []string{"127.0.0.0/8", "::1/128"}

// Config is the whole gateway configuration.
type Config struct {
	Listen                   string        `yaml:"listen"`
	DataDir                  string        `yaml:"data_dir"`
	HostKey                  string        `yaml:"host_key"`
	AuthorizedKeys           string        `yaml:"authorized_keys"`
	MaxSessions              int           `yaml:"max_sessions"`
	MaxSessionsPerKey        int           `yaml:"max_sessions_per_key"`
	MaxSessionsPerConnection int           `yaml:"max_sessions_per_connection"`
	IdleTimeout              time.Duration `yaml:"idle_timeout"`
	ReapInterval             time.Duration `yaml:"reap_interval"`
	PacketLog                int           `yaml:"packet_log"`
	AllowDial                []string      `yaml:"allow_dial"`
	HandshakeTimeout         time.Duration `yaml:"handshake_timeout"`
	MaxAuthTries             int           `yaml:"max_auth_tries"`
	MaxStartups              string        `yaml:"max_startups"`
	MaxStartupsPerSource     int           `yaml:"max_startups_per_source"`
	PerSourcePenalty         time.Duration `yaml:"per_source_penalty"`
	PerSourcePenaltyMax      time.Duration `yaml:"per_source_penalty_max"`
	MaxConnections           int           `yaml:"max_connections"`
	MaxConnectionsPerKey     int           `yaml:"max_connections_per_key"`
	NoSessionGrace           time.Duration `yaml:"no_session_grace"`
	ShutdownGrace            time.Duration `yaml:"shutdown_grace"`
	LinkGrace                time.Duration `yaml:"link_grace"`
	Heartbeat                time.Duration `yaml:"heartbeat"`
	LogLevel                 string        `yaml:"log_level"`
	LogFormat                string        `yaml:"log_format"`
	Demo                     bool          `yaml:"demo"`
	MetricsListen            string        `yaml:"metrics_listen"`
	TrustedProxies           []string      `yaml:"trusted_proxies"`
	Radios                   []Radio       `yaml:"radios"`
	// NodeListen, NodeAllow and NodeRole: plain TCP listeners for apps
	// on a trusted network. NodeAllow empty means DefaultNodeAllow; a
	// list counts as chosen explicitly (meshgate check).
	NodeListen []NodeListen `yaml:"node_listen"`
	NodeAllow  []string     `yaml:"node_allow"`
	NodeRole   string       `yaml:"node_role"`

	// Source names where the file settings came from (for messages).
	Source string `yaml:"-"`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Listen:                   ":2222",
		DataDir:                  defaultDataDir(),
		MaxSessions:              10,
		MaxSessionsPerKey:        5,
		MaxSessionsPerConnection: 10,
		IdleTimeout:              time.Hour,
		ReapInterval:             5 * time.Minute,
		PacketLog:                500,
		HandshakeTimeout:         20 * time.Second,
		MaxAuthTries:             4,
		MaxStartups:              "16:30:32",
		MaxStartupsPerSource:     8,
		PerSourcePenalty:         5 * time.Second,
		PerSourcePenaltyMax:      10 * time.Minute,
		NoSessionGrace:           30 * time.Second,
		ShutdownGrace:            5 * time.Second,
		LinkGrace:                30 * time.Second,
		Heartbeat:                60 * time.Second,
		LogLevel:                 "info",
		LogFormat:                "text",
		NodeRole:                 "viewer",
	}
}

func defaultDataDir() string {
	if d, err := os.UserConfigDir(); err == nil && d != "" {
		return filepath.Join(d, "meshgate")
	}
	return "meshgate-data"
}

// HostKeyPath is the host key file (default: in the data directory).
func (c *Config) HostKeyPath() string {
	if c.HostKey != "" {
		return c.HostKey
	}
	return filepath.Join(c.DataDir, "ssh_host_ed25519_key")
}

// AuthorizedKeysPath is the authorized_keys file (default: in the data
// directory).
func (c *Config) AuthorizedKeysPath() string {
	if c.AuthorizedKeys != "" {
		return c.AuthorizedKeys
	}
	return filepath.Join(c.DataDir, "authorized_keys")
}

// LoadFile merges a YAML file into c. Unknown keys and bad values are
// errors naming the file and line.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return yamlError(path, err)
	}
	if len(root.Content) == 0 {
		return nil // an empty file changes nothing
	}
	// Durations are Go durations ("90s", "5m"); yaml.v3 would take a bare
	// number as nanoseconds, which is never what anyone means. Caps are
	// checked here too, so that a bad one is reported with its line.
	if err := checkValues(path, root.Content[0]); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return yamlError(path, err)
	}
	c.Source = path
	return nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError rewrites the YAML library's "line N: msg" errors into the
// usual "file:N: msg" form, one problem per line.
func yamlError(path string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for i, m := range msgs {
		if sub := yamlLine.FindStringSubmatch(strings.TrimSpace(m)); sub != nil {
			msgs[i] = fmt.Sprintf("%s:%s: %s", path, sub[1], sub[2])
		} else {
			msgs[i] = path + ": " + strings.TrimPrefix(m, "yaml: ")
		}
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "\n"))
}

// maxHeartbeat keeps heartbeats well inside the firmware's 15-minute drop
// of a silent client (the protocol library refuses more, too).
const maxHeartbeat = 10 * time.Minute

var durationKeys = map[string]bool{
	"idle_timeout": true, "reap_interval": true, "handshake_timeout": true, "shutdown_grace": true,
	"link_grace": true, "heartbeat": true, "per_source_penalty": true, "per_source_penalty_max": true,
	"no_session_grace": true,
}

// capKeys are whole numbers that must be at least 1: a cap of 0 would let
// nobody in.
var capKeys = map[string]bool{
	"max_sessions": true, "max_sessions_per_key": true, "max_sessions_per_connection": true,
	"max_startups_per_source": true,
}

func checkValues(path string, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s:%d: the file must be a mapping of settings", ErrInvalid, path, n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if durationKeys[k.Value] {
			if _, err := time.ParseDuration(v.Value); err != nil {
				return fmt.Errorf("%w: %s:%d: %s: %q is not a duration (e.g. 90s, 5m, 1h)", ErrInvalid, path, v.Line, k.Value, v.Value)
			}
		}
		if capKeys[k.Value] && v.Kind == yaml.ScalarNode {
			// Anything that is not a number is left to the decoder, which
			// says "cannot unmarshal" with the line.
			if num, err := strconv.Atoi(v.Value); err == nil && num < 1 {
				return fmt.Errorf("%w: %s:%d: %s: must be at least 1, got %d", ErrInvalid, path, v.Line, k.Value, num)
			}
		}
	}
	return nil
}

// Setting is one named setting, shared by flag, environment and file.
type Setting struct {
	Name  string // flag name; env is MESHGATE_ + upper(name) with - as _
	Usage string
	Set   func(c *Config, v string) error
	// Get formats the setting's value in c the way it would be given
	// ("10", "1h", "a,b"); "" when it is empty or off.
	Get func(c *Config) string
}

// EnvName is the environment variable for a setting.
func (s Setting) EnvName() string {
	return "MESHGATE_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
}

// Default is the setting's built-in default as Get formats it ("" for
// none).
func (s Setting) Default() string {
	c := Default()
	return s.Get(&c)
}

// Settings lists every setting that flags and environment can set.
func Settings() []Setting {
	str := func(name, usage string, f func(*Config) *string) Setting {
		return Setting{name, usage,
			func(c *Config, v string) error { *f(c) = v; return nil },
			func(c *Config) string { return *f(c) }}
	}
	num := func(name, usage string, f func(*Config) *int, lo, hi int) Setting {
		return Setting{name, usage,
			func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < lo || n > hi {
					return fmt.Errorf("want a whole number %d-%d, got %q", lo, hi, v)
				}
				*f(c) = n
				return nil
			},
			func(c *Config) string { return strconv.Itoa(*f(c)) }}
	}
	dur := func(name, usage string, f func(*Config) *time.Duration) Setting {
		return Setting{name, usage,
			func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("want a duration such as 90s, 5m or 1h, got %q", v)
				}
				*f(c) = d
				return nil
			},
			func(c *Config) string { return format.Typed(*f(c)) }}
	}
	boolean := func(name, usage string, f func(*Config) *bool) Setting {
		return Setting{name, usage,
			func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("want true or false, got %q", v)
				}
				*f(c) = b
				return nil
			},
			func(c *Config) string {
				if *f(c) {
					return "true"
				}
				return ""
			}}
	}
	list := func(name, usage string, f func(*Config) *[]string) Setting {
		return Setting{name, usage, cidrs(f), func(c *Config) string { return strings.Join(*f(c), ",") }}
	}
	return []Setting{
		str("listen", "address to accept SSH connections on", func(c *Config) *string { return &c.Listen }),
		str("data-dir", "directory for the host key, authorized_keys and state", func(c *Config) *string { return &c.DataDir }),
		str("host-key", "host key file (default DATA_DIR/ssh_host_ed25519_key, created on first start)", func(c *Config) *string { return &c.HostKey }),
		str("authorized-keys", "authorized_keys file (default DATA_DIR/authorized_keys)", func(c *Config) *string { return &c.AuthorizedKeys }),
		num("max-sessions", "most sessions open at once", func(c *Config) *int { return &c.MaxSessions }, 1, 100000),
		num("max-sessions-per-key", "most sessions one key may have open at once", func(c *Config) *int { return &c.MaxSessionsPerKey }, 1, 100000),
		num("max-sessions-per-connection", "most sessions one SSH connection may run at once (like sshd's MaxSessions)", func(c *Config) *int { return &c.MaxSessionsPerConnection }, 1, 100000),
		dur("idle-timeout", "close sessions with no keyboard input for this long", func(c *Config) *time.Duration { return &c.IdleTimeout }),
		dur("reap-interval", "how often idle sessions are looked for", func(c *Config) *time.Duration { return &c.ReapInterval }),
		num("packet-log", "packets kept in each session's log", func(c *Config) *int { return &c.PacketLog }, 10, 100000),
		dur("handshake-timeout", "time allowed for key exchange and authentication", func(c *Config) *time.Duration { return &c.HandshakeTimeout }),
		num("max-auth-tries", "failed keys allowed per connection", func(c *Config) *int { return &c.MaxAuthTries }, 1, 20),
		{"max-startups", "unauthenticated connections as sshd's MaxStartups START:RATE:FULL: from START on, new ones are dropped with a probability rising from RATE% to 100% at FULL (a single number N: FULL, no random drops)", func(c *Config, v string) error {
			if _, _, _, err := parseStartups(v); err != nil {
				return err
			}
			c.MaxStartups = v
			return nil
		}, func(c *Config) string { return c.MaxStartups }},
		num("max-startups-per-source", "unauthenticated connections allowed from one address (an IPv6 /64) at once", func(c *Config) *int { return &c.MaxStartupsPerSource }, 1, 100000),
		dur("per-source-penalty", "refuse an address that keeps failing to log in: each failure costs it this, doubling; refused past three times this (0: off)", func(c *Config) *time.Duration { return &c.PerSourcePenalty }),
		dur("per-source-penalty-max", "the longest an address is refused for failed logins", func(c *Config) *time.Duration { return &c.PerSourcePenaltyMax }),
		num("max-connections", "most authenticated SSH connections open at once (0: 64, or max-sessions if larger)", func(c *Config) *int { return &c.MaxConnections }, 0, 100000),
		num("max-connections-per-key", "most authenticated SSH connections one key may have open (0: 8, or max-sessions-per-key if larger)", func(c *Config) *int { return &c.MaxConnectionsPerKey }, 0, 100000),
		dur("no-session-grace", "close an authenticated connection that has had no session (command, UI or forward to a radio) for this long (ssh -N without -L, or all its sessions ended; a tunnel that has carried an app waits 15m for the next)", func(c *Config) *time.Duration { return &c.NoSessionGrace }),
		dur("shutdown-grace", "how long sessions get to finish on shutdown", func(c *Config) *time.Duration { return &c.ShutdownGrace }),
		dur("link-grace", "keep a radio connected this long after its last user leaves", func(c *Config) *time.Duration { return &c.LinkGrace }),
		dur("heartbeat", "radio heartbeat interval; the radio drops clients silent for 15 minutes", func(c *Config) *time.Duration { return &c.Heartbeat }),
		str("log-level", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
		str("log-format", "text, logfmt or json", func(c *Config) *string { return &c.LogFormat }),
		boolean("demo", "two simulated radios, loopback only, any key accepted as admin", func(c *Config) *bool { return &c.Demo }),
		list("allow-dial", "CIDR ranges admins may dial ad hoc, comma-separated (default none)", func(c *Config) *[]string { return &c.AllowDial }),
		{"metrics-listen", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9222 (default off)", func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); v != "" && err != nil {
				return fmt.Errorf("want host:port, got %q", v)
			}
			c.MetricsListen = v
			return nil
		}, func(c *Config) string { return c.MetricsListen }},
		list("trusted-proxies", "CIDR ranges of load balancers allowed to send a PROXY protocol header, comma-separated (default off)", func(c *Config) *[]string { return &c.TrustedProxies }),
		{"radio", "a radio as NAME=ADDR (repeatable; env: comma-separated); ADDR is host[:port], tcp://host:port, serial:///dev/ttyUSB0 or sim://", func(c *Config, v string) error {
			for _, item := range splitList(v) {
				name, addr, ok := strings.Cut(item, "=")
				if !ok || name == "" || addr == "" {
					return fmt.Errorf("want NAME=ADDR, got %q", item)
				}
				c.Radios = append(c.Radios, Radio{Name: strings.TrimSpace(name), Address: strings.TrimSpace(addr)})
			}
			return nil
		}, func(c *Config) string {
			var out []string
			for _, r := range c.Radios {
				out = append(out, r.Name+"="+r.Address)
			}
			return strings.Join(out, ",")
		}},
		{"node-listen", "serve a radio's API to apps (phone app, Home Assistant, python CLI) without authentication on a plain TCP port, as RADIO=ADDR, e.g. base=:4403 (repeatable; env: comma-separated; default off); only node-allow sources are served", func(c *Config, v string) error {
			for _, item := range splitList(v) {
				name, addr, ok := strings.Cut(item, "=")
				name, addr = strings.TrimSpace(name), strings.TrimSpace(addr)
				if !ok || name == "" || addr == "" {
					return fmt.Errorf("want RADIO=ADDR such as base=:4403, got %q", item)
				}
				if _, _, err := net.SplitHostPort(addr); err != nil {
					return fmt.Errorf("%q: want RADIO=HOST:PORT such as base=:4403", item)
				}
				c.NodeListen = append(c.NodeListen, NodeListen{Radio: name, Listen: addr})
			}
			return nil
		}, func(c *Config) string {
			var out []string
			for _, n := range c.NodeListen {
				out = append(out, n.Radio+"="+n.Listen)
			}
			return strings.Join(out, ",")
		}},
		list("node-allow", "CIDR ranges node-listen serves, comma-separated; connections from anywhere else are closed at once (default "+strings.Join(DefaultNodeAllow, ",")+", this host only)", func(c *Config) *[]string { return &c.NodeAllow }),
		{"node-role", "role of node-listen's clients: viewer (receive only), operator (texts, requests, traceroutes) or admin (admin messages too)", func(c *Config, v string) error {
			switch v {
			case "viewer", "operator", "admin":
				c.NodeRole = v
				return nil
			}
			return fmt.Errorf("want viewer, operator or admin, got %q", v)
		}, func(c *Config) string { return c.NodeRole }},
	}
}

// cidrs sets a list of CIDR ranges, checking each.
func cidrs(f func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		list := splitList(v)
		for _, s := range list {
			if _, err := netip.ParsePrefix(s); err != nil {
				return fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/24", s)
			}
		}
		*f(c) = list
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ApplyEnv applies MESHGATE_* variables from environ (os.Environ form).
func (c *Config) ApplyEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, s := range Settings() {
		v, ok := env[s.EnvName()]
		if !ok {
			continue
		}
		switch s.Name {
		case "radio":
			c.Radios = nil // the environment replaces the file's radios
		case "node-listen":
			c.NodeListen = nil // and its node listeners
		}
		if err := s.Set(c, v); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalid, s.EnvName(), err)
		}
	}
	return nil
}

// Validate checks the merged configuration.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	if c.Listen == "" {
		return bad("listen address is empty")
	}
	if c.DataDir == "" {
		return bad("data directory is empty")
	}
	if c.IdleTimeout < time.Second {
		return bad("idle-timeout %s is too short (at least 1s)", c.IdleTimeout)
	}
	if c.ReapInterval < 100*time.Millisecond {
		return bad("reap-interval %s is too short", c.ReapInterval)
	}
	if c.MaxSessions < 1 {
		return bad("max-sessions must be at least 1")
	}
	if c.Heartbeat < time.Second || c.Heartbeat > maxHeartbeat {
		return bad("heartbeat %s: want 1s to %s (the radio drops a client silent for 15 minutes)", c.Heartbeat, format.Typed(maxHeartbeat))
	}
	if c.MaxSessionsPerKey < 1 {
		return bad("max-sessions-per-key must be at least 1")
	}
	if c.MaxSessionsPerConnection < 1 {
		return bad("max-sessions-per-connection must be at least 1")
	}
	if _, _, _, err := parseStartups(c.MaxStartups); err != nil {
		return bad("max-startups: %v", err)
	}
	if c.MaxStartupsPerSource < 1 {
		return bad("max-startups-per-source must be at least 1")
	}
	if c.MaxConnections < 0 || c.MaxConnectionsPerKey < 0 {
		return bad("max-connections and max-connections-per-key must be 0 (automatic) or more")
	}
	if c.NoSessionGrace < time.Second {
		return bad("no-session-grace %s is too short (at least 1s)", c.NoSessionGrace)
	}
	if c.PerSourcePenalty < 0 || (c.PerSourcePenalty > 0 && c.PerSourcePenaltyMax < c.PerSourcePenalty) {
		return bad("per-source-penalty-max %s must be at least per-source-penalty %s", c.PerSourcePenaltyMax, c.PerSourcePenalty)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "logfmt", "json":
	default:
		return bad("log-format %q: want text, logfmt or json", c.LogFormat)
	}
	if _, err := c.DialRanges(); err != nil {
		return err
	}
	if _, err := c.ProxyRanges(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range c.Radios {
		if r.Name == "" || r.Address == "" {
			return bad("radio %q: needs both a name and an address", r.Name)
		}
		if seen[r.Name] {
			return bad("radio %q is configured twice", r.Name)
		}
		seen[r.Name] = true
	}
	if _, err := c.NodeAllowRanges(); err != nil {
		return err
	}
	switch c.NodeRole {
	case "viewer", "operator", "admin":
	default:
		return bad("node-role %q: want viewer, operator or admin", c.NodeRole)
	}
	addrs := map[string]bool{}
	for _, n := range c.NodeListen {
		if !seen[n.Radio] {
			return bad("node-listen %s=%s: no radio named %q", n.Radio, n.Listen, n.Radio)
		}
		_, port, err := net.SplitHostPort(n.Listen)
		if err != nil {
			return bad("node-listen %s=%s: %q is not host:port", n.Radio, n.Listen, n.Listen)
		}
		if port != "0" && (addrs[n.Listen] || n.Listen == c.Listen) { // port 0: any free port
			return bad("node-listen %s=%s: the address is used twice", n.Radio, n.Listen)
		}
		addrs[n.Listen] = true
	}
	if !c.Demo && len(c.Radios) == 0 {
		return bad("no radios configured (use --radio NAME=ADDR, the config file, or --demo)")
	}
	return nil
}

// Startups parses MaxStartups into sshd's start, rate (percent) and full.
func (c *Config) Startups() (begin, rate, full int, err error) {
	return parseStartups(c.MaxStartups)
}

// parseStartups reads "START:RATE:FULL" or a single "FULL" (which means
// no random drops: START is FULL).
func parseStartups(v string) (begin, rate, full int, err error) {
	bad := fmt.Errorf("want START:RATE:FULL such as 16:30:32, or a single number, got %q", v)
	parts := strings.Split(v, ":")
	nums := make([]int, len(parts))
	for i, p := range parts {
		if nums[i], err = strconv.Atoi(strings.TrimSpace(p)); err != nil {
			return 0, 0, 0, bad
		}
	}
	switch len(nums) {
	case 1:
		begin, rate, full = nums[0], 100, nums[0]
	case 3:
		begin, rate, full = nums[0], nums[1], nums[2]
	default:
		return 0, 0, 0, bad
	}
	if full < 1 || begin < 1 || begin > full || rate < 1 || rate > 100 {
		return 0, 0, 0, fmt.Errorf("%q: want 1 <= START <= FULL and RATE 1-100", v)
	}
	return begin, rate, full, nil
}

// ProxyRanges parses TrustedProxies.
func (c *Config) ProxyRanges() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted-proxies %q: want CIDR such as 10.0.0.0/24", ErrInvalid, s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// DialRanges parses AllowDial.
func (c *Config) DialRanges() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.AllowDial {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: allow-dial %q: want CIDR such as 192.168.1.0/24", ErrInvalid, s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// NodeAllowRanges parses NodeAllow, or gives DefaultNodeAllow when it is
// not set.
func (c *Config) NodeAllowRanges() ([]netip.Prefix, error) {
	list := c.NodeAllow
	if len(list) == 0 {
		list = DefaultNodeAllow
	}
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: node-allow %q: want CIDR such as 192.168.1.0/24", ErrInvalid, s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
