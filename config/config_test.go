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
