package server

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/command"
	"github.com/meshgate/meshgate/sessions"
)

func TestAuthentication(t *testing.T) {
	known := newUser(t, "alice", "")
	unknown := newUser(t, "mallory", "")
	unknown.listed = false
	expired := newUser(t, "old", `expiry-time="20000101"`)
	elsewhere := newUser(t, "remote", `from="10.0.0.0/8"`)
	g := startGateway(t, gwOptions{users: []*user{known, unknown, expired, elsewhere}})

	r := g.run(t, known, "whoami --json")
	var who map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &who); err != nil || r.code != 0 {
		t.Fatalf("whoami: %v %+v", err, r)
	}
	if who["name"] != "alice" || who["role"] != "operator" || who["fingerprint"] != gossh.FingerprintSHA256(known.signer.PublicKey()) {
		t.Fatalf("identity: %v", who)
	}
	for _, u := range []*user{unknown, expired, elsewhere} {
		if c, err := g.dial(t, u); err == nil {
			c.Close()
			t.Errorf("%s got in", u.name)
		}
	}
	logs := g.logs.String()
	for _, want := range []string{"auth fail", "unknown key", "expired", gossh.FingerprintSHA256(unknown.signer.PublicKey())} {
		if !strings.Contains(strings.ToLower(logs), strings.ToLower(want)) {
			t.Errorf("access log lacks %q", want)
		}
	}
}

// A client may offer a key it cannot sign for (an admin's public key) and
// then log in with its own: the session must get its own identity.
func TestIdentityIsTheSigningKey(t *testing.T) {
	admin := newUser(t, "admin", `role="admin"`)
	viewer := newUser(t, "viewer", `role="viewer"`)
	g := startGateway(t, gwOptions{users: []*user{admin, viewer}})
	c, err := gossh.Dial("tcp", g.addr, &gossh.ClientConfig{
		User: "mesh",
		Auth: []gossh.AuthMethod{gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
			return []gossh.Signer{&forger{pub: admin.signer.PublicKey(), real: viewer.signer}, viewer.signer}, nil
		})},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		// x/crypto ends the connection on a bad signature: no way in at all.
		if !strings.Contains(err.Error(), "handshake failed") {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	defer c.Close()
	s, _ := c.NewSession()
	out, _ := s.Output("whoami --json")
	if !strings.Contains(string(out), `"role": "viewer"`) {
		t.Fatalf("identity taken from the offered key: %s", out)
	}
}

// forger offers someone else's public key (which the server accepts in
// the query phase) but can only sign with its own key, so that attempt
// fails and the client goes on with its own key.
type forger struct {
	pub  gossh.PublicKey
	real gossh.Signer
}

func (f *forger) PublicKey() gossh.PublicKey { return f.pub }
func (f *forger) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return f.real.Sign(r, data)
}

func TestRolesAndBadCommands(t *testing.T) {
	viewer := newUser(t, "vera", `role="viewer"`)
	op := newUser(t, "otto", `role="operator",radios="base"`)
	admin := newUser(t, "ada", `role="admin"`)
	g := startGateway(t, gwOptions{users: []*user{viewer, op, admin}, radios: []string{"base", "field"}})

	cases := []struct {
		u      *user
		cmd    string
		code   int
		stderr string
	}{
		{viewer, "send -r base hello", exitDenied, "needs the operator role"},
		{viewer, "traceroute -r base !00000001", exitDenied, "permission denied"},
		{op, "reboot -r base --yes", exitDenied, "needs the admin role"},
		{op, "sessions", exitDenied, "permission denied"},
		{op, "nodes -r field", exitDenied, "may not use radio"},
		{admin, "reboot -r base", command.ExitUsage, "add --yes"},
		{admin, "frobnicate", command.ExitUsage, `unknown command "frobnicate"`},
		{admin, "nodes -r base --filter sideways", command.ExitUsage, `filter "sideways": want all, rf, mqtt or nearby`},
		{admin, "nodes -r nowhere", command.ExitUsage, `no radio named "nowhere"`},
		{admin, "nodes --bogus", command.ExitUsage, "unknown flag: --bogus (see: help nodes)"},
		{admin, "send -r base --to nobody hi", command.ExitUsage, `no node matches "nobody"`},
		{admin, "send -r base --to !961f0e9 hi", command.ExitUsage, "node ids are ! and 8 hex digits (this has 7)"},
		{admin, "send -r base --channel 3 hi", command.ExitUsage, "channel 3 is not enabled on this radio"},
		{admin, "nodes -r 10.1.2.3:4403", exitDenied, "not inside the allowed dial ranges"},
	}
	for _, c := range cases {
		r := g.run(t, c.u, c.cmd)
		if r.code != c.code || !strings.Contains(r.stderr, c.stderr) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: %q: got exit %d stderr %q, want exit %d and %q on one line", c.u.name, c.cmd, r.code, r.stderr, c.code, c.stderr)
		}
	}
	// The radio list only shows what the key may use.
	if r := g.run(t, op, "radios"); strings.Contains(r.stdout, "field") || !strings.Contains(r.stdout, "base") {
		t.Errorf("operator's radios: %q", r.stdout)
	}
	// An operator with one radio does not need -r.
	if r := g.run(t, op, "nodes --json"); r.code != 0 {
		t.Errorf("nodes without -r: %+v", r)
	}
}

