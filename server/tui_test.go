package server

import (
	"context"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	uv "github.com/charmbracelet/ultraviolet"
	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// terminal is a real SSH client with a PTY, as a user's terminal would be.
type terminal struct {
	t       testing.TB
	client  *gossh.Client
	session *gossh.Session
	stdin   io.WriteCloser
	out     *syncBuffer // every byte written
	screen  *vt         // what the user sees
	done    chan error
}

// openTUI logs u in with a w×h PTY and starts the shell, or cmd (such as
// "tui -r base") when given.
func (g *gateway) openTUI(t testing.TB, u *user, cmd string, w, h int) *terminal {
	t.Helper()
	return g.openTerminal(t, u, cmd, w, h, true)
}

// openTerminal is openTUI; without emulate the client keeps only the raw
// output, so that measurements of the server are not inflated by the
// test's own screen.
func (g *gateway) openTerminal(t testing.TB, u *user, cmd string, w, h int, emulate bool) *terminal {
	t.Helper()
	c, err := g.dial(t, u)
	if err != nil {
		t.Fatalf("dial as %s: %v", u.name, err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, client: c, session: s, stdin: stdin, out: &syncBuffer{}, done: make(chan error, 1)}
	s.Stdout = term.out
	if emulate {
		term.screen = newVT(w, h)
		s.Stdout = io.MultiWriter(term.out, term.screen)
	}
	s.Stderr = s.Stdout
	if cmd == "" {
		err = s.Shell()
	} else {
		err = s.Start(cmd)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { term.done <- s.Wait() }()
	t.Cleanup(term.close)
	return term
}

func (tt *terminal) close() {
	_ = tt.session.Close()
	_ = tt.client.Close()
}

// send types raw bytes, as the terminal sends keys ("\r" is Enter).
func (tt *terminal) send(keys ...string) {
	tt.t.Helper()
	for _, k := range keys {
		if _, err := io.WriteString(tt.stdin, k); err != nil {
			tt.t.Fatalf("typing %q: %v", k, err)
		}
		// One key per read, like a person; a lone escape is only a key
		// once the terminal reader stops waiting for the rest of a
		// sequence (50 ms).
		pause := 20 * time.Millisecond
		if k == "\x1b" {
			pause = 120 * time.Millisecond
		}
		time.Sleep(pause)
	}
}

// text is the screen as the user sees it.
func (tt *terminal) text() string { return tt.screen.Screen() }

func (tt *terminal) waitText(what ...string) {
	tt.t.Helper()
	eventually(tt.t, 10*time.Second, strings.Join(what, ", ")+" on screen", func() bool {
		s := tt.text()
		for _, w := range what {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// exit waits for the session to end and returns its exit status.
func (tt *terminal) exit() int {
	tt.t.Helper()
	select {
	case err := <-tt.done:
		var ee *gossh.ExitError
		switch {
		case err == nil:
			return 0
		case errorsAs(err, &ee):
			return ee.ExitStatus()
		}
		tt.t.Fatalf("session: %v", err)
	case <-time.After(10 * time.Second):
		tt.t.Fatalf("session did not end; screen:\n%s", tt.text())
	}
	return -1
}

// session finds the record of the only open session of user name.
func (g *gateway) session(t testing.TB, name string) *sessions.Session {
	t.Helper()
	var found *sessions.Session
	eventually(t, 5*time.Second, "a session for "+name, func() bool {
		for _, info := range g.mgr.List() {
			if info.User.Name == name {
				found, _ = g.mgr.Get(info.ID)
				return found != nil
			}
		}
		return false
	})
	return found
}

// nodeIDs are the ids of a simulated radio's nodes other than its own.
func (g *gateway) nodeIDs(radio string) []string {
	r := g.sims[radio]
	var ids []string
	for _, n := range r.Nodes() {
		if n.GetNum() != r.MyNodeNum() {
			ids = append(ids, n.GetUser().GetId())
		}
	}
	return ids
}

// ackingNode is a node the simulated radio will likely deliver a DM to:
// heard over the air at a known distance.
func (g *gateway) ackingNode(radio string) *pb.NodeInfo {
	r := g.sims[radio]
	for _, n := range r.Nodes() {
		if !n.GetViaMqtt() && n.HopsAway != nil && n.GetNum() != r.MyNodeNum() {
			return n
		}
	}
	return nil
}

// The whole path: a real SSH client with a PTY logs in, picks a radio in
// the lobby, sees its nodes, sends a DM that the radio acks, runs a
// traceroute, and quits cleanly.
func TestTUIEndToEnd(t *testing.T) {
	goroutineBaseline(t)
	op := newUser(t, "otto", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{op}})
	tt := g.openTUI(t, op, "", 120, 40)
	tt.waitText("Choose a radio", "base")
	tt.send("\r") // use the (only) radio
	ids := g.nodeIDs("base")
	tt.waitText(ids[:5]...)

	dest := g.ackingNode("base")
	id := dest.GetUser().GetId()
	b, _ := g.reg.Get("base")
	// Find the node, open a DM to it and send.
	tt.send("/")
	tt.send(strings.Split(id, "")...)
	tt.send("\r", "d")
	acked := false
	for try := range 4 { // the virtual mesh loses packets, as a real one does
		text := "hello from the tui " + string(rune('a'+try))
		tt.send(text, "\r")
		var m radio.Message
		eventually(t, 10*time.Second, "delivery of "+text, func() bool {
			for _, msg := range b.Messages(0) {
				if msg.Outgoing && msg.Text == text {
					m, _ = b.Message(msg.ID)
					return m.Delivery == radio.Acked || m.Delivery == radio.Failed
				}
			}
			return false
		})
		if m.Delivery == radio.Acked {
			acked = true
			break
		}
	}
	if !acked {
		t.Fatalf("no DM was acked; screen:\n%s", tt.text())
	}
	tt.waitText("acked by " + dest.GetUser().GetShortName())
	if m := latestOutgoing(b); m.SentBy != "otto" || meshtastic.NodeID(m.To) != id {
		t.Errorf("sent message: %+v", m)
	}

	// Traceroute the same node from the Nodes tab.
	tt.send("\x1b", "1", "t")
	rec := g.session(t, "otto")
	eventually(t, 10*time.Second, "a traceroute result", func() bool { return len(rec.Traces()) > 0 })
	tr := rec.Traces()[0]
	if tr.Target != dest.GetNum() {
		t.Fatalf("traced %x, want %x", tr.Target, dest.GetNum())
	}
	if tr.Err == nil {
		tt.waitText("towards:", "me →")
	}
	if rec.Radio() != "base" || rec.PacketsSeen() == 0 {
		t.Errorf("session record: radio %q, %d packets", rec.Radio(), rec.PacketsSeen())
	}

	tt.send("q")
	if code := tt.exit(); code != 0 {
		t.Fatalf("exit status %d; screen:\n%s", code, tt.text())
	}
	eventually(t, 5*time.Second, "the session record to go", func() bool { return g.mgr.Count() == 0 })
	if n := b.Status().Subscribers; n != 0 {
		t.Errorf("%d subscribers left on the radio", n)
	}
}

func latestOutgoing(b *radio.Broker) radio.Message {
	ms := b.Messages(0)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Outgoing {
			m, _ := b.Message(ms[i].ID)
			return m
		}
	}
	return radio.Message{}
}

func errorsAs(err error, target **gossh.ExitError) bool {
	ee, ok := err.(*gossh.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

// "ssh -t gateway tui -r NAME" skips the lobby; a radio the key may not
// use is refused before the UI starts.
func TestTUIBoundByCommand(t *testing.T) {
	op := newUser(t, "otto", `role="operator",radios="field"`)
	g := startGateway(t, gwOptions{users: []*user{op}, radios: []string{"base", "field"}})
	tt := g.openTUI(t, op, "tui -r field", 100, 30)
	tt.waitText("field ● connected", g.nodeIDs("field")[0])
	if strings.Contains(tt.text(), "Choose a radio") {
		t.Error("the lobby was shown")
	}
	tt.send("q")
	if code := tt.exit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	denied := g.openTUI(t, op, "tui -r base", 100, 30)
	if code := denied.exit(); code != exitDenied {
		t.Fatalf("tui -r base: exit %d, want %d; output %q", code, exitDenied, denied.text())
	}
}

// Two logins on two radios each see only their own radio's nodes and
// packets.
func TestTUITwoRadios(t *testing.T) {
	a, b := newUser(t, "ann", ""), newUser(t, "bob", "")
	g := startGateway(t, gwOptions{users: []*user{a, b}, radios: []string{"base", "field"}, traffic: 50 * time.Millisecond})
	ta := g.openTUI(t, a, "", 120, 40)
	tb := g.openTUI(t, b, "", 120, 40)
	ta.waitText("Choose a radio", "field")
	tb.waitText("Choose a radio", "field")
	ta.send("\r")           // base
	tb.send("\x1b[B", "\r") // down, field
	baseIDs, fieldIDs := g.nodeIDs("base"), g.nodeIDs("field")
	ta.waitText(baseIDs[:3]...)
	tb.waitText(fieldIDs[:3]...)
	recA, recB := g.session(t, "ann"), g.session(t, "bob")
	eventually(t, 10*time.Second, "packets in both logs", func() bool {
		return recA.PacketsSeen() > 5 && recB.PacketsSeen() > 5
	})
	for _, id := range fieldIDs {
		if strings.Contains(ta.text(), id) {
			t.Errorf("ann on base sees field's node %s", id)
		}
	}
	for _, id := range baseIDs {
		if strings.Contains(tb.text(), id) {
			t.Errorf("bob on field sees base's node %s", id)
		}
	}
	// Each log holds only its own radio's packets.
	from := func(r string) map[uint32]bool {
		set := map[uint32]bool{}
		for _, n := range g.sims[r].Nodes() {
			set[n.GetNum()] = true
		}
		return set
	}
	for _, c := range []struct {
		rec   *sessions.Session
		radio string
	}{{recA, "base"}, {recB, "field"}} {
		nodes := from(c.radio)
		for _, lp := range c.rec.Packets() {
			if f := lp.Packet.GetFrom(); f != 0 && !nodes[f] {
				t.Errorf("%s's log has a packet from %08x, not a node of %s", c.rec.User().Name, f, c.radio)
			}
		}
	}
	ta.send("q")
	tb.send("q")
	ta.exit()
	tb.exit()
}

// Two logins on one radio share its NodeDB and chat but keep their own
// packet logs, filters and sweeps.
func TestTUISharedRadio(t *testing.T) {
	a, b := newUser(t, "ann", `role="operator"`), newUser(t, "bob", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{a, b}, traffic: 50 * time.Millisecond})
	ta := g.openTUI(t, a, "tui -r base", 120, 40)
	ids := g.nodeIDs("base")
	ta.waitText(ids[:3]...)
	recA := g.session(t, "ann")
	eventually(t, 10*time.Second, "ann's log to fill", func() bool { return recA.PacketsSeen() > 10 })
	tb := g.openTUI(t, b, "tui -r base", 120, 40)
	tb.waitText(ids[:3]...) // the same NodeDB
	recB := g.session(t, "bob")
	if n := g.sims["base"].Stats().Accepted; n != 1 {
		t.Errorf("the radio saw %d connections, want one shared", n)
	}

	// Chat is shared: ann writes on the channel, bob reads it.
	ta.send("2", "i", "hello bob, from ann", "\r")
	tb.send("2")
	tb.waitText("hello bob, from ann")

	// Filters are per session: ann filters her packet log by port.
	ta.send("\x1b", "3", "o")
	eventually(t, 5*time.Second, "ann's port filter", func() bool { return len(recA.Filters().Ports) == 1 })
	if !recB.Filters().IsZero() {
		t.Errorf("bob's filters changed with ann's: %+v", recB.Filters())
	}
	// Sweeps are per session: ann starts one, bob has none.
	ta.send("4", "w", "y")
	eventually(t, 5*time.Second, "ann's sweep", func() bool { return recA.Sweep().Total > 0 })
	if st := recB.Sweep(); st.Total != 0 || st.Running {
		t.Errorf("bob has a sweep: %+v", st)
	}
	// Packet logs are per session: bob's began when he bound.
	if a, b := recA.PacketsSeen(), recB.PacketsSeen(); b >= a {
		t.Errorf("bob's log (%d packets) is not his own; ann's has %d", b, a)
	}
	pa, pb := recA.Packets(), recB.Packets()
	if len(pb) > 0 && len(pa) > 0 && pa[0].Packet == pb[0].Packet {
		t.Error("both logs start with the same packet")
	}
	// Quitting with a sweep running asks first.
	ta.send("q")
	ta.waitText("Quit?", "sweep is running")
	ta.send("y")
	tb.send("\x1b", "q")
	if code := ta.exit(); code != 0 {
		t.Errorf("ann's exit %d", code)
	}
	if code := tb.exit(); code != 0 {
		t.Errorf("bob's exit %d", code)
	}
}

// An idle UI writes nothing and uses next to no CPU while no packets
// arrive. The CPU figure is logged for the record (it includes Bubble
// Tea's renderer ticking at the FPS cap); the test fails only on output,
// which must be exactly none.
func TestTUIIdleCost(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, sessions: sessions.Config{MaxSessions: 30}})
	const n = 20
	var ts []*terminal
	for range n {
		ts = append(ts, g.openTerminal(t, u, "tui -r base", 120, 40, false))
	}
	id := g.nodeIDs("base")[0]
	for _, tt := range ts {
		eventually(t, 10*time.Second, "the first frame", func() bool { return strings.Contains(tt.out.String(), id) })
	}
	time.Sleep(500 * time.Millisecond) // let the first frames and the handshake settle
	before := make([]int, n)
	for i, tt := range ts {
		before[i] = len(tt.out.String())
	}
	cpu0 := cpuTime()
	const window = 3 * time.Second
	time.Sleep(window)
	cpu := cpuTime() - cpu0
	t.Logf("%d idle TUI sessions for %s: process CPU %s, %.3f%% of one core per session (gateway, radio and SSH clients included)",
		n, window, cpu.Round(time.Millisecond), 100*cpu.Seconds()/window.Seconds()/n)
	for i, tt := range ts {
		if written := len(tt.out.String()) - before[i]; written != 0 {
			t.Errorf("an idle UI wrote %d bytes: %q", written, tt.out.String()[before[i]:])
		}
	}
	for _, tt := range ts {
		tt.send("q")
		tt.exit()
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Memory per UI session bound to a radio with 1,000 nodes in its NodeDB,
// at 120×40 on the Nodes tab, in the server process. The SSH clients run
// in the same process, so the figure includes their buffers too.
func TestTUIMemoryPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement")
	}
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, sessions: sessions.Config{MaxSessions: 30}})
	if _, err := g.reg.Add("big", "sim://?nodes=1000&seed=7"); err != nil {
		t.Fatal(err)
	}
	first := g.openTUI(t, u, "tui -r big", 120, 40) // connects the radio: a shared cost
	first.waitText("1001 nodes")
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const n = 20
	var ts []*terminal
	for range n {
		ts = append(ts, g.openTerminal(t, u, "tui -r big", 120, 40, false))
	}
	for _, tt := range ts {
		eventually(t, 10*time.Second, "the first frame", func() bool { return strings.Contains(tt.out.String(), "1001 nodes") })
	}
	time.Sleep(200 * time.Millisecond)
	per := (int64(heap()) - int64(before)) / n
	cells := int64(unsafe.Sizeof(uv.Cell{})) * 120 * 40 * 2
	t.Logf("heap per UI session (1,000-node NodeDB, 120×40, Nodes tab, SSH client included): %d KiB, of which %d KiB are the renderer's two cell buffers",
		per/1024, cells/1024)
	if per > 3<<20 {
		t.Errorf("a UI session costs %d KiB of heap", per/1024)
	}
	for _, tt := range append(ts, first) {
		tt.send("q")
		tt.exit()
	}
}

// A UI left alone is reaped like any session, told why once the terminal
// is back to normal, and leaves nothing running.
func TestTUIReaped(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond,
		sessions: sessions.Config{IdleTimeout: time.Second, ReapInterval: 100 * time.Millisecond}})
	tt := g.openTUI(t, u, "tui -r base", 100, 30)
	tt.waitText(g.nodeIDs("base")[0])
	tt.exit()
	if s := tt.text(); !strings.Contains(s, "session closed: idle for") {
		t.Fatalf("the user was not told why; screen:\n%s", s)
	}
	eventually(t, 5*time.Second, "the record to go", func() bool { return g.mgr.Count() == 0 })
}

