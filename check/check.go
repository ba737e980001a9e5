// Package check validates a gateway's configuration before it serves, the
// way `sshd -t` does: the config, the authorized_keys file (every problem
// with file and line), the radio addresses, the data directory and the
// host key. `meshgate check` prints the findings; `meshgate serve` runs
// the same checks and refuses to start on a fatal one.
package check

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/config"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// Severity of a finding.
type Severity int

// Severities.
const (
	Warning Severity = iota + 1 // worth fixing; the gateway still starts
	Fatal                       // the gateway refuses to start
)

func (s Severity) String() string {
	if s == Fatal {
		return "error"
	}
	return "warning"
}

// Finding is one problem.
type Finding struct {
	Severity Severity
	Where    string // file, file:line, or a setting name
	Msg      string
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Where, f.Severity, f.Msg) }

// Report is the result of a check.
type Report struct {
	Findings []Finding
	Keys     int // usable authorized keys
	Radios   int
}

// Fatal reports whether any finding stops the gateway.
func (r *Report) Fatal() bool {
	for _, f := range r.Findings {
		if f.Severity == Fatal {
			return true
		}
	}
	return false
}

// ErrFatal is returned by Err when a finding is fatal.
var ErrFatal = errors.New("configuration check failed")

// Err summarises fatal findings as an error, or nil.
func (r *Report) Err() error {
	var msgs []string
	for _, f := range r.Findings {
		if f.Severity == Fatal {
			msgs = append(msgs, f.String())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", ErrFatal, strings.Join(msgs, "\n  "))
}

func (r *Report) add(sev Severity, where, format string, a ...any) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Where: where, Msg: fmt.Sprintf(format, a...)})
}

// Run checks cfg (already loaded and validated by the config package).
func Run(cfg *config.Config) *Report {
	r := &Report{Radios: len(cfg.Radios)}
	checkListen(r, cfg)
	checkDataDir(r, cfg.DataDir)
	checkHostKey(r, cfg.HostKeyPath())
	checkDatabase(r, filepath.Join(cfg.DataDir, "meshgate.db"))
	if !cfg.Demo {
		checkAuthorizedKeys(r, cfg.AuthorizedKeysPath())
	}
	for _, rd := range cfg.Radios {
		checkRadio(r, rd)
	}
	if _, err := cfg.DialRanges(); err != nil {
		r.add(Fatal, "allow-dial", "%v", err)
	}
	checkNodeListen(r, cfg)
	for _, s := range cfg.TrustedProxies {
		if _, err := netip.ParsePrefix(s); err != nil {
			r.add(Fatal, "trusted-proxies", "%q is not a CIDR range", s)
		}
	}
	return r
}

func checkListen(r *Report, cfg *config.Config) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil || port == "" {
		r.add(Fatal, "listen", "%q is not host:port", cfg.Listen)
		return
	}
	if cfg.Demo {
		ip, err := netip.ParseAddr(host)
		if host != "localhost" && (err != nil || !ip.IsLoopback()) {
			r.add(Fatal, "listen", "demo mode accepts any key and only listens on loopback, not %q", cfg.Listen)
		}
	}
	if cfg.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsListen); err != nil {
			r.add(Fatal, "metrics-listen", "%q is not host:port", cfg.MetricsListen)
		}
	}
}

// checkDataDir: the directory holds the host key; others must not be able
// to write into it.
func checkDataDir(r *Report, dir string) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(dir)
		if pst, perr := os.Stat(parent); perr != nil || !pst.IsDir() {
			r.add(Fatal, dir, "data directory does not exist and its parent %s is missing", parent)
		}
		return // created (0700) at start
	case err != nil:
		r.add(Fatal, dir, "data directory: %v", err)
		return
	case !st.IsDir():
		r.add(Fatal, dir, "data directory is not a directory")
		return
	}
	if st.Mode().Perm()&0o002 != 0 {
		r.add(Fatal, dir, "data directory is writable by everyone (mode %04o)", st.Mode().Perm())
	} else if st.Mode().Perm()&0o020 != 0 {
		r.add(Warning, dir, "data directory is writable by its group (mode %04o)", st.Mode().Perm())
	}
}

// checkDatabase: the database holds every message, the audit log and who
// has which rules; the gateway creates it 0600, so a file others may read
// was opened up by hand.
func checkDatabase(r *Report, path string) {
	st, err := os.Stat(path)
	if err != nil {
		return // created on first start (or reported when it is opened)
	}
	if st.Mode().Perm()&0o077 != 0 {
		r.add(Warning, path, "database permissions %04o let others read the message history and audit log (want 0600: chmod 600 %s)",
			st.Mode().Perm(), path)
	}
}

func checkHostKey(r *Report, path string) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // created on first start
	}
	if err != nil {
		r.add(Fatal, path, "host key: %v", err)
		return
	}
	if st.Mode().Perm()&0o077 != 0 {
		r.add(Fatal, path, "host key permissions %04o are too open (want 0600)", st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		r.add(Fatal, path, "host key: %v", err)
		return
	}
	if _, err := gossh.ParsePrivateKey(b); err != nil {
		r.add(Fatal, path, "host key does not parse: %v", err)
	}
}

