package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/command"
	"github.com/meshgate/meshgate/sessions"
)

// handler is the one middleware: identity, session record, then either an
// exec command or the interactive screen.
func (s *Server) handler(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		// exited tells a session being ended from outside that its exit
		// status is on its way (see endSession).
		exited := make(chan struct{})
		code := s.serveSession(sess, exited)
		_ = sess.Exit(code)
		close(exited)
		next(sess)
	}
}

// Exit statuses (command's, documented in the README).
const (
	exitOK     = command.ExitOK
	exitFailed = command.ExitFailed
	exitDenied = command.ExitDenied
	exitFull   = command.ExitFull
	// exitEnded: the session was ended from outside — an admin's kick,
	// the gateway shutting down, or the idle reaper — whatever the command
	// or UI returned. Reaped-for-idle counts as ended too: the user did not
	// end it, and a script must not read the cut-off command's status as
	// its result.
	exitEnded = command.ExitEnded
)

// maxCommandBytes bounds an exec command line (OpenSSH has no such
// limit; a text to the mesh is at most 232 bytes, so 4 KiB leaves room
// for any real command).
const maxCommandBytes = 4 << 10

// endGrace bounds each step of ending a session from outside: telling the
// user why, then letting the handler send its exit status. A client that
// stopped reading blocks both; after endGrace its connection is closed.
const endGrace = 2 * time.Second

func (s *Server) serveSession(sess ssh.Session, exited <-chan struct{}) (code int) {
	ctx := sess.Context()
	if lc, ok := ctx.Value(limitedConnKey{}).(*limitedConn); ok {
		lc.authenticated()
	}
	remote := sess.RemoteAddr().String()
	// Identity comes only from the key the client signed with, looked up
	// again here; nothing the auth callback saw is trusted.
	pk := sess.PublicKey()
	if pk == nil {
		fmt.Fprintln(sess.Stderr(), "meshgate: public key authentication required")
		return exitDenied
	}
	id, err := s.keys.Authorize(pk, sess.RemoteAddr(), time.Now())
	if err != nil {
		s.log.Warn("auth fail", "remote", remote, "fingerprint", gossh.FingerprintSHA256(pk), "reason", err)
		fmt.Fprintln(sess.Stderr(), "meshgate: access denied")
		return exitDenied
	}
	s.log.Info("auth ok", "remote", remote, "user", id.Name, "fingerprint", id.Fingerprint, "role", id.Role)
	// A command line is a few words; a huge one only costs parsing and
	// log space, so it is refused before it is split, logged or counted.
	if n := len(sess.RawCommand()); n > maxCommandBytes {
		s.log.Warn("command refused", "remote", remote, "user", id.Name, "reason", "too long", "bytes", n)
		fmt.Fprintf(sess.Stderr(), "meshgate: the command line is %d bytes; at most %d\n", n, maxCommandBytes)
		return command.ExitUsage
	}

	// One connection may serve MaxSessionsPerConn sessions at once. The
	// slot is given back before the exit status goes out, so a client that
	// waits for one session to end may always start the next.
	conn := ctx.Value(ssh.ContextKeyConn)
	if ok, n := s.perConn.acquire(conn); !ok {
		s.count.refusedConn.Add(1)
		s.log.Warn("session refused", "remote", remote, "user", id.Name, "reason", "too many sessions on this connection", "open", n)
		fmt.Fprintf(sess.Stderr(), "meshgate: too many sessions on this connection (%d of %d); open another connection\n", n, s.cfg.MaxSessionsPerConn)
		return exitFull
	}
	defer s.perConn.release(conn)

	_, winch, isPty := sess.Pty()
	kind := sessions.Exec
	// ssh sends the command as one line; it is split with POSIX shell
	// quoting here (sess.Command()'s splitting drops quotes it cannot
	// pair). A line that cannot be split runs as exec and fails there.
	argv, splitErr := command.Split(sess.RawCommand())
	if splitErr != nil {
		argv = []string{"?"}
	}
	// "tui [-r NAME]" with a terminal is the UI too, already bound.
	if len(argv) == 0 || (isPty && argv[0] == "tui") {
		kind = sessions.TUI
	}
	if kind == sessions.TUI && id.NoPTY {
		fmt.Fprintln(sess.Stderr(), "meshgate: this key may only run commands (no-pty); try: ssh ... help")
		return exitDenied
	}
	rec, err := s.sessions.Open(sessions.User{
		Name: id.Name, Fingerprint: id.Fingerprint, Role: id.Role.String(), RemoteAddr: remote,
		Kind: kind, Command: sess.RawCommand(),
	})
	if err != nil {
		if errors.Is(err, sessions.ErrKeyFull) {
			s.count.refusedKey.Add(1)
		} else {
			s.count.sessionsRefused.Add(1)
		}
		s.log.Warn("session refused", "user", id.Name, "reason", err)
		fmt.Fprintf(sess.Stderr(), "meshgate: %v\n", err)
		return exitFull
	}
	s.count.sessionsOpened.Add(1)
	defer rec.Close()
	s.grants.add(rec, pk, sess.RemoteAddr(), id)
	defer s.grants.remove(rec)
	// A session the manager ended (kick, shutdown, idle reaper) exits
	// exitEnded, whatever its command or UI returned on the way out.
	defer func() {
		if _, ended := rec.EndedBy(); ended {
			code = exitEnded
		}
	}()
	// cancel ends this session's work when it is reaped or kicked; the
	// closer tells the user why before the connection goes.
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rec.SetCloser(func(reason string) {
		s.log.Info("session reaped", "session", rec.ID(), "user", id.Name, "reason", reason)
		go s.endSession(sess, reason, cancel, exited)
	})
	if kind == sessions.Exec {
		s.log.Info("exec", "session", rec.ID(), "user", id.Name, "command", sess.RawCommand(), "pty", isPty)
	}
	if winch != nil && !(kind == sessions.TUI && isPty) {
		// The window-change channel has a buffer of one and blocks the
		// session's request loop until read; drain it (the UI reads it
		// itself).
		go func() {
			for {
				select {
				case <-sctx.Done():
					return
				case _, ok := <-winch:
					if !ok {
						return
					}
				}
			}
		}()
	}
	env := &execEnv{s: s, ctx: sctx, sess: sess, id: id, rec: rec, out: sess, errOut: sess.Stderr()}
	switch {
	case kind == sessions.Exec:
		return command.RunLine(env.commandEnv("exec"), sess.RawCommand())
	case isPty:
		name, err := command.ParseTUI(argv)
		if err == nil && name != "" {
			name, err = s.core.Resolve(env.caller("tui"), name)
		}
		if err != nil {
			fmt.Fprintf(sess.Stderr(), "meshgate tui: %v\n", err)
			return command.ExitFor(err)
		}
		return env.runTUI(name)
	}
	return env.interactive()
}