func TestExecCommands(t *testing.T) {
	op := newUser(t, "otto", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{op}, traffic: 200 * time.Millisecond})
	r := g.run(t, op, "nodes -r base --json")
	var list struct {
		Radio string           `json:"radio"`
		Nodes []map[string]any `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 || list.Radio != "base" {
		t.Fatalf("nodes: %v %+v", err, r)
	}
	nodes := list.Nodes
	if len(nodes) != len(g.sims["base"].Nodes()) {
		t.Fatalf("nodes: %d, radio has %d", len(nodes), len(g.sims["base"].Nodes()))
	}
	for _, k := range []string{"id", "num", "long_name", "short_name", "hw_model", "last_heard", "snr", "hops_away", "via_mqtt", "battery_level", "latitude", "longitude"} {
		if _, ok := nodes[1][k]; !ok {
			t.Errorf("node JSON lacks %q", k)
		}
	}
	// Send a DM the simulated radio acks.
	var dest string
	for _, n := range g.sims["base"].Nodes() {
		if !n.GetViaMqtt() && n.HopsAway != nil && n.GetNum() != g.sims["base"].MyNodeNum() {
			dest = n.GetUser().GetId()
			break
		}
	}
	acked := false
	for range 4 { // the virtual mesh loses some packets, as a real one does
		r = g.run(t, op, "send -r base --to "+dest+" hello from the test")
		if r.code == 0 && strings.Contains(r.stdout, "acked by "+dest) {
			acked = true
			break
		}
	}
	if !acked {
		t.Fatalf("send: %+v", r)
	}
	if r = g.run(t, op, "messages -r base --json"); !strings.Contains(r.stdout, "hello from the test") || !strings.Contains(r.stdout, `"delivery": "acked"`) {
		t.Fatalf("messages: %+v", r)
	}
	r = g.run(t, op, "traceroute -r base --json "+dest)
	if !strings.Contains(r.stdout, `"target": "`+dest+`"`) {
		t.Fatalf("traceroute: %+v", r)
	}
	for _, cmd := range []string{"packets -r base --json", "mqtt -r base --json", "config -r base --json", "radios --json", "help", "help send"} {
		if r := g.run(t, op, cmd); r.code != 0 || r.stdout == "" {
			t.Errorf("%s: %+v", cmd, r)
		}
	}
	if r := g.run(t, op, "config -r base"); !strings.Contains(r.stdout, "security.private_key = (set)\n") {
		t.Errorf("config shows the private key or lacks the security section:\n%s", r.stdout)
	}
}

func TestSessionCap(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, sessions: sessions.Config{MaxSessions: 2}})
	a := g.start(t, u, "packets -r base --follow --limit 0")
	b := g.start(t, u, "packets -r base --follow --limit 0")
	eventually(t, 5*time.Second, "two sessions", func() bool { return g.mgr.Count() == 2 })
	r := g.run(t, u, "whoami")
	if r.code != exitFull || strings.TrimSpace(r.stderr) != "meshgate: gateway full (2/2 sessions)" {
		t.Fatalf("third session: %+v", r)
	}
	a.close()
	eventually(t, 5*time.Second, "a slot to free", func() bool { return g.mgr.Count() == 1 })
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("after a session left: %+v", r)
	}
	b.close()
}

// The idle timeout counts user input only: a session whose output keeps
// flowing is still reaped, and told why.
func TestIdleSessionReapedWhileOutputFlows(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond,
		sessions: sessions.Config{IdleTimeout: time.Second, ReapInterval: 100 * time.Millisecond}})
	s := g.start(t, u, "packets -r base --follow --limit 0")
	lines := s.readLines(t, 5, 10*time.Second) // output is flowing
	if len(lines) != 5 {
		t.Fatal("no output")
	}
	go func() {
		for range s.lines {
		}
	}()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("idle session was not reaped")
	}
	if !strings.Contains(s.stderr.String(), "session closed: idle") {
		t.Fatalf("reaped session was not told why: %q", s.stderr.String())
	}
	eventually(t, 5*time.Second, "record removed", func() bool { return g.mgr.Count() == 0 })
}

// Two sessions on one radio share one upstream connection, and a session
// that stops reading does not slow another one down.
func TestSharedRadioAndStalledClient(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	// Fast traffic and long JSON lines fill the stalled client's SSH
	// window (2 MiB) within seconds; from then on its writes block.
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: time.Millisecond})
	stalled := g.start(t, u, "packets -r base --follow --limit 0 --json") // never read
	healthy := g.start(t, u, "packets -r base --follow --limit 0 --json")
	healthy.readLines(t, 100, 15*time.Second)
	b, _ := g.reg.Get("base")
	start := time.Now()
	n := 0
	for b.Status().Drops == 0 && time.Since(start) < 60*time.Second {
		healthy.readLines(t, 200, 15*time.Second)
		n += 200
	}
	if rate := float64(n) / time.Since(start).Seconds(); rate < 100 {
		t.Fatalf("healthy session slowed to %.0f packets/s next to a stalled one", rate)
	}
	// Once the stalled session is dropping, the healthy one still gets
	// packets at the radio's pace.
	start = time.Now()
	healthy.readLines(t, 500, 15*time.Second)
	t.Logf("healthy session: %.0f packets/s while the other is stalled", 500/time.Since(start).Seconds())
	if n := g.sims["base"].Stats().Accepted; n != 1 {
		t.Fatalf("radio saw %d TCP connections, want 1 shared", n)
	}
	if b.Status().Drops == 0 {
		t.Fatalf("the stalled session's queue never overflowed; status %+v", b.Status())
	}
	stalled.close()
	healthy.close()
}

// A radio that reboots under its sessions is reconnected, and the stream
// goes on.
func TestRadioRestartSurvived(t *testing.T) {
	admin := newUser(t, "ada", `role="admin"`)
	g := startGateway(t, gwOptions{users: []*user{admin}, traffic: 30 * time.Millisecond})
	s := g.start(t, admin, "packets -r base --follow --limit 0")
	s.readLines(t, 5, 10*time.Second)
	if r := g.run(t, admin, "reboot -r base --yes --delay 0s"); r.code != 0 {
		t.Fatalf("reboot: %+v", r)
	}
	eventually(t, 10*time.Second, "the radio to reboot", func() bool { return g.sims["base"].Stats().Reboots == 1 })
	eventually(t, 10*time.Second, "a reconnect", func() bool {
		b, _ := g.reg.Get("base")
		st := b.Status()
		return st.Reconnects >= 1 && st.State.String() == "connected"
	})
	s.readLines(t, 5, 10*time.Second)
	if !strings.Contains(s.stderr.String(), "about to reboot") {
		t.Errorf("the other session was not told about the reboot: %q", s.stderr.String())
	}
	if !strings.Contains(g.logs.String(), "action=reboot") {
		t.Errorf("reboot missing from the access log")
	}
}

func TestShutdownWithOpenSessions(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 100 * time.Millisecond,
		server: Config{ShutdownGrace: 500 * time.Millisecond}})
	streams := []*stream{
		g.start(t, u, "packets -r base --follow --limit 0"),
		g.start(t, u, "packets -r base --follow --limit 0"),
	}
	eventually(t, 5*time.Second, "sessions", func() bool { return g.mgr.Count() == 2 })
	start := time.Now()
	g.stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	for _, s := range streams {
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Fatal("session still open after shutdown")
		}
		if !strings.Contains(s.stderr.String(), "shutting down") {
			t.Errorf("session not told: %q", s.stderr.String())
		}
	}
}

func TestGoroutinesAfterManyConnections(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond})
	for i := range 40 {
		cmd := "whoami"
		if i%4 == 0 {
			cmd = "nodes -r base"
		}
		if r := g.run(t, u, cmd); r.code != 0 {
			t.Fatalf("%s: %+v", cmd, r)
		}
	}
	g.stop(t)
}

func TestHostKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "host")
	a, err := LoadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode: %v %v", st.Mode(), err)
	}
	b, err := LoadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.PublicKey().Marshal()) != string(b.PublicKey().Marshal()) {
		t.Fatal("host key changed across restarts")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHostKey(path); err == nil {
		t.Fatal("a world-readable host key was accepted")
	}
}

// Connections that never authenticate are capped per source address.
func TestUnauthenticatedConnectionLimit(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, server: Config{MaxUnauthPerSource: 2}})
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		buf := make([]byte, 64)
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil { // the server's version line
			t.Fatalf("held connection got no banner: %v", err)
		}
	}
	if _, err := g.dial(t, u); err == nil {
		t.Fatal("third unauthenticated connection from one address was served")
	}
	for _, c := range idle {
		c.Close()
	}
	eventually(t, 5*time.Second, "slots to free", func() bool { return g.srv.lim.pending() == 0 })
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("after the idle connections closed: %+v", r)
	}
}
