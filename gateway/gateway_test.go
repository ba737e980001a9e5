package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/config"
	"github.com/meshgate/meshgate/meshtastic"
)

// testConfig is a gateway with one built-in simulated radio and one
// admin key, on loopback.
func testConfig(t *testing.T) (*config.Config, gossh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	line := `role="admin" ` + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " ada\n"
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Radios = []config.Radio{{Name: "base", Address: "sim://?seed=3&nodes=5"}}
	cfg.LinkGrace = 100 * time.Millisecond
	cfg.ShutdownGrace = time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg, signer
}

func run(t *testing.T, addr string, signer gossh.Signer, cmd string) (string, error) {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "mesh", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out bytes.Buffer
	s.Stdout = &out
	err = s.Run(cmd)
	return out.String(), err
}

// The gateway built by New serves exec commands through the core against
// its radios, and Serve returns, with every goroutine gone, when its
// context ends.
func TestServeAndStop(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg, signer := testConfig(t)
	g, err := New(cfg, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	out, err := run(t, g.Addr().String(), signer, "nodes -r base --json")
	if err != nil {
		t.Fatalf("nodes: %v\n%s", err, out)
	}
	var list struct {
		Radio string            `json:"radio"`
		Nodes []json.RawMessage `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Radio != "base" || len(list.Nodes) == 0 {
		t.Fatalf("nodes: %v %q", err, out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
	g.Close() // again: harmless
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}

// A busy address is reported first and alone, with the flag that moves it.
func TestBusyAddress(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cfg, _ := testConfig(t)
	cfg.Listen = held.Addr().String()
	_, err = New(cfg, Options{})
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("New on a busy port: %v", err)
	}
	want := "listen on " + held.Addr().String() + ": address already in use (another meshgate running? choose another address with --listen)"
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "meshgate.db")); !os.IsNotExist(err) {
		t.Fatalf("the database was opened before the listener: %v", err)
	}
}

// --node-listen serves the radio's API to apps on a plain TCP port with
// the configured role; a busy node address names its flag.
func TestNodeListen(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg, _ := testConfig(t)
	cfg.NodeListen = []config.NodeListen{{Radio: "base", Listen: "127.0.0.1:0"}}
	g, err := New(cfg, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := meshtastic.Dial(cctx, g.NodeAddrs()[0].String(), meshtastic.Options{WakeDelay: -1})
	ccancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Snapshot().Nodes) < 5 {
		t.Errorf("%d nodes in the handshake", len(c.Snapshot().Nodes))
	}
	sess, err := g.Backend().Sessions(backend.Caller{Identity: auth.Identity{Name: "t", Role: auth.Admin}})
	if err != nil || len(sess) != 1 || sess[0].Kind != "node" || sess[0].User != "node@127.0.0.1" || sess[0].Role != "viewer" {
		t.Errorf("sessions %+v %v", sess, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}

	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cfg, _ = testConfig(t)
	cfg.NodeListen = []config.NodeListen{{Radio: "base", Listen: held.Addr().String()}}
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "node-listen base: listen on "+held.Addr().String()+
		": address already in use (another meshgate running? choose another address with --node-listen)") {
		t.Fatalf("busy node address: %v", err)
	}
}
