package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2/bubbletea"

	"github.com/meshgate/meshgate/tui"
)

// uiFPS caps how often a session's screen is written. Bubble Tea writes
// only on its renderer ticks, so whatever the model shows waits up to one
// tick: at 60 FPS (Bubble Tea's default) a packet's frame and the first
// frame after login leave within 17 ms. At 30 FPS every frame waited up
// to 33 ms, and the UI's median packet-to-screen was 1.3–1.7× a trivial
// program's; at 60 it is 0.9–1.4× (docs/reliability.md). Ticks with
// nothing new cost a string comparison each: 200 idle sessions took 9 %
// of one core at 60 FPS against 7 % at 30. Radio events are coalesced
// further inside the model (two frames at once after a quiet spell, then
// one per 50 ms), so a busy radio does not draw more often.
const uiFPS = 60

// runTUI runs the terminal UI for a session with a PTY, in the session's
// handler goroutine. radioName, when set, binds the session to that radio
// without showing the lobby.
//
// It does what bubbletea.MiddlewareWithProgramHandler does (window
// changes go to the program, the session's end quits it) plus what that
// middleware cannot: a clamped window size, input stamping the idle clock,
// and the radio link's forwarding goroutine. Every goroutine started here
// ends before it returns.
func (e *execEnv) runTUI(radioName string) int {
	s := e.s
	pty, winch, _ := e.sess.Pty()
	w, h := s.clampWindow(pty.Window.Width, pty.Window.Height)
	caller := e.caller("tui")
	link := &loggedLink{Link: tui.NewLink(s.core, caller), e: e}
	var bound tui.Radio
	if radioName != "" {
		// The core resolved the name (an address an admin dialled comes in
		// its normal form) and decides again here.
		r, err := link.Bind(radioName)
		if err != nil {
			link.Close()
			fmt.Fprintf(e.errOut, "meshgate tui: %v\n", err)
			return exitDenied
		}
		bound = r
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	model := tui.New(tui.Config{
		Context: ctx, Backend: s.core, Caller: caller, Radios: link, Radio: bound,
		IdleTimeout: s.sessions.Config().IdleTimeout,
	})
	// The program reads the session through a gate that bounds pastes
	// and the input rate (see inputGate); a paste it cut is announced
	// once the model has the kept part.
	var gate *inputGate
	cut := make(chan struct{}, 1)
	filter := e.filter
	opts := bubbletea.MakeOptions(e.sess)
	if e.sess.EmulatedPty() { // always, on this server: the program reads the channel
		gate = newInputGate(ctx, e.sess, uiInput, nil)
		opts = append(opts, tea.WithInput(gate))
		filter = func(m tea.Model, msg tea.Msg) tea.Msg {
			if _, ok := msg.(tea.PasteMsg); ok && gate.takeCut() {
				select {
				case cut <- struct{}{}:
				default:
				}
			}
			return e.filter(m, msg)
		}
	}
	opts = append(opts,
		tea.WithWindowSize(w, h), // MakeOptions passed the size unclamped
		tea.WithFilter(filter),
		tea.WithoutSignalHandler(), // signals belong to the server, not to each session
		tea.WithFPS(uiFPS),
		tea.WithContext(ctx),
	)
	p := tea.NewProgram(model, opts...)

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); link.Run(ctx, p.Send) }()
	go func() { defer wg.Done(); s.forwardWindow(ctx, winch, p) }()
	// Send blocks while the client is not reading; on its own goroutine
	// that holds up only this note, and ctx's end releases it.
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-cut:
				p.Send(tui.FlashMsg{Text: fmt.Sprintf("paste cut to its first %d KiB; the rest was discarded", gate.limit>>10), Bad: true})
			}
		}
	}()
	_, err := p.Run()
	cancel()
	wg.Wait()
	if gate != nil {
		if n, d := gate.pastesCut.Load(), gate.dropped.Load(); n > 0 || d > 0 {
			s.log.Warn("ui input limited", "session", e.rec.ID(), "user", e.id.Name,
				"pastes_cut", n, "paste_bytes_discarded", gate.discarded.Load(), "sequences_dropped", d)
		}
	}

	// A reaped or kicked session was told why while the UI still covered
	// the screen; say it again now that the terminal is back. It goes to
	// stdout, the stream the UI used, so that it cannot overtake the
	// sequences that restored the screen.
	if cause := context.Cause(e.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		fmt.Fprintf(e.out, "\r\nmeshgate: session closed: %v\r\n", cause)
		return exitOK
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		s.log.Error("tui failed", "session", e.rec.ID(), "user", e.id.Name, "err", err)
		return exitFailed
	}
	return exitOK
}

// filter runs before the program sees a message: it clamps window sizes
// (a huge PTY would make the renderer allocate hundreds of megabytes),
// refuses to suspend (there is no shell to suspend to), and counts only
// the user's own input as activity for the idle reaper.
func (e *execEnv) filter(_ tea.Model, msg tea.Msg) tea.Msg {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		m.Width, m.Height = e.s.clampWindow(m.Width, m.Height)
		return m
	case tea.SuspendMsg:
		return tea.ResumeMsg{}
	case tea.KeyPressMsg, tea.MouseMsg, tea.PasteMsg:
		e.rec.Touch()
	}
	return msg
}

// clampWindow bounds a terminal size to the configured maximum; a client
// that reports no size gets the classic 80×24.
func (s *Server) clampWindow(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return 80, 24
	}
	return min(w, s.cfg.MaxWidth), min(h, s.cfg.MaxHeight)
}

// forwardWindow passes the client's window changes to the program until
// ctx ends. It must keep reading: the SSH library blocks the session's
// request loop until a window change is taken.
func (s *Server) forwardWindow(ctx context.Context, winch <-chan ssh.Window, p *tea.Program) {
	for {
		select {
		case <-ctx.Done():
			return
		case win, ok := <-winch:
			if !ok {
				return
			}
			w, h := s.clampWindow(win.Width, win.Height)
			p.Send(tea.WindowSizeMsg{Width: w, Height: h})
		}
	}
}

// loggedLink logs each radio the session binds through the UI.
type loggedLink struct {
	*tui.Link
	e *execEnv
}

func (l *loggedLink) Bind(name string) (tui.Radio, error) {
	r, err := l.Link.Bind(name)
	if err != nil {
		l.e.s.log.Info("radio bind refused", "session", l.e.rec.ID(), "user", l.e.id.Name, "radio", name, "err", err)
		return nil, err
	}
	l.e.s.log.Info("radio bound", "session", l.e.rec.ID(), "user", l.e.id.Name, "radio", name, "via", "tui")
	return r, nil
}
