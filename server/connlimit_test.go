package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// dialFrom logs in as u from the local address ip (any 127.0.0.0/8
// address is the loopback on Linux), opening no session: ssh -N.
func (g *gateway) dialFrom(t testing.TB, u *user, ip string) (*gossh.Client, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := gossh.NewClientConn(c, g.addr, &gossh.ClientConfig{User: "mesh",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return gossh.NewClient(sc, chans, reqs), nil
}

// closed reports, on the returned channel, when the server ends c.
func closed(c *gossh.Client) <-chan struct{} {
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	return done
}

// rawConn opens a TCP connection and tells whether the server let it in:
// an admitted connection gets the server's version line, a refused one is
// closed without a byte.
func rawConn(t *testing.T, addr string) (net.Conn, bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	switch {
	case err == nil && strings.HasPrefix(string(buf[:n]), "SSH-2.0-meshgate"):
		_ = c.SetReadDeadline(time.Time{})
		return c, true
	case err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset")):
		c.Close()
		return nil, false
	}
	t.Fatalf("neither a banner nor a refusal: %q %v", buf[:n], err)
	return nil, false
}

// Audit finding: authenticated connections without a session kept their
// pre-auth slot for ever, so 32 `ssh -N` logins refused everyone else.
// The slot is freed at authentication, however many such connections one
// holds, and the table lists and closes them.
func TestAuthenticatedConnectionsDoNotHoldPreAuthSlots(t *testing.T) {
	goroutineBaseline(t)
	var users []*user
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		users = append(users, newUser(t, name, ""))
	}
	fresh := newUser(t, "fresh", "")
	g := startGateway(t, gwOptions{users: append(users, fresh)})
	var held []*gossh.Client
	for _, u := range users {
		for range 8 { // 40 connections, more than the 32 pre-auth slots
			c, err := g.dial(t, u)
			if err != nil {
				t.Fatalf("connection %d: %v", len(held)+1, err)
			}
			held = append(held, c)
		}
	}
	eventually(t, 5*time.Second, "pre-auth slots to be freed", func() bool { return g.srv.Stats().Unauthenticated == 0 })
	if st := g.srv.Stats(); st.Authenticated != 40 || st.RefusedPreAuth != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if r := g.run(t, fresh, "whoami"); r.code != 0 || !strings.Contains(r.stdout, "fresh") {
		t.Fatalf("a fresh user beside 40 idle connections: %+v", r)
	}
	var list []ConnInfo
	eventually(t, 5*time.Second, "the fresh user's connection to go", func() bool {
		list = g.srv.Connections()
		return len(list) == 40
	})
	seen := map[string]bool{}
	for _, ci := range list {
		if ci.ID == "" || seen[ci.ID] || ci.Sessions != 0 || ci.Since.IsZero() || !strings.HasPrefix(ci.Remote, "127.0.0.1:") {
			t.Fatalf("bad entry %+v", ci)
		}
		seen[ci.ID] = true
	}
	if first := list[0]; first.User != "a" || first.Fingerprint != gossh.FingerprintSHA256(users[0].signer.PublicKey()) {
		t.Fatalf("oldest connection: %+v", first)
	}
	// Kicking one closes it; an unknown ID closes nothing.
	gone := closed(held[0]) // the oldest
	if !g.srv.CloseConnection(list[0].ID) {
		t.Fatal("CloseConnection of a listed connection returned false")
	}
	if g.srv.CloseConnection(list[0].ID) || g.srv.CloseConnection("nope") {
		t.Fatal("CloseConnection of no connection returned true")
	}
	eventually(t, 5*time.Second, "the table to shrink", func() bool { return len(g.srv.Connections()) == 39 })
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the closed connection is still open at the client")
	}
	for _, c := range held {
		c.Close()
	}
	eventually(t, 5*time.Second, "the table to empty", func() bool { return g.srv.Stats().Authenticated == 0 })
	g.stop(t)
}

