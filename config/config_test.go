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

func TestDefaults(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 5 * time.Minute: "5m", 90 * time.Second: "1m30s", 20 * time.Second: "20s",
		90 * time.Minute: "1h30m", time.Hour + time.Second: "1h0m1s", 0: "0s", 250 * time.Millisecond: "250ms",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
	want := map[string]string{"listen": ":2222", "max-sessions": "10", "max-sessions-per-key": "5",
		"max-sessions-per-connection": "10", "idle-timeout": "1h", "reap-interval": "5m", "demo": "",
		"host-key": "", "allow-dial": "", "radio": "", "metrics-listen": "", "log-level": "info"}
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
