package tui

import (
	"context"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

// screen is what fills the window: the lobby or a radio's tabs.
type screen int

const (
	screenLobby screen = iota
	screenMain
)

// tab is the index of one of the radio's tabs in Model.panes.
type tab int

// dirt marks parts of the screen that must be rendered again.
type dirt uint8

const (
	dHeader dirt = 1 << iota
	dTabs
	dBody
	dStatus
	dAll = dHeader | dTabs | dBody | dStatus
)

// frameDelay coalesces radio events: however many arrive, the screen is
// rebuilt about this often for them (see later).
const frameDelay = 50 * time.Millisecond

// frameBurst is how many frames radio events may draw at once after a
// quiet spell, before the rest wait for frameDelay. One is too few on a
// shared radio: a text that arrives just after some other change on
// screen (another text, our node in the header) would wait out that
// change's window, up to 50 ms, in every session that drew it (26 of
// 1,200 sightings in one meshload -marker run at 100 sessions).
const frameBurst = 2

// Smallest usable window.
const minWidth, minHeight = 40, 10

// Model is one session's UI. It is used through a pointer: View caches
// what it rendered, so that an unchanged screen costs nothing.
type Model struct {
	cfg     Config
	ctx     context.Context
	now     func() time.Time
	core    *backend.Backend
	caller  backend.Caller
	id      auth.Identity // the caller's identity, for display
	rec     Session
	keys    keys
	st      *styles
	prof    colorprofile.Profile
	noColor bool // NO_COLOR is set in the session's environment
	dark    bool
	loc     *time.Location
	w, h    int

	screen screen
	panes  []pane // the radio's tabs, in tab-bar order
	tab    tab    // the current one
	radio  Radio  // nil until the first bind
	name   string

	lobby  lobbyState
	nodes  nodesTab
	chat   chatTab
	pkts   packetsTab
	trace  traceTab
	mqtt   mqttTab
	device deviceTab
	rules  rulesTab
	pf     personal // the user's own filters, applied to this session's views

	dialog  *dialog
	help    bool
	helpTop int
	flash   flash
	notice  notice
	idle    idleState

	dirty, pending dirt
	framing        bool        // a frame timer is running
	framesLeft     int         // frames radio events may still draw before the timer ends
	frameView      *radio.View // the view being rendered, read once per frame
	renders        int         // frames built, for tests and measurements
	parts          struct {
		header, tabs, status string
		body                 []string // the body's lines, at most its height
	}
	inputAt time.Time // the user last pressed a key or clicked
	tabX    []int     // where each tab label ends on the tab bar
	out     tea.View
}

// flash is a one-line message about the user's last action.
type flash struct {
	text string
	bad  bool
}

// notice is the latest announcement to everyone on the radio.
type notice struct {
	text string
	at   time.Time
}

// New builds the UI for one session.
func New(cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Caller.Via == "" {
		cfg.Caller.Via = "tui"
	}
	m := &Model{
		cfg: cfg, ctx: cfg.Context, now: cfg.Now, core: cfg.Backend, caller: cfg.Caller, id: cfg.Caller.Identity,
		rec:  cfg.Caller.Session,
		prof: colorprofile.ANSI256, dark: true, loc: time.UTC,
		w: 80, h: 24, dirty: dAll,
	}
	m.st = newStyles(m.prof, m.dark)
	m.nodes.init()
	m.nodes.list.hide = m.nodeHidden
	m.chat.init()
	m.chat.allow = m.msgAllowed
	m.pkts.init(m.rec)
	m.trace.init()
	m.panes = m.tabs()
	m.keys = newKeys(len(m.panes))
	if cfg.Radio != nil {
		m.attach(cfg.Radio)
	} else {
		m.screen = screenLobby
		m.lobby.refresh(cfg.Radios)
	}
	return m
}

// Init asks the terminal for its background and starts the clocks the
// screen needs: the idle countdown and, in the lobby, its refresh.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor, m.checkIdle()}
	if m.screen == screenLobby {
		cmds = append(cmds, m.pollLobby())
	}
	return tea.Batch(cmds...)
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.invalidate()
	case tea.ColorProfileMsg:
		m.prof = msg.Profile
		m.restyle()
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.restyle()
	case tea.EnvMsg:
		env := uv.Environ(msg)
		// NO_COLOR (no-color.org) asks for no colour at all, whatever the
		// terminal could do; bold, underline and reverse still mark state.
		if env.Getenv("NO_COLOR") != "" && !m.noColor {
			m.noColor = true
			m.restyle()
		}
		if tz := env.Getenv("TZ"); tz != "" {
			if loc, err := time.LoadLocation(strings.TrimPrefix(tz, ":")); err == nil {
				m.loc = loc
				m.invalidate()
			}
		}
	case tea.KeyPressMsg:
		return m, m.input(func() tea.Cmd { return m.onKey(msg) })
	case tea.PasteMsg:
		return m, m.input(func() tea.Cmd { return m.onPaste(msg) })
	case tea.MouseWheelMsg:
		return m, m.input(func() tea.Cmd { return m.onWheel(msg.Mouse()) })
	case tea.MouseClickMsg:
		return m, m.input(func() tea.Cmd { return m.onClick(msg.Mouse()) })
	case eventsMsg:
		return m, m.onEvents(msg)
	case frameMsg:
		return m, m.onFrame()
	case idleMsg:
		m.idle.pending = false
		return m, m.checkIdle()
	case lobbyTickMsg:
		return m, m.onLobbyTick(msg)
	case traceTickMsg, tracePosMsg, sweepMsg:
		return m, m.onTrace(msg)
	case traceDoneMsg, sweepDoneMsg:
		m.dirty |= dHeader // the core's hold on the radio ended: one user fewer
		return m, m.onTrace(msg)
	case sentMsg:
		m.dirty |= dHeader
		return m, m.onSent(msg)
	case adminDoneMsg:
		m.dirty |= dHeader
		m.onAdminDone(msg)
	case callMsg:
		m.onCall(msg)
	case formSavedMsg:
		m.onFormSaved(msg)
	case ruleTestedMsg:
		m.onRuleTested(msg)
	case beaconSentMsg:
		m.dirty |= dHeader
		m.onBeaconSent(msg)
	case historyMsg:
		m.onHistory(msg)
	case telemetryMsg:
		m.onTelemetry(msg)
	case mapTraceMsg:
		m.onMapTrace(msg)
	case thawMsg:
		return m, m.onThaw()
	case agesMsg:
		return m, m.onAges()
	case FlashMsg:
		m.setFlash(msg.Text, msg.Bad)
	}
	return m, nil
}