// Audit finding: a connection with no session (ssh -N, or one whose
// sessions all ended) was never timed out. It is closed after the grace;
// one running a session is not.
func TestConnectionWithoutSessionClosedAfterGrace(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, traffic: 50 * time.Millisecond,
		server: Config{NoSessionGrace: 2 * time.Second}})
	idle, err := g.dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := g.dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	idleGone, busyGone := closed(idle), closed(busy)
	s, err := busy.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	if err := s.Start("packets -r base --follow --limit 0"); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	eventually(t, 10*time.Second, "the session to run", func() bool { return g.mgr.Count() == 1 })
	select {
	case <-idleGone:
	case <-time.After(20 * time.Second):
		t.Fatal("a connection without a session was not closed")
	}
	// busy logged in after idle and has been open at least as long.
	select {
	case <-busyGone:
		t.Fatal("a connection running a session was closed")
	default:
	}
	if ci := g.srv.Connections(); len(ci) != 1 || ci[0].Sessions != 1 {
		t.Fatalf("table: %+v", ci)
	}
	// Its session ends; the connection stays open, with nothing running:
	// it goes the same way.
	_ = s.Close()
	select {
	case <-busyGone:
	case <-time.After(20 * time.Second):
		t.Fatal("a connection whose session ended was not closed")
	}
	if st := g.srv.Stats(); st.ClosedNoSession != 2 || st.Authenticated != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if !strings.Contains(g.logs.String(), "reason=\"no session for 2s\"") {
		t.Fatal("the log does not say why the connections were closed")
	}
	// A session that opens in time keeps the connection: run one at once.
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("whoami: %+v", r)
	}
	g.stop(t)
}

