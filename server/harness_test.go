package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// user is a test key and the authorized_keys options it is listed with.
type user struct {
	name    string
	options string // e.g. `role="viewer"`; empty for defaults
	signer  gossh.Signer
	listed  bool
}

func newUser(t testing.TB, name, options string) *user {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &user{name: name, options: options, signer: s, listed: true}
}

// gateway is a running meshgate on 127.0.0.1:0 with simulated radios.
type gateway struct {
	addr    string
	sims    map[string]*sim.Radio
	mgr     *sessions.Manager
	reg     *radio.Registry
	srv     *Server
	cancel  context.CancelFunc
	done    chan error
	logs    *syncBuffer
	stopped bool
	db      *store.Store
	keys    *auth.Keys
	akPath  string // the authorized_keys file keys reads
}

type gwOptions struct {
	users     []*user
	sessions  sessions.Config
	server    Config
	traffic   time.Duration
	radios    []string // names; each gets its own simulated radio
	linkGrace time.Duration
	dataDir   string // reuse a data directory (database) across gateways
}

func startGateway(t testing.TB, o gwOptions) *gateway {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for _, u := range o.users {
		if !u.listed {
			continue
		}
		key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(u.signer.PublicKey())))
		lines = append(lines, strings.TrimSpace(u.options+" "+key+" "+u.name))
	}
	akPath := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(akPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	keys, err := auth.Load(akPath, logger)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := LoadHostKey(filepath.Join(dir, "host_key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{sims: map[string]*sim.Radio{}, cancel: cancel, done: make(chan error, 1), logs: logs,
		keys: keys, akPath: akPath}
	if len(o.radios) == 0 {
		o.radios = []string{"base"}
	}
	if o.linkGrace == 0 {
		o.linkGrace = 200 * time.Millisecond
	}
	if o.dataDir == "" {
		o.dataDir = dir
	}
	db, err := store.Open(filepath.Join(o.dataDir, "meshgate.db"), store.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	g.db = db
	rctx, stopRadios := context.WithCancel(context.Background())
	auto := radio.NewAutomation(db, logger)
	g.reg = radio.NewRegistry(rctx, radio.Config{Grace: o.linkGrace, BackoffMin: 100 * time.Millisecond,
		BackoffMax: 500 * time.Millisecond, TracePace: 200 * time.Millisecond, TextPace: 50 * time.Millisecond, Logger: logger,
		Store: db, Automation: auto}, nil)
	var simWG sync.WaitGroup
	for i, name := range o.radios {
		r, err := sim.New(sim.Config{Seed: int64(i + 1), Nodes: 15, TrafficInterval: o.traffic, AckDelay: 20 * time.Millisecond,
			TracerouteDelay: 20 * time.Millisecond, RebootDowntime: 200 * time.Millisecond,
			Limits: sim.RateLimits{Text: -1, Traceroute: -1}})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		simWG.Add(1)
		go func() { defer simWG.Done(); _ = r.Serve(rctx, ln) }()
		g.sims[name] = r
		if _, err := g.reg.Add(name, ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
	}
	// A test that raises the gateway's cap for one key's many sessions
	// means that key's cap too.
	if o.sessions.MaxPerKey == 0 && o.sessions.MaxSessions > sessions.DefaultMaxPerKey {
		o.sessions.MaxPerKey = o.sessions.MaxSessions
	}
	g.mgr = sessions.NewManager(o.sessions)
	o.server.HostKey = hk
	o.server.Backend = backend.New(backend.Deps{Radios: g.reg, Sessions: g.mgr, Store: db, Automation: auto, Logger: logger})
	o.server.ShutdownGrace = orDuration(o.server.ShutdownGrace, time.Second)
	g.srv, err = New(o.server, keys, g.mgr, g.reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	go func() {
		err := g.srv.Serve(ctx, ln)
		stopRadios()
		g.reg.Wait()
		simWG.Wait()
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		g.done <- err
	}()
	t.Cleanup(func() {
		g.stop(t)
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return g
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// stop shuts the gateway down and waits for it.
func (g *gateway) stop(t testing.TB) {
	t.Helper()
	if g.stopped {
		return
	}
	g.stopped = true
	g.cancel()
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("gateway did not stop")
	}
}

func (g *gateway) dial(t testing.TB, u *user) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", g.addr, &gossh.ClientConfig{
		User:            "mesh",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(u.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
}

// result of one exec command.
type result struct {
	stdout, stderr string
	code           int
}

// run executes one command as u and returns its output and exit status.
func (g *gateway) run(t testing.TB, u *user, cmd string) result {
	t.Helper()
	c, err := g.dial(t, u)
	if err != nil {
		t.Fatalf("dial as %s: %v", u.name, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	err = s.Run(cmd)
	code := 0
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		t.Fatalf("run %q: %v", cmd, err)
	}
	return result{out.String(), errb.String(), code}
}

// stream starts a long-running command and returns its stdout reader.
type stream struct {
	client  *gossh.Client
	session *gossh.Session
	stdout  io.Reader
	stderr  *syncBuffer
	done    chan error
	once    sync.Once
	lines   chan string
}

func (g *gateway) start(t testing.TB, u *user, cmd string) *stream {
	t.Helper()
	c, err := g.dial(t, u)
	if err != nil {
		t.Fatalf("dial as %s: %v", u.name, err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	st := &stream{client: c, session: s, stdout: out, stderr: &syncBuffer{}, done: make(chan error, 1)}
	s.Stderr = st.stderr
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	go func() { st.done <- s.Wait() }()
	t.Cleanup(func() { st.close() })
	return st
}

func (s *stream) close() {
	_ = s.session.Close()
	_ = s.client.Close()
}

// readLines reads n lines from the stream or fails after d. One reader
// goroutine per stream feeds all calls, so no line is lost between them.
func (s *stream) readLines(t testing.TB, n int, d time.Duration) []string {
	t.Helper()
	s.once.Do(func() {
		s.lines = make(chan string, 1024)
		go func() {
			defer close(s.lines)
			sc := bufio.NewScanner(s.stdout)
			sc.Buffer(make([]byte, 64*1024), 1<<20)
			for sc.Scan() {
				s.lines <- sc.Text()
			}
		}()
	})
	var got []string
	deadline := time.After(d)
	for len(got) < n {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("stream ended after %d lines (stderr %q)", len(got), s.stderr.String())
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("only %d of %d lines within %s (stderr %q)", len(got), n, d, s.stderr.String())
		}
	}
	return got
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goroutineBaseline fails the test if goroutines do not return to the
// count before it once everything has been cleaned up.
func goroutineBaseline(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}
