package server

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/command"
	"github.com/meshgate/meshgate/sessions"
)

// exitCode turns a session's Wait error into its exit status.
func exitCode(t testing.TB, err error) int {
	t.Helper()
	var ee *gossh.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitStatus()
	}
	t.Fatalf("session ended without an exit status: %v", err)
	return -1
}

// waitExit waits for a streamed command to end and returns its status.
func (s *stream) waitExit(t testing.TB) int {
	t.Helper()
	select {
	case err := <-s.done:
		return exitCode(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("session did not end (stderr %q)", s.stderr.String())
	}
	return -1
}

// runOn runs cmd on a new session of an existing connection.
func runOn(t testing.TB, c *gossh.Client, cmd string) result {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	code := exitCode(t, s.Run(cmd))
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// One connection gets at most MaxSessionsPerConn sessions at once; the
// ones beyond are told so and exit 4 without a session record, and other
// connections are unaffected.
func TestSessionsPerConnection(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	// Traffic, so that a command whose channel the client closed notices
	// on its next write.
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond,
		sessions: sessions.Config{MaxSessions: 30, MaxPerKey: 30}})
	c, err := g.dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var held []*gossh.Session
	for range 10 {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start("packets -r base --follow --limit 0"); err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	eventually(t, 10*time.Second, "ten sessions on one connection", func() bool { return g.mgr.Count() == 10 })
	for range 2 { // the 11th and the 12th
		r := runOn(t, c, "whoami")
		if r.code != exitFull || r.stderr != "meshgate: too many sessions on this connection (10 of 10); open another connection\n" {
			t.Fatalf("session beyond the cap: %+v", r)
		}
	}
	if n := g.mgr.Count(); n != 10 {
		t.Fatalf("refused sessions left records: %d open", n)
	}
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("another connection: %+v", r)
	}
	if st := g.srv.Stats(); st.RefusedPerConn != 2 || st.SessionsRefused != 0 {
		t.Fatalf("stats: %+v", st)
	}
	// A slot comes back when its session ends.
	_ = held[0].Close()
	eventually(t, 5*time.Second, "a slot to free", func() bool { return g.mgr.Count() == 9 })
	if r := runOn(t, c, "whoami"); r.code != 0 {
		t.Fatalf("after a session ended: %+v", r)
	}
	for _, s := range held[1:] {
		_ = s.Close()
	}
	c.Close()
	eventually(t, 5*time.Second, "the connection's slots to go", func() bool { return g.srv.perConn.conns() == 0 })
	g.stop(t)
}

// One key gets at most MaxPerKey sessions (default 5), over however many
// connections; another key still gets in.
func TestSessionsPerKey(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	other := newUser(t, "other", "")
	g := startGateway(t, gwOptions{users: []*user{u, other}})
	var streams []*stream
	for range sessions.DefaultMaxPerKey {
		streams = append(streams, g.start(t, u, "packets -r base --follow --limit 0"))
	}
	eventually(t, 10*time.Second, "five sessions", func() bool { return g.mgr.Count() == 5 })
	r := g.run(t, u, "whoami")
	if r.code != exitFull || r.stderr != "meshgate: too many sessions for your key (5 of 5 open); close one or ask an admin\n" {
		t.Fatalf("sixth session of one key: %+v", r)
	}
	if r := g.run(t, other, "whoami"); r.code != 0 || !strings.Contains(r.stdout, "other") {
		t.Fatalf("another key: %+v", r)
	}
	if st := g.srv.Stats(); st.RefusedPerKey != 1 || st.SessionsRefused != 0 {
		t.Fatalf("stats: %+v", st)
	}
	streams[0].close()
	eventually(t, 5*time.Second, "a slot to free", func() bool { return g.mgr.Count() == 4 })
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("after one of the key's sessions ended: %+v", r)
	}
	for _, s := range streams {
		s.close()
	}
	g.stop(t)
}

