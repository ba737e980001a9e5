package server

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Regression: sessions opened before authorized_keys changed follow the
// change. A removed key's sessions end, a changed role or radio list ends
// the session with what changed, an expired key's sessions end without any
// reload, and a key whose grant did not change keeps running.
func TestOpenSessionsFollowKeyChanges(t *testing.T) {
	expires := time.Now().Add(time.Hour).UTC().Format("200601021504") + "Z"
	alice := newUser(t, "alice", `role="operator"`)
	dave := newUser(t, "dave", `role="admin"`)
	rita := newUser(t, "rita", `role="operator",radios="base,field"`)
	carl := newUser(t, "carl", `role="operator",expiry-time="`+expires+`"`)
	eve := newUser(t, "eve", `role="viewer"`)
	g := startGateway(t, gwOptions{users: []*user{alice, dave, rita, carl, eve}, radios: []string{"base", "field"},
		traffic: 50 * time.Millisecond})

	follow := map[string]*stream{}
	for _, u := range []*user{alice, dave, rita, carl, eve} {
		follow[u.name] = g.start(t, u, "packets -r base --follow")
		follow[u.name].readLines(t, 1, 10*time.Second)
	}

	write := func(users ...*user) {
		t.Helper()
		var lines []string
		for _, u := range users {
			key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(u.signer.PublicKey())))
			lines = append(lines, strings.TrimSpace(u.options+" "+key+" "+u.name))
		}
		if err := os.WriteFile(g.akPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := g.keys.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	dave.options = `role="viewer"`
	rita.options = `role="operator",radios="base"`
	eve.name = "eve-laptop" // a new comment changes nothing that matters
	write(dave, rita, carl, eve)
	if n := g.srv.CheckGrants(time.Now()); n != 3 {
		t.Errorf("CheckGrants ended %d sessions, want 3 (alice, dave, rita)", n)
	}
	wantEnded(t, follow["alice"], "your key was removed")
	wantEnded(t, follow["dave"], "your access changed (role admin → viewer); sign in again")
	wantEnded(t, follow["rita"], "radios base,field → base")

	// Expiry needs no reload: the periodic check sees the time pass.
	if n := g.srv.CheckGrants(time.Now().Add(2 * time.Hour)); n != 1 {
		t.Errorf("after expiry CheckGrants ended %d sessions, want 1 (carl)", n)
	}
	wantEnded(t, follow["carl"], "your key has expired")

	// eve's session still streams.
	follow["eve"].readLines(t, 2, 10*time.Second)
	select {
	case err := <-follow["eve"].done:
		t.Fatalf("eve's session ended: %v (%s)", err, follow["eve"].stderr.String())
	default:
	}
	// The removed key cannot sign in again.
	if _, err := g.dial(t, alice); err == nil {
		t.Error("a removed key signed in")
	}
}

func wantEnded(t *testing.T, s *stream, reason string) {
	t.Helper()
	select {
	case err := <-s.done:
		var ee *gossh.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != exitEnded {
			t.Errorf("session ended with %v, want exit status %d", err, exitEnded)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("session still open; want it ended: %s", reason)
	}
	if got := s.stderr.String(); !strings.Contains(got, reason) {
		t.Errorf("the user was told %q, want %q", got, reason)
	}
}
