package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"
)

// runTrivial serves the baseline the marker measurement compares against:
// a wish + Bubble Tea v2 program per session that only shows the last
// line any session typed. It costs what any Bubble Tea app over SSH
// costs, so the gap between it and the gateway is the gateway's own.
func runTrivial(listen string, fps int) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	h := &hub{progs: map[*tea.Program]struct{}{}, fps: fps}
	srv, err := wish.NewServer(
		func(s *ssh.Server) error { s.AddHostKey(signer); return nil },
		wish.WithAddress(listen),
		wish.WithPublicKeyAuth(func(ssh.Context, ssh.PublicKey) bool { return true }),
		wish.WithMiddleware(bubbletea.MiddlewareWithProgramHandler(h.program)),
	)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintln(os.Stderr, "meshload: trivial server on", listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, ssh.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// hub passes each typed line to every session's program.
type hub struct {
	fps   int
	mu    sync.Mutex
	progs map[*tea.Program]struct{}
}

type lineMsg string

func (h *hub) program(sess ssh.Session) *tea.Program {
	p := tea.NewProgram(&trivialModel{hub: h, line: "trivial: waiting"}, append(bubbletea.MakeOptions(sess), tea.WithFPS(h.fps))...)
	h.mu.Lock()
	h.progs[p] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-sess.Context().Done()
		h.mu.Lock()
		delete(h.progs, p)
		h.mu.Unlock()
	}()
	return p
}

func (h *hub) broadcast(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.progs {
		go p.Send(lineMsg(line)) // Send waits for the program; the typist's must not
	}
}

type trivialModel struct {
	hub   *hub
	typed []rune
	line  string
}

func (m *trivialModel) Init() tea.Cmd { return nil }

func (m *trivialModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case lineMsg:
		m.line = "trivial: " + string(msg)
	case tea.KeyPressMsg:
		switch msg.String() {
		case "ctrl+c":
			return m, tea.Quit
		case "enter":
			m.hub.broadcast(string(m.typed))
			m.typed = m.typed[:0]
		default:
			m.typed = append(m.typed, []rune(msg.Text)...)
		}
	}
	return m, nil
}

func (m *trivialModel) View() tea.View {
	v := tea.NewView(m.line)
	v.AltScreen = true
	return v
}