// endSession ends a session the manager closed: it tells the user why,
// stops the session's work, waits for the handler to send the exit status,
// then closes the connection so that a stalled client cannot hold on. It
// runs on its own goroutine because a client that stopped reading blocks
// every write, and neither the reaper, an admin's kick nor shutdown may
// wait on that.
func (s *Server) endSession(sess ssh.Session, reason string, cancel context.CancelCauseFunc, exited <-chan struct{}) {
	deadline, stop := context.WithTimeout(context.Background(), endGrace)
	defer stop()
	told := make(chan struct{})
	go func() {
		defer close(told)
		fmt.Fprintf(sess.Stderr(), "\r\nmeshgate: session closed: %s\r\n", reason)
	}()
	select {
	case <-told:
	case <-deadline.Done():
	}
	cancel(errors.New(reason))
	select {
	case <-exited:
	case <-deadline.Done():
	}
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(*gossh.ServerConn); ok {
		_ = c.Close()
	}
}

// execEnv is what one session runs with.
type execEnv struct {
	s      *Server
	ctx    context.Context
	sess   ssh.Session
	id     auth.Identity
	rec    *sessions.Session
	out    io.Writer
	errOut io.Writer
}

// caller is the session's identity as the core sees it.
func (e *execEnv) caller(via string) backend.Caller {
	return backend.Caller{Identity: e.id, Session: e.rec, Via: via}
}

// commandEnv is what an exec command runs with.
func (e *execEnv) commandEnv(via string) command.Env {
	return command.Env{Ctx: e.ctx, Backend: e.s.core, Caller: e.caller(via), Out: e.out, Err: e.errOut}
}

// interactive is what a login without a command and without a terminal
// gets: a short status screen of the radios this key may use.
func (e *execEnv) interactive() int {
	e.rec.Touch()
	w := &crlf{w: e.out}
	fmt.Fprintf(w, "meshgate — signed in as %s (%s)\n\n", e.id.Name, e.id.Role)
	env := e.commandEnv("exec")
	env.Out = w
	command.Run(env, []string{"radios"})
	fmt.Fprintf(w, "\nRun a command with: ssh GATEWAY COMMAND (ssh GATEWAY help lists them).\n")
	if names := e.s.core.AllowedRadios(e.caller("exec")); len(names) > 0 {
		fmt.Fprintf(w, "For example: ssh GATEWAY nodes -r %s\n", names[0])
	}
	return exitOK
}

// crlf turns \n into \r\n for a terminal in raw mode.
type crlf struct {
	w io.Writer
}

func (c *crlf) Write(p []byte) (int, error) {
	_, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n")))
	return len(p), err
}
