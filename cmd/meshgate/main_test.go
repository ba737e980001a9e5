package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
)

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

func startSim(t *testing.T, cfg sim.Config) (*sim.Radio, string) { return simtest.Start(t, cfg) }

// futureProxy sits between client and radio and, before every chunk the
// radio sends, adds frames from a newer firmware: a FromRadio variant our
// schema does not have, and a known variant carrying unknown fields.
func futureProxy(t *testing.T, addr string) string {
	t.Helper()
	var unknownVariant, unknownField []byte
	unknownVariant = protowire.AppendTag(nil, 42, protowire.BytesType)
	unknownVariant = protowire.AppendBytes(unknownVariant, []byte{0x08, 0x01})
	// queueStatus (11) holding an unknown field 9 next to free=3.
	inner := protowire.AppendTag(nil, 2, protowire.VarintType)
	inner = protowire.AppendVarint(inner, 3)
	inner = protowire.AppendTag(inner, 9, protowire.BytesType)
	inner = protowire.AppendBytes(inner, []byte("new"))
	unknownField = protowire.AppendTag(nil, 11, protowire.BytesType)
	unknownField = protowire.AppendBytes(unknownField, inner)
	extra, _ := frame.Append(nil, unknownVariant)
	extra, _ = frame.Append(extra, unknownField)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				down.Close()
				continue
			}
			go pipe(down, up, nil)
			go pipe(up, down, extra)
		}
	}()
	return ln.Addr().String()
}

// pipe copies src to dst. Extra frames are only inserted between whole
// frames of src, so a frame is never split.
func pipe(src, dst net.Conn, extra []byte) {
	defer dst.Close()
	fr := frame.NewReader(src, frame.WithPartialTimeout(0))
	for {
		it, err := fr.Next()
		if err != nil {
			return
		}
		if it.Kind != frame.KindFrame {
			continue
		}
		out := append([]byte(nil), extra...)
		out, _ = frame.Append(out, it.Payload)
		if _, err := dst.Write(out); err != nil {
			return
		}
	}
}