// One key gets at most MaxConnectionsPerKey authenticated connections and
// the gateway MaxConnections; the ones beyond are refused at login, with
// the reason logged, and do not count against their source as failures.
func TestConnectionsPerKeyCapped(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	other := newUser(t, "other", "")
	third := newUser(t, "third", "")
	g := startGateway(t, gwOptions{users: []*user{u, other, third},
		server: Config{MaxConnectionsPerKey: 3, MaxConnections: 5}})
	var held []*gossh.Client
	for range 3 {
		c, err := g.dial(t, u)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for range 4 { // more than it takes to earn a penalty, were these failures
		var banner string
		c, err := gossh.Dial("tcp", g.addr, &gossh.ClientConfig{User: "mesh",
			Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(),
			BannerCallback: func(m string) error { banner += m; return nil }, Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
			t.Fatal("a fourth connection of one key got in")
		}
		if banner != "meshgate: too many connections for this key (3); close one and try again\r\n" {
			t.Fatalf("the client was not told why: %q", banner)
		}
	}
	if !strings.Contains(g.logs.String(), `limit=connections_per_key reason="too many connections for this key (3)"`) {
		t.Fatal("the refusal's reason is not logged")
	}
	for range 2 {
		c, err := g.dial(t, other)
		if err != nil {
			t.Fatalf("another key: %v", err)
		}
		held = append(held, c)
	}
	if c, err := g.dial(t, third); err == nil {
		c.Close()
		t.Fatal("a sixth connection got in")
	}
	st := g.srv.Stats()
	if st.Refused[RefusedConnectionsPerKey] != 4 || st.Refused[RefusedConnections] != 1 || st.RefusedPreAuth != 0 || st.Authenticated != 5 {
		t.Fatalf("stats: %+v", st)
	}
	// A connection that closes makes room again.
	held[0].Close()
	eventually(t, 5*time.Second, "a slot to free", func() bool { return g.srv.Stats().Authenticated == 4 })
	c, err := g.dial(t, u)
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	held = append(held, c)
	for _, c := range held {
		c.Close()
	}
	g.stop(t)
}

// seqRand returns the values given, in order, and fails the test when it
// is asked for more.
type seqRand struct {
	t    *testing.T
	mu   sync.Mutex
	vals []int
	used int
}

func (r *seqRand) intN(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n != 100 {
		r.t.Errorf("rand asked for [0,%d)", n)
	}
	if r.used >= len(r.vals) {
		r.t.Errorf("rand asked once too many")
		return 0
	}
	r.used++
	return r.vals[r.used-1]
}

// Audit finding: the pre-auth cap was first come, first served. Beyond
// StartupsBegin unauthenticated connections a new one is dropped with a
// probability rising from StartupsRate % to 100 % at the cap (sshd's
// MaxStartups 2:50:6 here), decided by the injected random source.
func TestRandomEarlyDrop(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	// With n authenticating the drop probability is 50 + 50(n-2)/4 %:
	// 50 at 2, 62 at 3, 75 at 4, 87 at 5; a draw below it drops.
	r := &seqRand{t: t, vals: []int{50, 62, 74, 75, 86, 87}}
	// StallIdle off: the silent connections held here must keep their
	// places however slowly the test runs.
	g := startGateway(t, gwOptions{users: []*user{u}, server: Config{MaxUnauthenticated: 6, MaxUnauthPerSource: 100,
		StartupsBegin: 2, StartupsRate: 50, Rand: r.intN, HandshakeTimeout: time.Minute, StallIdle: -1}})
	var got []bool
	var held []net.Conn
	for range 9 {
		c, ok := rawConn(t, g.addr)
		got = append(got, ok)
		if ok {
			held = append(held, c)
		}
	}
	// 0,1 below begin; 2 (p 50, drew 50) in; 3 (62, 62) in; 4 (75, 74)
	// dropped; 4 again (75, 75) in; 5 (87, 86) dropped; 5 (87, 87) in;
	// 6 is the cap: dropped without a draw.
	want := []bool{true, true, true, true, false, true, false, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("admitted %v, want %v", got, want)
		}
	}
	if r.used != len(r.vals) {
		t.Fatalf("%d draws, want %d", r.used, len(r.vals))
	}
	st := g.srv.Stats()
	if st.Refused[RefusedStartupsRandom] != 2 || st.Refused[RefusedStartupsFull] != 1 || st.RefusedPreAuth != 3 || st.Unauthenticated != 6 {
		t.Fatalf("stats: %+v", st)
	}
	if !strings.Contains(g.logs.String(), "limit=startups_random") {
		t.Fatal("random drops are not logged")
	}
	for _, c := range held {
		c.Close()
	}
	eventually(t, 5*time.Second, "slots to free", func() bool { return g.srv.lim.pending() == 0 })
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("after the flood: %+v", r)
	}
	g.stop(t)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Audit finding: a source could fail logins without end. Each failed
// login costs its source 5 s, doubling; past three times that the source
// is refused until the penalty runs out (sshd's PerSourcePenalties). Other
// sources are not affected, and a login that succeeds clears nothing.
func TestPerSourcePenalty(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	stranger := newUser(t, "stranger", "")
	stranger.listed = false
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := startGateway(t, gwOptions{users: []*user{u, stranger}, server: Config{Now: clock.Now}})
	const bad, good = "127.0.0.2", "127.0.0.3"
	fail := func(from string) {
		t.Helper()
		if c, err := g.dialFrom(t, stranger, from); err == nil {
			c.Close()
			t.Fatal("an unknown key got in")
		}
	}
	refused := func() uint64 { return g.srv.Stats().Refused[RefusedPenalty] }
	// Penalty 5 s, then 15 s: not yet refused.
	fail(bad)
	fail(bad)
	eventually(t, 5*time.Second, "the failures to count", func() bool {
		return strings.Count(g.logs.String(), "auth fail") >= 2
	})
	c, err := g.dialFrom(t, u, bad)
	if err != nil {
		t.Fatalf("two failures refused their source: %v", err)
	}
	c.Close()
	// Third failure: 35 s, and the source is refused — even for a good key.
	fail(bad)
	eventually(t, 5*time.Second, "the source to be penalised", func() bool {
		return strings.Contains(g.logs.String(), `msg="source penalised" remote=127.0.0.2`)
	})
	if c, err := g.dialFrom(t, u, bad); err == nil {
		c.Close()
		t.Fatal("a penalised source got in")
	}
	if refused() != 1 || !strings.Contains(g.logs.String(), "limit=penalty") {
		t.Fatalf("refusal not counted or logged: %d", refused())
	}
	// Another source is not affected, and its login clears nothing.
	if c, err := g.dialFrom(t, u, good); err != nil {
		t.Fatalf("another source: %v", err)
	} else {
		c.Close()
	}
	if c, err := g.dialFrom(t, u, bad); err == nil {
		c.Close()
		t.Fatal("another source's login cleared the penalty")
	}
	// The penalty runs out.
	clock.add(36 * time.Second)
	c, err = g.dialFrom(t, u, bad)
	if err != nil {
		t.Fatalf("after the penalty ran out: %v", err)
	}
	c.Close()
	// The source is remembered: one more failure (40 s) refuses it at once.
	fail(bad)
	eventually(t, 5*time.Second, "the source to be penalised again", func() bool {
		return strings.Count(g.logs.String(), `msg="source penalised" remote=127.0.0.2`) == 2
	})
	if c, err := g.dialFrom(t, u, bad); err == nil {
		c.Close()
		t.Fatal("a repeat offender got in")
	}
	if refused() != 3 {
		t.Fatalf("%d penalty refusals, want 3", refused())
	}
	g.stop(t)
}

// Connections refused by a limit, or that never try to log in, cost their
// source nothing.
func TestPenaltyOnlyForFailedLogins(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, server: Config{MaxUnauthPerSource: 1}})
	for range 5 {
		c, ok := rawConn(t, g.addr) // connects, says nothing, leaves
		if !ok {
			t.Fatal("refused")
		}
		c.Close()
		eventually(t, 5*time.Second, "the slot to free", func() bool { return g.srv.lim.pending() == 0 })
	}
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("after connections that never logged in: %+v", r)
	}
	if n := g.srv.Stats().Refused[RefusedPenalty]; n != 0 {
		t.Fatalf("%d penalty refusals", n)
	}
}

