package server

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshgate/meshgate/sessions"
)

func (e *execEnv) cmdSessions(fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	list := e.s.sessions.List()
	if *asJSON {
		return e.writeJSON(list)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tROLE\tKIND\tRADIO\tFROM\tOPENED\tIDLE")
	now := time.Now()
	for _, s := range list {
		me := ""
		if s.ID == e.rec.ID() {
			me = " (you)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, me, s.User.Name, s.User.Role, s.User.Kind,
			dash(s.Radio), s.User.RemoteAddr, ago(now, s.Created), ago(now, s.LastActivity))
	}
	_ = tw.Flush()
	fmt.Fprintf(e.out, "%d sessions\n", len(list))
	return exitOK
}

func (e *execEnv) cmdKick(fs *flag.FlagSet, args []string) int {
	reason := fs.String("reason", "", "what the user is told")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usage("kick", "want exactly one session id (see: sessions)")
	}
	why := "closed by " + e.id.Name
	if *reason != "" {
		why += ": " + *reason
	}
	if err := e.s.sessions.Kick(pos[0], why); err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			return e.usage("kick", fmt.Sprintf("no session %q", pos[0]))
		}
		return e.fail("kick", exitFailed, err)
	}
	e.s.log.Warn("session kicked", "session", pos[0], "by", e.id.Name, "fingerprint", e.id.Fingerprint, "reason", *reason)
	e.s.audit(e.id, "", "session.kick", fmt.Sprintf("session %s: %s", pos[0], why))
	fmt.Fprintf(e.out, "session %s closed\n", pos[0])
	return exitOK
}

// interactive is what a login without a command gets: a short status
// screen of the radios this key may use.
func (e *execEnv) interactive() int {
	e.rec.Touch()
	w := &crlf{w: e.out}
	fmt.Fprintf(w, "meshgate — signed in as %s (%s)\n\n", e.id.Name, e.id.Role)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RADIO\tSTATE\tNODE\tUSERS")
	for _, name := range e.allowedRadios() {
		b, err := e.s.radios.Get(name)
		if err != nil {
			continue
		}
		st := b.Status()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", name, st.State, dash(strings.TrimSpace(st.NodeName+" "+st.NodeID)), e.s.sessions.CountOnRadio(name))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nRun a command with: ssh GATEWAY COMMAND (ssh GATEWAY help lists them).\n")
	if len(e.allowedRadios()) > 0 {
		fmt.Fprintf(w, "For example: ssh GATEWAY nodes -r %s\n", e.allowedRadios()[0])
	}
	return exitOK
}

// crlf turns \n into \r\n for a terminal in raw mode.
type crlf struct {
	w interface{ Write([]byte) (int, error) }
}

func (c *crlf) Write(p []byte) (int, error) {
	_, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n")))
	return len(p), err
}
