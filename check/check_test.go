package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/config"
)

const goodKey = `role="admin" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOhtnpcDBCi6jXqjwDmx3SF+vwk4SJoXq1aS3b4vUfD7 ada@example`

// setup makes a data directory with an authorized_keys file.
func setup(t *testing.T, keys string, mode os.FileMode) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(keys), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "authorized_keys"), mode); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.DataDir = dir
	c.Radios = []config.Radio{{Name: "base", Address: "192.168.1.40"}}
	return &c
}

func TestExampleConfig(t *testing.T) {
	c := config.Default()
	if err := c.LoadFile("../meshgate.example.yaml"); err != nil {
		t.Fatalf("example config: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example config: %v", err)
	}
	// Point its paths at a scratch directory and check it end to end.
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o700)
	c.DataDir = dir
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(goodKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := Run(&c)
	if rep.Fatal() || rep.Keys != 1 || rep.Radios != 2 {
		t.Fatalf("example: %+v", rep)
	}
}

func TestBrokenSetups(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, c *config.Config)
		fatal  bool
		want   string
	}{
		{"authorized_keys writable by others", func(t *testing.T, c *config.Config) {
			_ = os.Chmod(c.AuthorizedKeysPath(), 0o666)
		}, true, "writable by group or others"},
		{"authorized_keys missing", func(t *testing.T, c *config.Config) {
			_ = os.Remove(c.AuthorizedKeysPath())
		}, true, "authorized_keys file is missing"},
		{"no usable keys", func(t *testing.T, c *config.Config) {
			_ = os.WriteFile(c.AuthorizedKeysPath(), []byte("# nobody yet\n"), 0o600)
		}, true, "no usable keys"},
		{"bad key line named by line", func(t *testing.T, c *config.Config) {
			_ = os.WriteFile(c.AuthorizedKeysPath(), []byte(goodKey+"\nssh-ed25519 notbase64 x\n"), 0o600)
		}, false, "authorized_keys:2: warning"},
		{"data dir writable by everyone", func(t *testing.T, c *config.Config) {
			_ = os.Chmod(c.DataDir, 0o777)
		}, true, "writable by everyone"},
		{"host key too open", func(t *testing.T, c *config.Config) {
			_ = os.WriteFile(c.HostKeyPath(), []byte("x"), 0o644)
		}, true, "too open"},
		{"database readable by others", func(t *testing.T, c *config.Config) {
			_ = os.WriteFile(filepath.Join(c.DataDir, "meshgate.db"), nil, 0o644)
		}, false, "database permissions 0644 let others read"},
		{"host key garbage", func(t *testing.T, c *config.Config) {
			_ = os.WriteFile(c.HostKeyPath(), []byte("not a key"), 0o600)
		}, true, "does not parse"},
		{"bad radio address", func(t *testing.T, c *config.Config) {
			c.Radios = append(c.Radios, config.Radio{Name: "x", Address: "ftp://radio"})
		}, true, "radio x"},
		{"missing serial device", func(t *testing.T, c *config.Config) {
			c.Radios = append(c.Radios, config.Radio{Name: "usb", Address: "serial:///dev/ttyNOPE0"})
		}, false, "serial device /dev/ttyNOPE0"},
		{"serial device by number", func(t *testing.T, c *config.Config) {
			c.Radios = append(c.Radios, config.Radio{Name: "usb", Address: "serial:///dev/ttyNOPE0"})
		}, false, "radio usb: warning: /dev/ttyNOPE0 is numbered in plug order"},
		{"serial radio and Bluetooth", func(t *testing.T, c *config.Config) {
			c.Radios = append(c.Radios, config.Radio{Name: "usb", Address: "serial:///dev/serial/by-id/usb-RAK4631-if00"})
		}, false, "turn Bluetooth off on a radio meshgate owns (meshtastic --port /dev/serial/by-id/usb-RAK4631-if00 --set bluetooth.enabled false)"},
		{"half the modem lines", func(t *testing.T, c *config.Config) {
			c.Radios = append(c.Radios, config.Radio{Name: "usb", Address: "serial:///dev/ttyUSB0?dtr=0"})
		}, true, "holds an ESP32 board in reset"},
		{"demo on a public address", func(t *testing.T, c *config.Config) {
			c.Demo, c.Listen = true, "0.0.0.0:2222"
		}, true, "only listens on loopback"},
		{"bad listen", func(t *testing.T, c *config.Config) {
			c.Listen = "2222"
		}, true, "not host:port"},
		{"bad trusted proxy", func(t *testing.T, c *config.Config) {
			c.TrustedProxies = []string{"10.0.0.1"}
		}, true, "not a CIDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, goodKey+"\n", 0o600)
			tc.mutate(t, c)
			rep := Run(c)
			var all []string
			for _, f := range rep.Findings {
				all = append(all, f.String())
			}
			text := strings.Join(all, "\n")
			if rep.Fatal() != tc.fatal || !strings.Contains(text, tc.want) {
				t.Fatalf("fatal=%v findings:\n%s\nwant fatal=%v and %q", rep.Fatal(), text, tc.fatal, tc.want)
			}
			if tc.fatal && rep.Err() == nil {
				t.Fatal("Err() is nil for a fatal report")
			}
		})
	}
	if rep := Run(setup(t, goodKey+"\n", 0o600)); len(rep.Findings) != 0 {
		t.Fatalf("a clean setup has findings: %+v", rep.Findings)
	}
	// A by-id path draws no plug-order warning, only the Bluetooth one.
	c := setup(t, goodKey+"\n", 0o600)
	c.Radios = []config.Radio{{Name: "usb", Address: "serial:///dev/serial/by-id/usb-Espressif_USB_JTAG-if00"}}
	for _, f := range Run(c).Findings {
		if strings.Contains(f.Msg, "plug order") {
			t.Fatalf("by-id path: %s", f)
		}
	}
}

