package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/sessions"
)

// grants remembers, for every open session, the key it signed in with and
// the grant that key had, so that a change to authorized_keys reaches
// sessions already open: a key that was removed, expired or may no longer
// connect from the session's address ends its sessions, and a key whose
// role, radios or no-pty changed ends them too (the UI and a running
// --follow were set up under the old grant; the next login gets the new
// one). Expiry needs no reload: the periodic check sees expiry-time pass.
type grants struct {
	mu   sync.Mutex
	open map[*sessions.Session]grant
}

type grant struct {
	key    gossh.PublicKey
	remote net.Addr
	id     auth.Identity
}

func (g *grants) add(rec *sessions.Session, key gossh.PublicKey, remote net.Addr, id auth.Identity) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open == nil {
		g.open = map[*sessions.Session]grant{}
	}
	g.open[rec] = grant{key: key, remote: remote, id: id}
}

func (g *grants) remove(rec *sessions.Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.open, rec)
}

func (g *grants) snapshot() map[*sessions.Session]grant {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[*sessions.Session]grant, len(g.open))
	for rec, gr := range g.open {
		out[rec] = gr
	}
	return out
}

// DefaultGrantCheck is how often open sessions are checked against the
// current authorized_keys when nothing asks sooner.
const DefaultGrantCheck = 5 * time.Second

// WatchGrants checks open sessions' keys every interval until ctx ends.
func (s *Server) WatchGrants(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultGrantCheck
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.CheckGrants(time.Now())
		}
	}
}

// CheckGrants ends the sessions whose key is no longer accepted or whose
// grant changed since they opened, telling each user why. It returns how
// many it ended. Call it after reloading authorized_keys.
func (s *Server) CheckGrants(now time.Time) int {
	ended := 0
	for rec, gr := range s.grants.snapshot() {
		id, err := s.keys.Authorize(gr.key, gr.remote, now)
		reason := ""
		switch {
		case err != nil:
			reason = revokedReason(err, gr.remote)
		default:
			reason = grantChange(gr.id, id)
		}
		if reason == "" {
			continue
		}
		// Kick runs the session's closer, which tells the user and ends
		// the session with exit status 6, as an admin's kick does.
		if s.sessions.Kick(rec.ID(), reason) == nil {
			ended++
			s.log.Info("session ended by a key change", "session", rec.ID(), "user", gr.id.Name,
				"fingerprint", gr.id.Fingerprint, "reason", reason)
		}
		s.grants.remove(rec)
	}
	return ended
}

// revokedReason words why a key that was accepted no longer is.
func revokedReason(err error, remote net.Addr) string {
	switch {
	case errors.Is(err, auth.ErrExpired):
		return "your key has expired"
	case errors.Is(err, auth.ErrSourceDenied):
		return fmt.Sprintf("your key may no longer connect from %s", hostOf(remote))
	default:
		return "your key was removed from the gateway's authorized keys"
	}
}

func hostOf(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// grantChange says what changed between the grant a session opened with
// and the key's grant now, or "" when nothing that matters did (a new
// comment or expiry date keeps the session).
func grantChange(was, now auth.Identity) string {
	var changes []string
	if was.Role != now.Role {
		changes = append(changes, fmt.Sprintf("role %s → %s", was.Role, now.Role))
	}
	if !slices.Equal(was.Radios, now.Radios) {
		changes = append(changes, fmt.Sprintf("radios %s → %s", radioList(was.Radios), radioList(now.Radios)))
	}
	if was.NoPTY != now.NoPTY {
		if now.NoPTY {
			changes = append(changes, "commands only (no-pty)")
		} else {
			changes = append(changes, "terminal allowed")
		}
	}
	if len(changes) == 0 {
		return ""
	}
	return "your access changed (" + strings.Join(changes, "; ") + "); sign in again"
}

func radioList(r []string) string {
	if r == nil {
		return "all"
	}
	return strings.Join(r, ",")
}
