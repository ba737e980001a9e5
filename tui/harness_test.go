package tui

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// frozen is the clock of golden tests: every timestamp on screen is
// derived from it, so screens are the same on every run. It lies in the
// past, so real-time pacing in the broker never waits on it.
func frozen() time.Time { return time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC) }

// fixture is a gateway without SSH: simulated radios behind real brokers,
// a session manager, and the core over them.
type fixture struct {
	reg  *radio.Registry
	mgr  *sessions.Manager
	core *backend.Backend
	sims map[string]*sim.Radio
	now  func() time.Time
	db   *store.Store // nil unless fixtureOpts.store
}

type fixtureOpts struct {
	radios  []string // default: "base"
	nodes   int      // per radio; default 15
	traffic time.Duration
	frozen  bool // use the frozen clock
	idle    time.Duration
	pace    time.Duration // between traceroutes; default 100 ms
	store   bool          // open a database (rules, filters, beacons)
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	if len(o.radios) == 0 {
		o.radios = []string{"base"}
	}
	if o.nodes == 0 {
		o.nodes = 15
	}
	now := time.Now
	if o.frozen {
		now = frozen
	}
	if o.pace == 0 {
		o.pace = 100 * time.Millisecond
	}
	fx := &fixture{sims: map[string]*sim.Radio{}, now: now}
	if o.store {
		db, err := store.Open(filepath.Join(t.TempDir(), "meshgate.db"), store.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() }) // after the radios stop (cleanups run last first)
		fx.db = db
	}
	ctx, cancel := context.WithCancel(context.Background())
	fx.reg = radio.NewRegistry(ctx, radio.Config{
		Grace: 100 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		TracePace: o.pace, TextPace: 20 * time.Millisecond, Now: now,
		Client: meshtastic.Options{WakeDelay: time.Millisecond}, Store: fx.db,
	}, nil)
	var wg sync.WaitGroup
	for i, name := range o.radios {
		r, err := sim.New(sim.Config{Seed: int64(i + 1), Nodes: o.nodes, TrafficInterval: o.traffic,
			AckDelay: 10 * time.Millisecond, TracerouteDelay: 10 * time.Millisecond, RebootDowntime: 100 * time.Millisecond,
			AdminRebootDelay: time.Hour, Limits: sim.RateLimits{Text: -1, Traceroute: -1, Position: -1}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Serve(ctx, ln) }()
		fx.sims[name] = r
		if _, err := fx.reg.Add(name, ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
	}
	fx.mgr = sessions.NewManager(sessions.Config{Now: now, IdleTimeout: o.idle, MaxSessions: 5000})
	fx.core = backend.New(backend.Deps{Radios: fx.reg, Sessions: fx.mgr, Store: fx.db, Now: now})
	t.Cleanup(func() {
		cancel()
		fx.reg.Wait()
		wg.Wait()
	})
	return fx
}

func (fx *fixture) broker(t testing.TB, name string) *radio.Broker {
	t.Helper()
	b, err := fx.reg.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ui is one running session UI under teatest.
type ui struct {
	t      testing.TB
	fx     *fixture
	tm     *teatest.TestModel
	rec    *sessions.Session
	link   *Link
	caller backend.Caller
}

type uiOpts struct {
	role    auth.Role
	name    string
	radios  []string // the key's allowed radios; nil: all
	bind    string   // start bound to this radio (tui -r)
	w, h    int
	profile colorprofile.Profile
	now     func() time.Time // the UI's clock; default the fixture's
}

// testModel lets a test look inside the running model from the program's
// own goroutine, which is the only one allowed to touch it.
type testModel struct{ *Model }

type probe struct {
	f    func(*Model)
	done chan struct{}
}

func (tm testModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if p, ok := msg.(probe); ok {
		p.f(tm.Model)
		close(p.done)
		return tm, nil
	}
	_, cmd := tm.Model.Update(msg)
	return tm, cmd
}

func startUI(t testing.TB, fx *fixture, o uiOpts) *ui {
	t.Helper()
	if o.role == 0 {
		o.role = auth.Operator
	}
	if o.name == "" {
		o.name = "alice"
	}
	if o.w == 0 {
		o.w, o.h = 80, 24
	}
	if o.profile == 0 {
		o.profile = colorprofile.ANSI256
	}
	id := auth.Identity{Name: o.name, Role: o.role, Radios: o.radios, Fingerprint: "SHA256:test-" + o.name}
	rec, err := fx.mgr.Open(sessions.User{Name: o.name, Role: o.role.String(), Kind: sessions.TUI})
	if err != nil {
		t.Fatal(err)
	}
	caller := backend.Caller{Identity: id, Session: rec, Via: "tui"}
	link := NewLink(fx.core, caller)
	ctx, cancel := context.WithCancel(context.Background())
	if o.now == nil {
		o.now = fx.now
	}
	cfg := Config{Context: ctx, Backend: fx.core, Caller: caller, Radios: link, Now: o.now,
		IdleTimeout: fx.mgr.Config().IdleTimeout}
	if o.bind != "" {
		r, err := link.Bind(o.bind)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Radio = r
	}
	tm := teatest.NewTestModel(t, testModel{New(cfg)}, teatest.WithInitialTermSize(o.w, o.h),
		teatest.WithProgramOptions(tea.WithColorProfile(o.profile), tea.WithFPS(uiFPSForTests)))
	done := make(chan struct{})
	go func() { defer close(done); link.Run(ctx, tm.Send) }()
	u := &ui{t: t, fx: fx, tm: tm, rec: rec, link: link, caller: caller}
	t.Cleanup(func() {
		cancel()
		<-done
		_ = tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		rec.Close()
	})
	return u
}

const uiFPSForTests = 60

// radio is the name of the radio the UI shows.
func (u *ui) radio() string {
	var name string
	u.do(func(m *Model) { name = m.name })
	return name
}

// do runs f inside the program and waits for it.
func (u *ui) do(f func(*Model)) {
	u.t.Helper()
	p := probe{f: f, done: make(chan struct{})}
	u.tm.Send(p)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		u.t.Fatal("the program did not answer")
	}
}

// screen is the current screen as plain text, with every pending change
// applied (as the next frame would).
func (u *ui) screen() string {
	u.t.Helper()
	var s string
	u.do(func(m *Model) {
		m.dirty |= m.pending
		s = ansi.Strip(m.View().Content)
	})
	return s
}

// styled is the current screen with its escape sequences.
func (u *ui) styled() string {
	var s string
	u.do(func(m *Model) {
		m.dirty |= m.pending
		s = m.View().Content
	})
	return s
}

// waitFor polls the screen until cond holds.
func (u *ui) waitFor(what string, cond func(screen string) bool) string {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := u.screen()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (u *ui) waitText(text string) string {
	u.t.Helper()
	return u.waitFor(strings.TrimSpace(text), func(s string) bool { return strings.Contains(s, text) })
}

// key presses one key, named as Bubble Tea names it ("down", "ctrl+c", "q").
func (u *ui) key(names ...string) {
	for _, n := range names {
		u.tm.Send(keyMsg(n))
	}
}

// typeText types text.
func (u *ui) typeText(s string) { u.tm.Type(s) }

// keyMsg builds the key press Bubble Tea would deliver for name.
func keyMsg(name string) tea.KeyPressMsg {
	special := map[string]tea.Key{
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown},
		"left": {Code: tea.KeyLeft}, "right": {Code: tea.KeyRight}, "pgup": {Code: tea.KeyPgUp},
		"pgdown": {Code: tea.KeyPgDown}, "home": {Code: tea.KeyHome}, "end": {Code: tea.KeyEnd},
		"space": {Code: tea.KeySpace, Text: " "}, "backspace": {Code: tea.KeyBackspace},
		"ctrl+c": {Code: 'c', Mod: tea.ModCtrl}, "ctrl+s": {Code: 's', Mod: tea.ModCtrl},
	}
	if k, ok := special[name]; ok {
		return tea.KeyPressMsg(k)
	}
	r := []rune(name)
	return tea.KeyPressMsg{Code: r[0], Text: name}
}

// connected waits until the UI shows the bound radio as connected.
func (u *ui) connected() string {
	u.t.Helper()
	return u.waitFor("the radio to connect", func(s string) bool {
		return strings.Contains(s, "● connected") && !strings.Contains(s, " 0 of 0 nodes")
	})
}
