package metrics

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/transport"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/server"
	"github.com/meshgate/meshgate/sessions"
)

func signer(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScrapeAfterRealSessions runs a gateway with a simulated radio, uses
// it over SSH, and checks that the counters moved.
func TestScrapeAfterRealSessions(t *testing.T) {
	dir := t.TempDir()
	user, stranger := signer(t), signer(t)
	ak := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ak, gossh.MarshalAuthorizedKey(user.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.Load(ak, nil)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := server.LoadHostKey(filepath.Join(dir, "host_key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rctx, stopRadios := context.WithCancel(context.Background())
	r, _ := sim.New(sim.Config{Seed: 3, Nodes: 8, TrafficInterval: 20 * time.Millisecond})
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = r.Serve(rctx, sln) }()
	reg := radio.NewRegistry(rctx, radio.Config{Grace: time.Minute}, nil)
	if _, err := reg.Add("base", sln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	mgr := sessions.NewManager(sessions.Config{})
	srv, err := server.New(server.Config{HostKey: hk, ShutdownGrace: time.Second}, keys, mgr, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
		stopRadios()
		reg.Wait()
		<-simDone
	}()

	run := func(s gossh.Signer, cmd string) error {
		c, err := gossh.Dial("tcp", ln.Addr().String(), &gossh.ClientConfig{User: "m",
			Auth: []gossh.AuthMethod{gossh.PublicKeys(s)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
		if err != nil {
			return err
		}
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			return err
		}
		sess.Stdout = io.Discard
		return sess.Run(cmd)
	}
	for _, cmd := range []string{"whoami", "nodes -r base", "packets -r base"} {
		if err := run(user, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	if err := run(stranger, "whoami"); err == nil {
		t.Fatal("stranger got in")
	}
	// An app through ssh -L base:4403 stays connected while scraped.
	c, err := gossh.Dial("tcp", ln.Addr().String(), &gossh.ClientConfig{User: "m",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(user)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fwd, err := c.Dial("tcp", "base:4403")
	if err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	app, err := meshtastic.Connect(hctx, link{fwd}, meshtastic.Options{WakeDelay: -1})
	hcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := c.Dial("tcp", "base:22"); err == nil {
		t.Fatal("a forward to base:22 was accepted")
	}
	time.Sleep(200 * time.Millisecond) // some live packets

	hs := httptest.NewServer(Handler(Sources{Server: srv, Sessions: mgr, Radios: reg}))
	defer hs.Close()
	resp, err := hs.Client().Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	value := func(series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no series %s in:\n%s", series, text)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	if v := value("meshgate_sessions_total"); v != 4 {
		t.Errorf("sessions_total = %v, want 4 (3 commands, 1 app)", v)
	}
	if v := value(`meshgate_auth_failures_total{reason="unknown_key"}`); v < 1 {
		t.Errorf("unknown-key failures = %v", v)
	}
	if v := value("meshgate_connections_total"); v < 4 {
		t.Errorf("connections_total = %v", v)
	}
	if v := value(`meshgate_radio_packets_in_total{radio="base"}`); v < 1 {
		t.Errorf("packets in = %v", v)
	}
	if v := value(`meshgate_radio_state{radio="base",state="connected"}`); v != 1 {
		t.Errorf("radio not shown connected: %v", v)
	}
	if v := value(`meshgate_radio_virtual_clients{radio="base"}`); v != 1 {
		t.Errorf("virtual clients = %v, want 1", v)
	}
	if v := value(`meshgate_radio_virtual_frames_out_total{radio="base"}`); v < 1 {
		t.Errorf("virtual frames out = %v", v)
	}
	if v := value("meshgate_forwards_refused_total"); v != 1 {
		t.Errorf("forwards refused = %v, want 1", v)
	}
	if v := value("meshgate_connections_authenticated"); v != 1 {
		t.Errorf("authenticated connections = %v, want 1", v)
	}
	for _, series := range []string{`meshgate_radio_virtual_answers_total{radio="base"}`, `meshgate_radio_virtual_refused_total{radio="base"}`,
		`meshgate_radio_virtual_packets_in_total{radio="base"}`, `meshgate_radio_virtual_drops_total{radio="base"}`,
		`meshgate_connections_limit_refused_total{reason="penalty"}`, "meshgate_connections_closed_no_session_total",
		`meshgate_node_listener_refused_total{reason="source"}`} {
		value(series)
	}
	for _, series := range []string{"meshgate_sessions_open", `meshgate_radio_fanout_drops_total{radio="base"}`,
		`meshgate_radio_traceroute_queue{radio="base"}`, `meshgate_radio_reconnects_total{radio="base"}`,
		`meshgate_radio_packets_out_total{radio="base"}`, "meshgate_sessions_refused_total", "go_goroutines"} {
		value(series)
	}
}

// link is a forwarded channel as the protocol library's transport.
type link struct{ net.Conn }

func (l link) CloseWrite() error               { return nil }
func (l link) SetReadDeadline(time.Time) error { return nil }
func (l link) Kind() transport.Kind            { return transport.TCP }
func (l link) Remote() string                  { return "ssh forward" }