// Audit finding: with PROXY protocol on, the header was read before the
// pre-auth limit was checked, so clients that sent nothing held
// connections outside every limit while they were waited for. The total
// is now checked first and the header read holds a slot.
func TestProxyHeaderReadAfterLimit(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, server: Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		// A header wait far longer than the test: a silent client is
		// still being waited for when the next one comes.
		ProxyHeaderTimeout: time.Hour, MaxUnauthenticated: 2, MaxUnauthPerSource: 2, StallIdle: -1}})
	var silent []net.Conn
	defer func() { closeAll(silent) }()
	for range 2 {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	eventually(t, 10*time.Second, "silent connections to hold slots while their header is awaited",
		func() bool { return g.srv.lim.pending() == 2 })
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 51000 2222\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Refused unread: closed, or reset for the header it did not read.
	if n, err := c.Read(make([]byte, 64)); err != io.EOF && (err == nil || !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("a third connection beyond the cap: read %d, %v", n, err)
	}
	c.Close()
	if st := g.srv.Stats(); st.Refused[RefusedStartupsFull] != 1 {
		t.Fatalf("stats: %+v", st)
	}
	closeAll(silent)
	eventually(t, 5*time.Second, "slots to free", func() bool { return g.srv.lim.pending() == 0 })
	out, err := dialVia(t, g.addr, "PROXY TCP4 203.0.113.7 127.0.0.1 51000 2222\r\n", u, "whoami")
	if err != nil || !strings.Contains(out, "203.0.113.7:51000") {
		t.Fatalf("a proxied login after the flood: %q %v", out, err)
	}
	g.stop(t)
}