// A session ended from outside — kicked, reaped or cut by shutdown —
// exits 6 and is told why; one its user ends exits with its own status.
func TestSessionEndedExitStatus(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond})
	s := g.start(t, u, "packets -r base --follow --limit 0")
	s.readLines(t, 1, 10*time.Second)
	var id string
	eventually(t, 5*time.Second, "the session record", func() bool {
		for _, in := range g.mgr.List() {
			id = in.ID
		}
		return id != ""
	})
	if err := g.mgr.Kick(id, "maintenance window"); err != nil {
		t.Fatal(err)
	}
	if code := s.waitExit(t); code != exitEnded {
		t.Fatalf("kicked session exited %d (stderr %q)", code, s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), "meshgate: session closed: maintenance window") {
		t.Fatalf("kicked session was not told why: %q", s.stderr.String())
	}

	// Shutdown: every open session exits 6 and is told.
	a := g.start(t, u, "packets -r base --follow --limit 0")
	b := g.start(t, u, "packets -r base --follow --limit 0")
	a.readLines(t, 1, 10*time.Second)
	b.readLines(t, 1, 10*time.Second)
	eventually(t, 5*time.Second, "two sessions", func() bool { return g.mgr.Count() == 2 })
	g.stop(t)
	for _, st := range []*stream{a, b} {
		if code := st.waitExit(t); code != exitEnded {
			t.Errorf("session at shutdown exited %d (stderr %q)", code, st.stderr.String())
		}
		if !strings.Contains(st.stderr.String(), "meshgate: session closed: the gateway is shutting down") {
			t.Errorf("session not told about the shutdown: %q", st.stderr.String())
		}
	}
}

// An idle session reaped by the gateway exits 6 too: its user did not end
// it. A command that finishes on its own keeps its status.
func TestReapedSessionExitStatus(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond,
		sessions: sessions.Config{IdleTimeout: time.Second, ReapInterval: 100 * time.Millisecond}})
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("whoami: %+v", r)
	}
	if r := g.run(t, u, "nodes -r nowhere"); r.code != command.ExitUsage {
		t.Fatalf("a usage error: %+v", r)
	}
	s := g.start(t, u, "packets -r base --follow --limit 0")
	go func() { _, _ = io.Copy(io.Discard, s.stdout) }()
	if code := s.waitExit(t); code != exitEnded {
		t.Fatalf("reaped session exited %d (stderr %q)", code, s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), "meshgate: session closed: idle for") {
		t.Fatalf("reaped session was not told why: %q", s.stderr.String())
	}
}

// A kicked UI exits 6 as well, and says why once the screen is restored.
func TestKickedTUIExitStatus(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}})
	tt := g.openTUI(t, u, "tui -r base", 100, 30)
	tt.waitText("base ● connected")
	if err := g.mgr.Kick(g.session(t, "u").ID(), "radio maintenance"); err != nil {
		t.Fatal(err)
	}
	if code := tt.exit(); code != exitEnded {
		t.Fatalf("kicked UI exited %d; screen:\n%s", code, tt.text())
	}
	if s := tt.text(); !strings.Contains(s, "session closed: radio maintenance") {
		t.Fatalf("the user was not told why; screen:\n%s", s)
	}
	g.stop(t)
}

// A command line longer than 4 KiB is refused before it is split, logged
// or given a session, and fast.
func TestLongCommandRefused(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}})
	long := "send -r base " + strings.Repeat("x", 120<<10)
	r := g.run(t, u, long)
	if r.code != command.ExitUsage || !strings.Contains(r.stderr, "at most 4096") {
		t.Fatalf("long command: %+v", r)
	}
	if strings.Contains(g.logs.String(), strings.Repeat("x", 5000)) {
		t.Fatal("the long command line reached the log")
	}
	if g.mgr.Count() != 0 {
		t.Fatal("the long command got a session")
	}
}