// A node listener reachable from other machines is warned about; the
// admin role there needs node-allow chosen explicitly; loopback is quiet.
func TestNodeListen(t *testing.T) {
	find := func(r *Report) (warn, fatal string) {
		for _, f := range r.Findings {
			if !strings.HasPrefix(f.Where, "node-listen") {
				continue
			}
			if f.Severity == Fatal {
				fatal += f.Msg
			} else {
				warn += f.Msg
			}
		}
		return
	}
	for _, tc := range []struct {
		name        string
		listen      string
		allow       []string
		role        string
		warn, fatal string
	}{
		{"loopback", "127.0.0.1:4403", nil, "admin", "", ""},
		{"localhost", "localhost:4403", []string{"0.0.0.0/0"}, "viewer", "", ""},
		{"all interfaces, default allow", ":4403", nil, "viewer", "admits only this host", ""},
		{"LAN", ":4403", []string{"192.168.1.0/24"}, "operator", "anyone connecting from 192.168.1.0/24 gets the operator role", ""},
		{"admin, default allow", "0.0.0.0:4403", nil, "admin", "", "set --node-allow explicitly"},
		{"admin, explicit allow", ":4403", []string{"192.168.1.7/32"}, "admin", "gets the admin role", ""},
		{"admin, explicit loopback", ":4403", []string{"127.0.0.1/32"}, "admin", "admits only this host", ""},
	} {
		c := setup(t, goodKey+"\n", 0o600)
		c.NodeListen = []config.NodeListen{{Radio: "base", Listen: tc.listen}}
		c.NodeAllow, c.NodeRole = tc.allow, tc.role
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		warn, fatal := find(Run(c))
		if (tc.warn == "") != (warn == "") || !strings.Contains(warn, tc.warn) {
			t.Errorf("%s: warning %q, want %q", tc.name, warn, tc.warn)
		}
		if (tc.fatal == "") != (fatal == "") || !strings.Contains(fatal, tc.fatal) {
			t.Errorf("%s: error %q, want %q", tc.name, fatal, tc.fatal)
		}
	}
}