// input runs a handler for user input. Input shows the latest state at
// once, without waiting for the frame timer, and clears the last flash.
func (m *Model) input(f func() tea.Cmd) tea.Cmd {
	m.dirty |= m.pending
	m.pending = 0
	if m.flash.text != "" {
		m.flash = flash{}
		m.dirty |= dStatus
	}
	if m.idle.warn {
		m.idle.warn = false // the key press reset the idle clock
		m.dirty |= dStatus
	}
	m.inputAt = m.now()
	cmd := f()
	if tick := m.ageTick(); tick != nil {
		return tea.Batch(cmd, tick)
	}
	return cmd
}

// later schedules a redraw of the parts radio events changed. This is the
// only place radio events turn into redraws. After a quiet spell the first
// frameBurst changes are drawn at once (leading edge), and the first opens
// a window of frameDelay; later changes inside the window wait for its end
// and share one frame, which opens the next window with nothing left to
// draw at once. So a packet after silence costs no delay, and a busy radio
// costs each session one frame per frameDelay, plus frameBurst-1 after
// each quiet spell.
func (m *Model) later(d dirt) tea.Cmd {
	if d == 0 {
		return nil
	}
	if m.framing && m.framesLeft == 0 {
		m.pending |= d
		return nil
	}
	m.dirty |= d
	if m.framing {
		m.framesLeft--
		return nil
	}
	m.framing = true
	m.framesLeft = frameBurst - 1
	return after(m.ctx, frameDelay, frameMsg{})
}

// onFrame ends a frame window: what waited is drawn now and opens the
// next window, which draws nothing more at once; a quiet window ends
// without a timer and restores the burst.
func (m *Model) onFrame() tea.Cmd {
	if m.pending == 0 {
		m.framing = false
		return nil
	}
	m.dirty |= m.pending
	m.pending = 0
	m.framesLeft = 0
	return after(m.ctx, frameDelay, frameMsg{})
}

// invalidate forgets everything rendered (new size, style or zone).
func (m *Model) invalidate() {
	m.dirty = dAll
	m.nodes.rows = nil
	m.pkts.rows = nil
	m.chat.rendered = nil
}

func (m *Model) restyle() {
	prof := m.prof
	if m.noColor {
		prof = min(prof, colorprofile.ASCII)
	}
	m.st = newStyles(prof, m.dark)
	m.invalidate()
}

func (m *Model) setFlash(text string, bad bool) {
	m.flash = flash{text: text, bad: bad}
	m.dirty |= dStatus
}

// allowed asks the core whether the user may perform op, flashing the
// core's reason if not. The core decides again when the operation runs;
// this only saves the user a form or a dialog that would be refused.
func (m *Model) allowed(op backend.Op) bool {
	if d := backend.Denial(m.id, op); d != "" {
		m.setFlash(d, true)
		return false
	}
	return true
}

// may is allowed for an operation on something owned by owner.
func (m *Model) may(op backend.Op, owner, ownerName string) bool {
	if err := backend.Allowed(m.id, op, owner, clean(ownerName)); err != nil {
		m.setFlash(err.Error(), true)
		return false
	}
	return true
}

// callMsg is the outcome of an operation the core ran for the UI.
type callMsg struct {
	ok  string // the flash on success
	err error  // the core's refusal or failure, shown as it is
}

// call runs op in the core off the program's goroutine (it may wait on
// the radio or the database) and flashes its outcome: ok on success, the
// core's own words on failure.
func (m *Model) call(op func(ctx context.Context) (ok string, err error)) tea.Cmd {
	ctx := m.ctx
	return func() tea.Msg {
		ok, err := op(ctx)
		return callMsg{ok: ok, err: err}
	}
}

func (m *Model) onCall(msg callMsg) {
	if msg.err != nil {
		m.setFlash(msg.err.Error(), true)
		return
	}
	if msg.ok != "" {
		m.setFlash(msg.ok, false)
	}
}

// view returns the bound radio's shared view, or an empty one. During a
// render it is the one view the whole frame is drawn from.
func (m *Model) view() *radio.View {
	if m.frameView != nil {
		return m.frameView
	}
	if m.radio == nil {
		return &radio.View{Radio: &meshtastic.Snapshot{}, Nodes: map[uint32]*meshtastic.Node{}}
	}
	return m.radio.View()
}
