package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "meshgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	c := Default()
	if err := c.LoadFile(write(t, "listen: 127.0.0.1:2200\nmax_sessions: 5\nidle_timeout: 30m\nradios:\n  - name: base\n    address: 10.0.0.5\n")); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2200" || c.MaxSessions != 5 || c.IdleTimeout != 30*time.Minute || len(c.Radios) != 1 {
		t.Fatalf("file: %+v", c)
	}
	if err := c.ApplyEnv([]string{"MESHGATE_MAX_SESSIONS=7", "MESHGATE_RADIO=a=sim://,b=serial:///dev/ttyUSB0", "HOME=/x"}); err != nil {
		t.Fatal(err)
	}
	if c.MaxSessions != 7 || len(c.Radios) != 2 || c.Radios[1].Address != "serial:///dev/ttyUSB0" {
		t.Fatalf("env: %+v", c)
	}
	if c.Listen != "127.0.0.1:2200" {
		t.Fatal("env changed a setting it did not name")
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBadFilesNameFileAndLine(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"unknown key":     {"listen: :2222\nmax_sesions: 3\n", ":2: field max_sesions not found"},
		"bad duration":    {"listen: :2222\n\nidle_timeout: 3600\n", ":3: idle_timeout: \"3600\" is not a duration"},
		"wrong type":      {"max_sessions: many\n", ":1: cannot unmarshal"},
		"broken yaml":     {"radios:\n  - name: a\n   address: b\n", ":1: did not find expected"},
		"not a mapping":   {"- a\n- b\n", ":1: the file must be a mapping"},
		"bad radio entry": {"radios:\n  - nme: a\n", ":2: field nme not found"},
		"zero key cap":    {"listen: :2222\nmax_sessions_per_key: 0\n", ":2: max_sessions_per_key: must be at least 1, got 0"},
		"negative conn":   {"max_sessions_per_connection: -2\n", ":1: max_sessions_per_connection: must be at least 1, got -2"},
		"zero gateway":    {"\nmax_sessions: 0\n", ":2: max_sessions: must be at least 1, got 0"},
		"word as a cap":   {"max_sessions_per_key: few\n", ":1: cannot unmarshal"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := Default()
			path := write(t, tc.body)
			err := c.LoadFile(path)
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q should name the file and %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]func(*Config){
		"no radios":        func(c *Config) { c.Radios = nil },
		"duplicate radio":  func(c *Config) { c.Radios = append(c.Radios, c.Radios[0]) },
		"short idle":       func(c *Config) { c.IdleTimeout = time.Millisecond },
		"bad allow-dial":   func(c *Config) { c.AllowDial = []string{"10.0.0.0/33"} },
		"bad log level":    func(c *Config) { c.LogLevel = "loud" },
		"radio no address": func(c *Config) { c.Radios = []Radio{{Name: "x"}} },
		"no key cap":       func(c *Config) { c.MaxSessionsPerKey = 0 },
		"no conn cap":      func(c *Config) { c.MaxSessionsPerConnection = -1 },
	}
	for name, mutate := range bad {
		c := Default()
		c.Radios = []Radio{{Name: "base", Address: "sim://"}}
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	// Settings with a syntax of their own refuse nonsense when set; free
	// text (paths, addresses, levels) is checked by Validate.
	free := map[string]bool{"listen": true, "data-dir": true, "host-key": true, "authorized-keys": true,
		"log-level": true, "log-format": true}
	for _, s := range Settings() {
		c := Default()
		if err := s.Set(&c, "not valid at all"); (err == nil) != free[s.Name] {
			t.Errorf("--%s: Set(nonsense) = %v", s.Name, err)
		}
	}
	if err := Settings()[0].Set(&Config{}, "x"); err != nil {
		t.Fatal(err)
	}
	if (Setting{Name: "max-sessions"}).EnvName() != "MESHGATE_MAX_SESSIONS" {
		t.Fatal("env name")
	}
}

func TestSessionCaps(t *testing.T) {
	c := Default()
	if c.MaxSessionsPerKey != 5 || c.MaxSessionsPerConnection != 10 {
		t.Fatalf("defaults: %d per key, %d per connection", c.MaxSessionsPerKey, c.MaxSessionsPerConnection)
	}
	if err := c.LoadFile(write(t, "max_sessions_per_key: 3\nmax_sessions_per_connection: 4\n")); err != nil {
		t.Fatal(err)
	}
	if c.MaxSessionsPerKey != 3 || c.MaxSessionsPerConnection != 4 {
		t.Fatalf("file: %+v", c)
	}
	if err := c.ApplyEnv([]string{"MESHGATE_MAX_SESSIONS_PER_KEY=2", "MESHGATE_MAX_SESSIONS_PER_CONNECTION=7"}); err != nil {
		t.Fatal(err)
	}
	if c.MaxSessionsPerKey != 2 || c.MaxSessionsPerConnection != 7 {
		t.Fatalf("env: %+v", c)
	}
	err := c.ApplyEnv([]string{"MESHGATE_MAX_SESSIONS_PER_KEY=0"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "MESHGATE_MAX_SESSIONS_PER_KEY") {
		t.Fatalf("env 0: %v", err)
	}
}

// The connection limits' settings: sshd's MaxStartups syntax, the
// per-source penalty, authenticated-connection caps and the no-session
// grace, from file and environment.
func TestConnectionLimitSettings(t *testing.T) {
	c := Default()
	c.Radios = []Radio{{Name: "base", Address: "sim://"}}
	if b, r, f, err := c.Startups(); err != nil || b != 16 || r != 30 || f != 32 {
		t.Fatalf("default startups %d:%d:%d %v", b, r, f, err)
	}
	if c.MaxStartupsPerSource != 8 || c.PerSourcePenalty != 5*time.Second || c.PerSourcePenaltyMax != 10*time.Minute ||
		c.MaxConnections != 0 || c.MaxConnectionsPerKey != 0 || c.NoSessionGrace != 30*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.LoadFile(write(t, "max_startups: \"10:50:20\"\nmax_connections_per_key: 3\nno_session_grace: 1m\nper_source_penalty: 0s\n")); err != nil {
		t.Fatal(err)
	}
	if b, r, f, _ := c.Startups(); b != 10 || r != 50 || f != 20 || c.MaxConnectionsPerKey != 3 || c.NoSessionGrace != time.Minute || c.PerSourcePenalty != 0 {
		t.Fatalf("file: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("penalties off: %v", err)
	}
	if err := c.ApplyEnv([]string{"MESHGATE_MAX_STARTUPS=40", "MESHGATE_MAX_CONNECTIONS=100"}); err != nil {
		t.Fatal(err)
	}
	if b, r, f, _ := c.Startups(); b != 40 || r != 100 || f != 40 || c.MaxConnections != 100 {
		t.Fatalf("env: one number is FULL without random drops: %d:%d:%d", b, r, f)
	}
	for _, v := range []string{"", "16:30", "0:30:32", "20:30:10", "16:0:32", "16:101:32", "a:b:c"} {
		c := Default()
		c.Radios = []Radio{{Name: "base", Address: "sim://"}}
		c.MaxStartups = v
		if err := c.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "max-startups") {
			t.Errorf("max-startups %q: %v", v, err)
		}
	}
	for name, mutate := range map[string]func(*Config){
		"short grace":     func(c *Config) { c.NoSessionGrace = 100 * time.Millisecond },
		"max below base":  func(c *Config) { c.PerSourcePenaltyMax = time.Second },
		"negative conns":  func(c *Config) { c.MaxConnections = -1 },
		"no per source":   func(c *Config) { c.MaxStartupsPerSource = 0 },
		"negative budget": func(c *Config) { c.PerSourcePenalty = -time.Second },
	} {
		c := Default()
		c.Radios = []Radio{{Name: "base", Address: "sim://"}}
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	d := Default()
	if err := d.LoadFile(write(t, "max_startups_per_source: 0\n")); err == nil {
		t.Error("a per-source cap of 0 in a file was accepted")
	}
}

func TestDefaults(t *testing.T) {
	want := map[string]string{"listen": ":2222", "max-sessions": "10", "max-sessions-per-key": "5",
		"max-sessions-per-connection": "10", "idle-timeout": "1h", "reap-interval": "5m", "demo": "",
		"host-key": "", "allow-dial": "", "radio": "", "metrics-listen": "", "log-level": "info",
		"max-startups": "16:30:32", "max-startups-per-source": "8", "per-source-penalty": "5s",
		"per-source-penalty-max": "10m", "max-connections": "0", "max-connections-per-key": "0", "no-session-grace": "30s"}
	for _, s := range Settings() {
		if w, ok := want[s.Name]; ok && s.Default() != w {
			t.Errorf("--%s default %q, want %q", s.Name, s.Default(), w)
		}
		// What Get prints, Set takes back.
		c := Default()
		c.Radios = []Radio{{Name: "a", Address: "sim://"}}
		c.AllowDial = []string{"10.0.0.0/8", "192.168.0.0/16"}
		if v := s.Get(&c); v != "" {
			d := Config{}
			if err := s.Set(&d, v); err != nil || s.Get(&d) != v {
				t.Errorf("--%s: Get %q, Set back: %v, Get again %q", s.Name, v, err, s.Get(&d))
			}
		}
	}
}

func TestHeartbeatBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 500 * time.Millisecond, 11 * time.Minute} {
		c := Default()
		c.Heartbeat = d
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "heartbeat") {
			t.Errorf("heartbeat %s: %v", d, err)
		}
	}
	c := Default()
	c.Heartbeat = 10 * time.Minute
	c.Radios = []Radio{{Name: "base", Address: "sim://"}}
	if err := c.Validate(); err != nil {
		t.Errorf("heartbeat 10m: %v", err)
	}
}

// Node listeners come from the file, the environment and flags alike; the
// environment replaces the file's; bad values are refused with their name.
func TestNodeListenSettings(t *testing.T) {
	c := Default()
	if c.NodeRole != "viewer" || c.NodeAllow != nil {
		t.Fatalf("defaults: role %q allow %v", c.NodeRole, c.NodeAllow)
	}
	if r, err := c.NodeAllowRanges(); err != nil || len(r) != 2 || r[0].String() != "127.0.0.0/8" || r[1].String() != "::1/128" {
		t.Fatalf("default node-allow %v %v", r, err)
	}
	if err := c.LoadFile(write(t, "radios:\n  - name: base\n    address: sim://\nnode_listen:\n  - radio: base\n    listen: \":4403\"\nnode_allow: [192.168.1.0/24]\nnode_role: operator\n")); err != nil {
		t.Fatal(err)
	}
	if len(c.NodeListen) != 1 || c.NodeListen[0] != (NodeListen{Radio: "base", Listen: ":4403"}) || c.NodeRole != "operator" || len(c.NodeAllow) != 1 {
		t.Fatalf("file: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyEnv([]string{"MESHGATE_NODE_LISTEN=base=127.0.0.1:4403,base=127.0.0.1:4404", "MESHGATE_NODE_ROLE=admin", "MESHGATE_NODE_ALLOW=10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	if len(c.NodeListen) != 2 || c.NodeListen[1].Listen != "127.0.0.1:4404" || c.NodeRole != "admin" || c.NodeAllow[0] != "10.0.0.0/8" {
		t.Fatalf("env: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"unknown radio":  func(c *Config) { c.NodeListen = []NodeListen{{Radio: "nosuch", Listen: ":4403"}} },
		"twice":          func(c *Config) { c.NodeListen = []NodeListen{{"base", ":4403"}, {"base", ":4403"}} },
		"the SSH listen": func(c *Config) { c.NodeListen = []NodeListen{{"base", c.Listen}} },
		"bad role":       func(c *Config) { c.NodeRole = "root" },
		"bad allow":      func(c *Config) { c.NodeAllow = []string{"lan"} },
	} {
		d := c
		mutate(&d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"base", "base=4403", "=:4403"} {
		for _, s := range Settings() {
			if s.Name == "node-listen" {
				if err := s.Set(&Config{}, bad); err == nil {
					t.Errorf("--node-listen %s accepted", bad)
				}
			}
		}
	}
}