// meshchaos abuse: slow connections from hundreds of addresses, each
// trickling a byte every few seconds, kept every pre-auth place taken, so
// the team's logins were dropped for as long as it lasted (60 of 60
// commands failed). A new connection now takes the place of the one that
// has been silent longest, once it has been silent for StallIdle; the
// stalled one counts as a failed login for its source. Connections that
// are still talking keep their places.
func TestStalledHandshakesMakeRoom(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, server: Config{MaxUnauthenticated: 4, StartupsBegin: 4,
		StallIdle: 300 * time.Millisecond, StallAge: time.Hour, HandshakeTimeout: time.Minute}})
	var slow []net.Conn
	defer func() { closeAll(slow) }()
	for i := range 4 { // one per address, as a spread-out flood
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.3.%d", i+1))}}
		c, err := d.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}
	eventually(t, 10*time.Second, "the slow connections to fill the table", func() bool { return g.srv.lim.pending() == 4 })
	// Two keep talking (a byte every 100 ms); two go silent.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range slow[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte{"SSH-2.0-"[i%8]}); err != nil {
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(600 * time.Millisecond)
	if r := g.run(t, u, "whoami"); r.code != 0 {
		t.Fatalf("login with the table full of stalled connections: %+v", r)
	}
	if n := g.srv.Stats().Refused[RefusedStalled]; n != 1 {
		t.Fatalf("stalled connections closed: %d, want 1", n)
	}
	// One silent connection made room; the talking ones kept their places.
	closed := 0
	for i, c := range slow {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 256)
		var err error
		for err == nil {
			_, err = c.Read(buf)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
			if i < 2 {
				t.Errorf("a talking connection was closed: %v", err)
			}
		}
	}
	if closed != 1 {
		t.Errorf("%d connections closed, want 1", closed)
	}
	g.stop(t)
}

// meshchaos abuse, the other half: logins by unknown keys from a thousand
// addresses keep the table full of connections that are all making
// progress, so none is stalled, and the team's logins were dropped at
// random. An address that logged in lately may go KnownSourceReserve
// places beyond the table; a new address still may not.
func TestKnownSourcesKeepTheirPlace(t *testing.T) {
	goroutineBaseline(t)
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u}, server: Config{MaxUnauthenticated: 4, StartupsBegin: 4,
		StallIdle: -1, KnownSourceReserve: 2, HandshakeTimeout: time.Minute}})
	c, err := g.dialFrom(t, u, "127.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	var strangers []net.Conn
	defer func() { closeAll(strangers) }()
	for i := range 4 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.4.%d", i+1))}}
		sc, err := d.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		strangers = append(strangers, sc)
	}
	eventually(t, 10*time.Second, "strangers to fill the table", func() bool { return g.srv.lim.pending() == 4 })
	if c, err = g.dialFrom(t, u, "127.0.0.5"); err != nil {
		t.Fatalf("a login from an address that logged in before, with the table full: %v", err)
	}
	c.Close()
	if _, err := g.dialFrom(t, u, "127.0.0.6"); err == nil {
		t.Fatal("a login from a new address got past a full table")
	}
	g.stop(t)
}

// The penalty arithmetic on its own: doubling, the threshold, the cap,
// forgetting, and a full table.
func TestPenaltyBox(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	pb := newPenaltyBox(5*time.Second, time.Minute, 1, nil)
	if d := pb.strike(a, t0); d != 0 {
		t.Fatalf("first failure refuses for %s", d)
	}
	if d := pb.strike(a, t0); d != 0 {
		t.Fatalf("second failure refuses for %s", d)
	}
	if d := pb.strike(a, t0); d != 35*time.Second {
		t.Fatalf("third failure refuses for %s, want 35s", d)
	}
	if d := pb.refused(a, t0.Add(34*time.Second)); d != time.Second {
		t.Fatalf("refused for %s at 34s", d)
	}
	if d := pb.strike(a, t0); d != time.Minute {
		t.Fatalf("capped penalty %s", d)
	}
	if d := pb.strike(b, t0); d != 0 || len(pb.bySource) != 1 {
		t.Fatal("a full table took another source")
	}
	if d := pb.refused(a, t0.Add(time.Minute)); d != 0 {
		t.Fatalf("still refused after the penalty: %s", d)
	}
	// Quiet for the cap after the penalty: forgotten, and the table has room.
	later := t0.Add(3 * time.Minute)
	if d := pb.strike(b, later); d != 0 || len(pb.bySource) != 1 || pb.bySource[b] == nil {
		t.Fatal("an old entry was not swept")
	}
	if d := pb.strike(a, later); d != 0 {
		t.Fatal("a forgotten source's first failure refused it")
	}
	off := newPenaltyBox(-1, time.Minute, 10, nil)
	for range 10 {
		if off.strike(a, t0) != 0 {
			t.Fatal("penalties off, yet refused")
		}
	}
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}
