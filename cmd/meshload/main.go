// Command meshload opens many SSH sessions against a meshgate gateway and
// reports what they cost the gateway: its resident memory before and
// after (read from /proc, so run it on the gateway's host) and how long
// logins took. It is the load tool behind the memory figures in the docs:
//
//	meshgate serve --demo &            # any key accepted, loopback only
//	meshload -pid $! -sessions 200 -command "packets -r base --follow --limit 0"
//	meshload -pid $! -sessions 200 -pty  # interactive (TUI) sessions
//
// With -marker it measures marker text to screen instead: N UIs watch the
// Chat tab while one more types a marker text; the time from its enter to
// the marker on each screen is collected, with the CPU time -pid used
// meanwhile. -compare runs the same against a trivial wish + Bubble Tea
// program (meshload trivial) in the same run:
//
//	meshload trivial -listen 127.0.0.1:2300 &
//	meshload -marker -sessions 20 -pid GATEWAY_PID -compare 127.0.0.1:2300 -compare-pid $!
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "trivial" {
		fs := flag.NewFlagSet("trivial", flag.ExitOnError)
		listen := fs.String("listen", "127.0.0.1:2300", "address to serve the trivial program on")
		fps := fs.Int("fps", 60, "the trivial program's frame rate (Bubble Tea's default is 60)")
		_ = fs.Parse(os.Args[2:])
		if err := runTrivial(*listen, *fps); err != nil {
			fmt.Fprintln(os.Stderr, "meshload:", err)
			os.Exit(1)
		}
		return
	}
	addr := flag.String("addr", "127.0.0.1:2222", "gateway address")
	n := flag.Int("sessions", 100, "sessions to open")
	command := flag.String("command", "", "exec command for each session (empty: interactive)")
	pty := flag.Bool("pty", false, "request a terminal (120x40) for each session")
	pid := flag.Int("pid", 0, "gateway process id, to read its memory (and with -marker its CPU time) from /proc")
	hold := flag.Duration("hold", 3*time.Second, "how long to keep the sessions open before measuring")
	parallel := flag.Int("parallel", 4, "logins at once (the gateway allows 8 unauthenticated connections per address)")
	firstByte := flag.Bool("first-byte", true, "count a login as done at the first byte of output (needs a command or UI that prints)")
	marker := flag.Bool("marker", false, "measure marker text to screen in UI sessions (see the package doc)")
	markers := flag.Int("markers", 15, "with -marker: markers to send")
	every := flag.Duration("every", 4*time.Second, "with -marker: pause between markers (the radio paces texts 3 s apart)")
	viewerKeys := flag.String("viewer-keys", "2", "with -marker: keys each viewer types first (2: the Chat tab)")
	senderKeys := flag.String("sender-keys", "2i", "with -marker: keys the sender types first (2i: write in the Chat tab)")
	compare := flag.String("compare", "", "with -marker: also measure the trivial program at this address")
	comparePID := flag.Int("compare-pid", 0, "with -compare: the trivial program's process id, for its memory")
	flag.Parse()
	if *marker {
		if *command == "" {
			*command = "tui -r base"
		}
		err := runMarker(markerRun{addr: *addr, command: *command, viewerKeys: *viewerKeys, senderKeys: *senderKeys,
			sessions: *n, markers: *markers, every: *every}, *pid, *compare, *comparePID)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshload:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*addr, *n, *command, *pty, *pid, *hold, *firstByte, *parallel); err != nil {
		fmt.Fprintln(os.Stderr, "meshload:", err)
		os.Exit(1)
	}
}