// The Rules tab works on the gateway's database: a rule made in the UI is
// saved, owned by the user's key, and audited.
func TestTUIRulesTab(t *testing.T) {
	op := newUser(t, "otto", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{op}})
	tt := g.openTUI(t, op, "tui -r base", 100, 30)
	tt.waitText("base ● connected")
	tt.send("7")
	tt.waitText("[Responders]", "no responders on base yet")
	tt.send("a", "\r", "ping", "\r", "\x1b[B", "\x1b[B", "\r", "pong {sender_short}", "\x13") // ctrl+s saves
	tt.waitText("rule #1 added", "pong {sender_short}")
	rules, err := g.db.Rules(context.Background(), "base")
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules %+v, %v", rules, err)
	}
	if r := rules[0]; r.Owner != gossh.FingerprintSHA256(op.signer.PublicKey()) || r.OwnerName != "otto" || r.Trigger != "ping" {
		t.Errorf("saved rule %+v", r)
	}
	entries, err := g.db.Audit(context.Background(), store.AuditQuery{})
	found := false
	for _, e := range entries {
		found = found || (e.Action == store.ActionRuleAdd && e.User == "otto")
	}
	if err != nil || !found {
		t.Errorf("no audited rule add by otto: %+v, %v", entries, err)
	}
	tt.send("q")
	if code := tt.exit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}