func TestInfoListsEveryNode(t *testing.T) {
	r, addr := startSim(t, sim.Config{Seed: 8, Nodes: 30})
	out, errs, code := runCmd(t, "info", "--json", futureProxy(t, addr))
	if code != 0 {
		t.Fatalf("info: exit %d: %s", code, errs)
	}
	var rep struct {
		MyNode struct {
			ID string `json:"id"`
		} `json:"my_node"`
		Device struct {
			Firmware string `json:"firmware"`
		} `json:"device"`
		LoRa *struct {
			Region string `json:"region"`
		} `json:"lora"`
		MQTT     map[string]any   `json:"mqtt"`
		Channels []map[string]any `json:"channels"`
		Nodes    []struct {
			ID        string  `json:"id"`
			Num       uint32  `json:"num"`
			LongName  string  `json:"long_name"`
			ShortName string  `json:"short_name"`
			HopsAway  *uint32 `json:"hops_away"`
			ViaMQTT   bool    `json:"via_mqtt"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	want := r.Nodes()
	if len(rep.Nodes) != len(want) || rep.Device.Firmware == "" || rep.LoRa == nil || rep.MQTT == nil || len(rep.Channels) == 0 {
		t.Fatalf("report incomplete: %d nodes (want %d), %+v", len(rep.Nodes), len(want), rep.Device)
	}
	byNum := map[uint32]int{}
	for i, n := range rep.Nodes {
		byNum[n.Num] = i
	}
	for _, w := range want {
		i, ok := byNum[w.GetNum()]
		if !ok {
			t.Fatalf("node %s missing", w.GetUser().GetId())
		}
		n := rep.Nodes[i]
		if n.ID != w.GetUser().GetId() || n.LongName != w.GetUser().GetLongName() || n.ShortName != w.GetUser().GetShortName() ||
			n.ViaMQTT != w.GetViaMqtt() || (n.HopsAway == nil) != (w.HopsAway == nil) || (n.HopsAway != nil && *n.HopsAway != w.GetHopsAway()) {
			t.Fatalf("node %s: got %+v, radio has %v", n.ID, n, w)
		}
	}
	// The human form has the same nodes.
	out, _, code = runCmd(t, "info", addr)
	if code != 0 || !strings.Contains(out, "Nodes ("+itoa(len(want))+")") || !strings.Contains(out, rep.MyNode.ID) {
		t.Fatalf("table output: %s", out)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{"info"}, 2, "want exactly one radio address"},
		{[]string{"info", "--bogus", "x"}, 2, "flag provided but not defined"},
		{[]string{"info", "ftp://radio"}, 1, "unknown scheme"},
		{[]string{"sim", "--nodes", "-5"}, 2, "--nodes must be"},
		{[]string{"serve", "--max-sessions", "lots"}, 2, "--max-sessions"},
		{[]string{"serve", "--demo", "--listen", "0.0.0.0:2222"}, 1, "only listens on loopback"},
		{[]string{"serve", "--data-dir", "/nonexistent"}, 1, "no radios configured"},
	}
	for _, c := range cases {
		_, errs, code := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
	out, _, code := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "meshgate ") {
		t.Fatalf("version: %q", out)
	}
	out, _, code = runCmd(t, "help")
	for _, cmd := range []string{"serve", "sim", "info", "version"} {
		if code != 0 || !strings.Contains(out, "meshgate "+cmd) && !strings.Contains(out, "meshgate ["+cmd+"]") {
			t.Errorf("help lacks %s: %s", cmd, out)
		}
	}
}

func TestInfoUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, errs, code := runCmd(t, "info", "--timeout", "2s", addr)
	if code != 1 || !strings.Contains(errs, "unreachable") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// `serve -h` shows every setting's default, formatted the way it is given.
func TestServeHelpShowsDefaults(t *testing.T) {
	_, errs, code := runCmd(t, "serve", "-h")
	if code != 0 {
		t.Fatalf("serve -h: exit %d", code)
	}
	for _, want := range []string{
		"most sessions open at once (default 10) [$MESHGATE_MAX_SESSIONS]",
		"most sessions one key may have open at once (default 5) [$MESHGATE_MAX_SESSIONS_PER_KEY]",
		"(like sshd's MaxSessions) (default 10) [$MESHGATE_MAX_SESSIONS_PER_CONNECTION]",
		"address to accept SSH connections on (default :2222)",
		"no keyboard input for this long (default 1h) [",
		"how often idle sessions are looked for (default 5m) [",
		"authentication (default 20s) [",
		"silent for 15 minutes (default 1m) [",
		"(default info) [$MESHGATE_LOG_LEVEL]",
		"packets kept in each session's log (default 500)",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
	// Empty or off settings show no default of their own.
	for _, bad := range []string{"(default )", "(default false)", "(default 0s)", "0m0s"} {
		if strings.Contains(errs, bad) {
			t.Errorf("serve -h shows %q:\n%s", bad, errs)
		}
	}
}

// A second gateway on a busy address says so in one line, with a hint,
// before it logs, opens or starts anything.
func TestServeAddressInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	dataDir := filepath.Join(t.TempDir(), "data")
	out, errs, code := runCmd(t, "serve", "--demo", "--listen", addr, "--data-dir", dataDir)
	want := "meshgate serve: listen on " + addr + ": address already in use (another meshgate running? choose another address with --listen)\n"
	if code != 1 || errs != want || out != "" {
		t.Fatalf("exit %d\nstderr %q\nwant   %q\nstdout %q", code, errs, want, out)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("the data directory was created before the address was checked: %v", err)
	}
	// The metrics address is checked as early, and named as its own flag.
	_, errs, code = runCmd(t, "serve", "--demo", "--listen", "127.0.0.1:0", "--metrics-listen", addr, "--data-dir", dataDir)
	want = "meshgate serve: metrics: listen on " + addr + ": address already in use (another meshgate running? choose another address with --metrics-listen)\n"
	if code != 1 || errs != want {
		t.Fatalf("metrics: exit %d\nstderr %q\nwant   %q", code, errs, want)
	}
}

// A gateway stopped while a radio floods it with packets stops cleanly:
// nothing is logged at ERROR, and nothing uses the store after it closed.
func TestServeStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nlog_format: logfmt\nradios:\n  - name: base\n    address: \"sim://?seed=3&nodes=30&traffic=2ms\"\n    always_on: true\n", dir)
	cfgPath := filepath.Join(dir, "meshgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfgPath}, io.Discard, logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "radio connected") {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not connect its radio; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // packets flowing into the store
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	l := logs.String()
	if strings.Contains(l, "level=error") || strings.Contains(l, "store: closed") || !strings.Contains(l, "msg=stopped") {
		t.Fatalf("unclean stop; log:\n%s", l)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