func run(addr string, n int, command string, pty bool, pid int, hold time.Duration, firstByte bool, parallel int) error {
	cfg, err := clientConfig()
	if err != nil {
		return err
	}
	before := rss(pid)
	var (
		mu       sync.Mutex
		clients  []*gossh.Client
		logins   []time.Duration
		failures int
	)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, parallel))
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			c, err := open(addr, cfg, command, pty, firstByte)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				if failures == 1 {
					fmt.Fprintln(os.Stderr, "meshload: first failure:", err)
				}
				return
			}
			clients = append(clients, c)
			logins = append(logins, time.Since(start))
		}()
	}
	wg.Wait()
	time.Sleep(hold)
	after := rss(pid)
	fmt.Printf("sessions open: %d (failed %d)\n", len(clients), failures)
	if len(logins) > 0 {
		slices.Sort(logins)
		fmt.Printf("login to first output: median %s, p99 %s\n", logins[len(logins)/2].Round(time.Microsecond),
			logins[len(logins)*99/100].Round(time.Microsecond))
	}
	if pid > 0 && len(clients) > 0 {
		fmt.Printf("gateway RSS: %d KiB before, %d KiB after, %.1f KiB per session\n", before, after,
			float64(after-before)/float64(len(clients)))
	}
	for _, c := range clients {
		_ = c.Close()
	}
	return nil
}

// runMarker measures the gateway, then the trivial program if asked,
// with the same sessions and markers, and prints them side by side.
func runMarker(r markerRun, pid int, compare string, comparePID int) error {
	cfg, err := clientConfig()
	if err != nil {
		return err
	}
	r.cfg = cfg
	measure := func(name string, r markerRun, pid int) (markerResult, error) {
		before := rss(pid)
		res, err := r.run()
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%-8s %s\n", name, res)
		if pid > 0 && res.wall > 0 {
			fmt.Printf("%-8s CPU while the markers ran: %.0f ms of %.1f s (%.1f %% of one core)\n", name,
				float64(res.cpu.Milliseconds()), res.wall.Seconds(), 100*res.cpu.Seconds()/res.wall.Seconds())
		}
		if pid > 0 && res.open > 0 {
			fmt.Printf("%-8s RSS %d KiB before the sessions, %d KiB after the run: %.0f KiB per session\n", name,
				before, res.rss, float64(res.rss-before)/float64(res.open+1))
		}
		return res, nil
	}
	r.rssOf = pid
	ours, err := measure("meshgate", r, pid)
	if err != nil || compare == "" {
		return err
	}
	t := r
	t.addr, t.command, t.viewerKeys, t.senderKeys, t.rssOf = compare, "", "", "", comparePID
	base, err := measure("trivial", t, comparePID)
	if err != nil {
		return err
	}
	if p := quantile(sorted(base.spread), 0.99); p > 0 {
		fmt.Printf("p99 after the first screen, meshgate/trivial: %.2f\n", float64(quantile(sorted(ours.spread), 0.99))/float64(p))
	}
	return nil
}

func sorted(ds []time.Duration) []time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds
}

// clientConfig is a fresh key's login, the same for every session.
func clientConfig() (*gossh.ClientConfig, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return &gossh.ClientConfig{User: "load", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}, nil
}

// open logs in and starts one session that stays open.
func open(addr string, cfg *gossh.ClientConfig, command string, pty, wait bool) (*gossh.Client, error) {
	c, err := gossh.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	s, err := c.NewSession()
	if err != nil {
		c.Close()
		return nil, err
	}
	if pty {
		if err := s.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
			c.Close()
			return nil, err
		}
	}
	out, err := s.StdoutPipe()
	if err != nil {
		c.Close()
		return nil, err
	}
	first := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		n, _ := out.Read(buf)
		if n > 0 {
			close(first)
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	if command == "" {
		err = s.Shell()
	} else {
		err = s.Start(command)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	if wait {
		// The login counts as done when the first byte of the screen (or
		// of the command's output) arrives.
		select {
		case <-first:
		case <-time.After(10 * time.Second):
			c.Close()
			return nil, fmt.Errorf("no output within 10 s")
		}
	}
	return c, nil
}

// cpuTime is the user and system CPU time process pid has used so far,
// from /proc/PID/stat (fields 14 and 15, in ticks of 1/100 s: Linux's
// USER_HZ), or 0 if it cannot be read.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rss reads a process's resident set size in KiB from /proc.
func rss(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}
