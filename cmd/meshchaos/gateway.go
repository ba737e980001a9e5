package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gateway is one `meshgate serve` process under test, with its own data
// directory and fixed ports, so that it can be killed and started again
// on the same database.
type gateway struct {
	bin, dir    string
	sshAddr     string
	metricsAddr string
	cmd         *exec.Cmd
	exited      chan struct{}
	logPath     string
}

// gatewayConfig is what a scenario sets in the gateway's config file.
type gatewayConfig struct {
	radioAddr string // base's address
	alwaysOn  bool
	extra     string // more YAML lines
}

// newGateway writes a config and an authorized_keys for users into a new
// directory under root. It starts nothing.
func newGateway(bin, root, name string, gc gatewayConfig, users []*user) (*gateway, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var keys strings.Builder
	for _, u := range users {
		keys.WriteString(u.authorizedLine())
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(keys.String()), 0o600); err != nil {
		return nil, err
	}
	g := &gateway{bin: bin, dir: dir, sshAddr: freeAddr(), metricsAddr: freeAddr(), logPath: filepath.Join(dir, "gateway.log")}
	// Caps well above any scenario's sessions: the scenarios measure the
	// gateway under load, not its limits (abuse measures those).
	cfg := fmt.Sprintf(`listen: %q
data_dir: %q
metrics_listen: %q
radios:
  - name: base
    address: %q
    always_on: %t
max_sessions: 1000
max_sessions_per_key: 1000
max_connections: 1000
max_connections_per_key: 1000
idle_timeout: 24h
log_format: logfmt
%s`, g.sshAddr, dir, g.metricsAddr, gc.radioAddr, gc.alwaysOn, gc.extra)
	if err := os.WriteFile(filepath.Join(dir, "meshgate.yaml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return g, nil
}

// freeAddr finds a free loopback port below the kernel's ephemeral range
// (32768 and up on Linux by default). Ports here are closed and opened
// again (a killed gateway restarts on its port, a killed radio endpoint
// comes back on its own); a port from the ephemeral range can meanwhile
// become the source port of one of the many client connections, and the
// reopen fails with "address already in use".
func freeAddr() string {
	ln, err := listenLow()
	if err != nil {
		panic(err) // no loopback: nothing here can run
	}
	defer ln.Close()
	return ln.Addr().String()
}

// listenLow listens on a random free loopback port in 20000-32767.
func listenLow() (net.Listener, error) {
	var err error
	for range 200 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12768))); err == nil {
			return ln, nil
		}
	}
	return nil, err
}

// start runs the gateway and waits until it accepts SSH connections and
// answers on its metrics port.
func (g *gateway) start(ctx context.Context) error {
	logf, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(g.bin, "serve", "--config", filepath.Join(g.dir, "meshgate.yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The config file alone decides: no MESHGATE_* variable of the caller's.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MESHGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	g.cmd = cmd
	g.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(g.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := g.metrics(); err == nil {
			if c, err := net.DialTimeout("tcp", g.sshAddr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-g.exited:
			return fmt.Errorf("the gateway exited at start; its log: %s", g.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway did not start within 30 s; its log: %s", g.logTail())
		}
	}
}

// kill9 kills the gateway with SIGKILL and waits for it to be gone.
func (g *gateway) kill9() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.exited
	g.cmd = nil
}

// stop asks the gateway to shut down and waits (killing it after 20 s).
func (g *gateway) stop() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(20 * time.Second):
		g.kill9()
	}
	g.cmd = nil
}

// alive reports whether the process is still running.
func (g *gateway) alive() bool {
	if g.cmd == nil {
		return false
	}
	select {
	case <-g.exited:
		return false
	default:
		return true
	}
}

func (g *gateway) pid() int {
	if g.cmd == nil {
		return 0
	}
	return g.cmd.Process.Pid
}

func (g *gateway) logTail() string {
	b, _ := os.ReadFile(g.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// metrics reads the gateway's Prometheus endpoint into name{labels} ->
// value.
func (g *gateway) metrics() (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + g.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sample is one reading of the gateway's cost.
type sample struct {
	at         time.Time
	rssKiB     int
	fds        int
	goroutines int
	dbBytes    int64
	walBytes   int64
	drops      int // events dropped for sessions that fell behind
}

// sample reads the gateway's memory and open files from /proc, its
// goroutines from the metrics and the database's size from disk.
func (g *gateway) sample() sample {
	s := sample{at: time.Now()}
	if pid := g.pid(); pid > 0 {
		s.rssKiB = procStatus(pid, "VmRSS:")
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			s.fds = len(ents)
		}
	}
	if m, err := g.metrics(); err == nil {
		s.goroutines = int(m["go_goroutines"])
		s.drops = int(m[`meshgate_radio_fanout_drops_total{radio="base"}`])
	}
	if fi, err := os.Stat(filepath.Join(g.dir, "meshgate.db")); err == nil {
		s.dbBytes = fi.Size()
	}
	if fi, err := os.Stat(filepath.Join(g.dir, "meshgate.db-wal")); err == nil {
		s.walBytes = fi.Size()
	}
	return s
}

// settled is the sample with the fewest goroutines of five taken 100 ms
// apart, for before/after comparisons: a UI session holds a timer
// goroutine for 50 ms after each packet it draws (its frame window), so
// one reading taken just after a packet can count up to one goroutine per
// UI more than the same gateway a moment later.
func (g *gateway) settled(ctx context.Context) sample {
	best := g.sample()
	for range 4 {
		sleep(ctx, 100*time.Millisecond)
		if s := g.sample(); s.goroutines < best.goroutines {
			best = s
		}
	}
	return best
}

// procStatus reads one kB field of /proc/PID/status.
func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

// radioState is the link state of base as the metrics show it.
func (g *gateway) radioState() string {
	m, err := g.metrics()
	if err != nil {
		return "unknown"
	}
	for k, v := range m {
		if v == 1 && strings.HasPrefix(k, `meshgate_radio_state{radio="base",state="`) {
			return strings.TrimSuffix(strings.TrimPrefix(k, `meshgate_radio_state{radio="base",state="`), `"}`)
		}
	}
	return "unknown"
}

// reconnects is base's reconnect counter.
func (g *gateway) reconnects() int {
	m, _ := g.metrics()
	return int(m[`meshgate_radio_reconnects_total{radio="base"}`])
}