// checkAuthorizedKeys applies sshd's StrictModes idea: a key file others
// can write lets them add themselves, so it is fatal.
func checkAuthorizedKeys(r *Report, path string) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add(Fatal, path, "authorized_keys file is missing: nobody could log in (see authorized_keys.example)")
		return
	case err != nil:
		r.add(Fatal, path, "authorized_keys: %v", err)
		return
	default:
		st, _ := os.Stat(path)
		if st.Mode().Perm()&0o022 != 0 {
			r.add(Fatal, path, "authorized_keys is writable by group or others (mode %04o); anyone who can write it can let themselves in", st.Mode().Perm())
		}
		if dst, err := os.Stat(filepath.Dir(path)); err == nil && dst.Mode().Perm()&0o002 != 0 && dst.Mode()&os.ModeSticky == 0 {
			r.add(Fatal, filepath.Dir(path), "the directory holding authorized_keys is writable by everyone")
		}
		set, problems := auth.Parse(bytes.NewReader(b), path)
		for _, p := range problems {
			r.add(Warning, fmt.Sprintf("%s:%d", p.File, p.Line), "%s", p.Msg)
		}
		r.Keys += set.Len()
	}
	if r.Keys == 0 {
		r.add(Fatal, path, "no usable keys: nobody could log in")
	}
}

func checkRadio(r *Report, rd config.Radio) {
	where := "radio " + rd.Name
	if strings.HasPrefix(rd.Address, "sim://") {
		return
	}
	a, err := transport.Parse(rd.Address)
	if err != nil {
		r.add(Fatal, where, "%v", err)
		return
	}
	if a.Kind != transport.Serial {
		return
	}
	st, err := os.Stat(a.Device)
	switch {
	case err != nil:
		r.add(Warning, where, "serial device %s: %v (it may appear when the radio is plugged in)", a.Device, err)
	case st.Mode()&os.ModeCharDevice == 0:
		r.add(Warning, where, "%s is not a character device", a.Device)
	}
	if stableSerialDir(a.Device) == "" {
		hint := "its /dev/serial/by-id/ name"
		if id := byIDFor(a.Device); id != "" {
			hint = id
		}
		r.add(Warning, where, "%s is numbered in plug order and can change after a replug or a reset that re-enumerates USB; use %s", a.Device, hint)
	}
	// meshgate cannot see the radio's settings from here; it warns in
	// `radios` once it does.
	r.add(Warning, where, "serial radio: if its Bluetooth is on, a phone on Bluetooth and meshgate both read the radio's one queue, "+
		"each missing packets and answers (ESP32), or the phone is cut off whenever meshgate connects (nRF52); "+
		"turn Bluetooth off on a radio meshgate owns (meshtastic --port %s --set bluetooth.enabled false)", a.Device)
}

// stableSerialDir returns the udev directory of persistent serial names a
// path lives in, or "".
func stableSerialDir(dev string) string {
	for _, dir := range []string{"/dev/serial/by-id/", "/dev/serial/by-path/"} {
		if strings.HasPrefix(dev, dir) {
			return dir
		}
	}
	return ""
}

// byIDFor finds the /dev/serial/by-id link that points at dev, if any.
func byIDFor(dev string) string {
	target, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return ""
	}
	links, _ := filepath.Glob("/dev/serial/by-id/*")
	for _, l := range links {
		if t, err := filepath.EvalSymlinks(l); err == nil && t == target {
			return l
		}
	}
	return ""
}

// checkNodeListen: a node listener serves a radio's API without
// authentication, to whoever node-allow admits. One reachable from other
// machines is worth a warning; one that gives them the admin role needs
// node-allow chosen on purpose, not the default.
func checkNodeListen(r *Report, cfg *config.Config) {
	if len(cfg.NodeListen) == 0 {
		return
	}
	ranges, err := cfg.NodeAllowRanges()
	if err != nil {
		r.add(Fatal, "node-allow", "%v", err)
		return
	}
	var beyond []string // admitted sources that are not this host
	for _, p := range ranges {
		if !loopbackPrefix(p) {
			beyond = append(beyond, p.String())
		}
	}
	for _, n := range cfg.NodeListen {
		where := "node-listen " + n.Radio + "=" + n.Listen
		host, _, err := net.SplitHostPort(n.Listen)
		if err != nil {
			r.add(Fatal, where, "%q is not host:port", n.Listen)
			continue
		}
		if loopbackHost(host) {
			continue // only this host can connect
		}
		if cfg.NodeRole == "admin" && len(cfg.NodeAllow) == 0 {
			r.add(Fatal, where, "node-role admin on a listener beyond loopback gives whoever connects admin rights over radio %s "+
				"without authentication; set --node-allow explicitly to the addresses you trust with that, or use ssh -L", n.Radio)
			continue
		}
		if len(beyond) == 0 {
			r.add(Warning, where, "listens beyond loopback but node-allow admits only this host, so apps on other machines are refused; "+
				"set --node-allow to your trusted network (e.g. 192.168.1.0/24)")
			continue
		}
		r.add(Warning, where, "reachable beyond loopback: anyone connecting from %s gets the %s role on radio %s without authentication "+
			"(ssh -L gives authenticated access instead)", strings.Join(beyond, ", "), cfg.NodeRole, n.Radio)
	}
}

// loopbackHost reports whether a listen host is this machine only.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// loopbackPrefix reports whether every address in p is a loopback one.
func loopbackPrefix(p netip.Prefix) bool {
	a := p.Addr().Unmap()
	if !a.IsLoopback() {
		return false
	}
	if a.Is4() {
		return p.Bits() >= 8 || (p.Addr().Is4In6() && p.Bits() >= 104)
	}
	return p.Bits() == 128
}
