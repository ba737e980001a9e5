package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// user is a key the gateway knows (or, for abuse, one it does not).
type user struct {
	name, role string
	signer     gossh.Signer
}

func newUser(name, role string) *user {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		panic(err)
	}
	return &user{name: name, role: role, signer: s}
}

func (u *user) authorizedLine() string {
	return fmt.Sprintf("role=%q %s %s\n", u.role, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(u.signer.PublicKey()))), u.name)
}

// dial logs u in from the loopback address local ("" for any).
func (u *user) dial(addr, local string) (*gossh.Client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := &gossh.ClientConfig{User: "mesh", Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	sc, chans, reqs, err := gossh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return gossh.NewClient(sc, chans, reqs), nil
}

// run logs in, runs one command and returns its output and exit error.
func (u *user) run(addr, local, command string) (string, error) {
	c, err := u.dial(addr, local)
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	done := make(chan error, 1)
	go func() { done <- s.Run(command) }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		err = fmt.Errorf("%q: no answer within 60 s", command)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// watcher is a long session (UI or packets --follow) that stays open
// through a scenario and reports which marker packets it saw, and when.
type watcher struct {
	kind   string // "ui" or "follow"
	client *gossh.Client
	sess   *gossh.Session
	ended  atomic.Bool
	bytes  atomic.Int64
	last   atomic.Int64 // unix nanos of the last output
	endErr atomic.Value // error text

	mu   sync.Mutex
	seen map[uint32]time.Time // marker id -> first seen
}

// follow opens `packets -r base --follow --limit 0 --json`. When read is
// false nothing is ever read from it: a client whose window fills.
func follow(addr string, u *user, read bool) (*watcher, error) {
	return open(addr, u, "follow", "packets -r base --follow --limit 0 --json", false, read)
}

// openUI opens the terminal UI bound to base, on a 120x40 terminal.
func openUI(addr string, u *user, read bool) (*watcher, error) {
	return open(addr, u, "ui", "tui -r base", true, read)
}

func open(addr string, u *user, kind, command string, pty, read bool) (*watcher, error) {
	c, err := u.dial(addr, "")
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
	w := &watcher{kind: kind, client: c, sess: s, seen: make(map[uint32]time.Time)}
	out, err := s.StdoutPipe()
	if err != nil {
		c.Close()
		return nil, err
	}
	s.Stderr = io.Discard
	stdin, err := s.StdinPipe()
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := s.Start(command); err != nil {
		c.Close()
		return nil, err
	}
	if pty {
		// The UI opens on the Nodes tab; markers are texts, which the
		// Chat tab (key 2) shows. Keys sent before the UI reads them
		// are not lost: they wait in the SSH channel.
		go func() {
			time.Sleep(time.Second)
			_, _ = stdin.Write([]byte("2"))
		}()
	}
	if read {
		go w.read(out)
	}
	go func() {
		err := s.Wait()
		if err == nil {
			err = io.EOF
		}
		w.endErr.Store(err.Error())
		w.ended.Store(true)
	}()
	return w, nil
}

// read consumes the output. Follow lines are JSON packets; the UI is
// scanned for "chaos marker N" in its screen updates.
func (w *watcher) read(out io.Reader) {
	if w.kind == "follow" {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			now := time.Now()
			w.bytes.Add(int64(len(sc.Bytes()) + 1))
			w.last.Store(now.UnixNano())
			var p struct {
				ID      uint32 `json:"id"`
				Summary string `json:"summary"`
			}
			if json.Unmarshal(sc.Bytes(), &p) == nil && p.ID >= markerBase && strings.Contains(p.Summary, "chaos marker") {
				w.mark(p.ID, now)
			}
		}
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			now := time.Now()
			w.bytes.Add(int64(n))
			w.last.Store(now.UnixNano())
			for rest := buf[:n]; ; {
				i := bytes.Index(rest, []byte("chaos marker "))
				if i < 0 {
					break
				}
				rest = rest[i+len("chaos marker "):]
				var id uint32
				if _, err := fmt.Sscanf(string(rest[:min(len(rest), 10)]), "%d", &id); err == nil && id >= markerBase {
					w.mark(id, now)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (w *watcher) mark(id uint32, t time.Time) {
	w.mu.Lock()
	if _, ok := w.seen[id]; !ok {
		w.seen[id] = t
	}
	w.mu.Unlock()
}

// seenAt reports when the watcher first saw marker id.
func (w *watcher) seenAt(id uint32) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.seen[id]
	return t, ok
}

// forget drops what the watcher saw, to bound memory in long runs.
func (w *watcher) forget() {
	w.mu.Lock()
	clear(w.seen)
	w.mu.Unlock()
}

func (w *watcher) close() { w.client.Close() }

// markerBase is where marker packet ids start: far above the ids the
// simulator's own traffic is likely to use in a run, and easy to spot.
const markerBase = 0xC0000000

// writeToRadio writes one framed ToRadio.
func writeToRadio(w io.Writer, m *pb.ToRadio) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	f, err := frame.Append(nil, b)
	if err != nil {
		return err
	}
	_, err = w.Write(f)
	return err
}
