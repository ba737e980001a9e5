package sessions

import (
	"errors"
	"testing"
	"time"
)

func openKey(t testing.TB, m *Manager, fp string) (*Session, error) {
	t.Helper()
	return m.Open(User{Name: fp, Fingerprint: fp, Role: "operator", Kind: Exec})
}

func TestOpenRefusesAtKeyCap(t *testing.T) {
	m, _ := newTestManager(t, Config{MaxSessions: 20})
	var mine []*Session
	for range DefaultMaxPerKey {
		s, err := openKey(t, m, "SHA256:alice")
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, s)
	}
	s, err := openKey(t, m, "SHA256:alice")
	if s != nil || !errors.Is(err, ErrKeyFull) || errors.Is(err, ErrFull) {
		t.Fatalf("6th session of one key = %v, %v; want ErrKeyFull", s, err)
	}
	if want := "too many sessions for your key (5 of 5 open); close one or ask an admin"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	// Another key is not affected, nor are records without a key.
	if _, err := openKey(t, m, "SHA256:bob"); err != nil {
		t.Fatalf("another key: %v", err)
	}
	for range DefaultMaxPerKey + 1 {
		mustOpen(t, m, "keyless")
	}
	if n := m.CountForKey("SHA256:alice"); n != 5 {
		t.Fatalf("CountForKey = %d", n)
	}
	// Every way a session ends gives its slot back.
	mine[0].Close()
	if _, err := m.Open(User{Fingerprint: "SHA256:alice"}); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if err := m.Kick(mine[1].ID(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(User{Fingerprint: "SHA256:alice"}); err != nil {
		t.Fatalf("after Kick: %v", err)
	}
	m.CloseAll("shutdown")
	if n := m.CountForKey("SHA256:alice"); n != 0 || len(m.byKey) != 0 {
		t.Fatalf("after CloseAll: %d open for the key, byKey %v", n, m.byKey)
	}
}

func TestGatewayCapComesFirst(t *testing.T) {
	m, _ := newTestManager(t, Config{MaxSessions: 2, MaxPerKey: 2})
	for range 2 {
		if _, err := openKey(t, m, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := openKey(t, m, "k"); !errors.Is(err, ErrFull) || err.Error() != "gateway full (2/2 sessions)" {
		t.Fatalf("full gateway and full key: %v", err)
	}
	m3, _ := newTestManager(t, Config{MaxPerKey: 3})
	for range 3 {
		openKey(t, m3, "k")
	}
	if _, err := openKey(t, m3, "k"); err == nil || err.Error() != "too many sessions for your key (3 of 3 open); close one or ask an admin" {
		t.Fatalf("cap 3: %v", err)
	}
}

func TestEndedBy(t *testing.T) {
	m, clock := newTestManager(t, Config{})
	left, kicked, reaped, shut := mustOpen(t, m, "left"), mustOpen(t, m, "kicked"), mustOpen(t, m, "reaped"), mustOpen(t, m, "shut")
	if _, ok := left.EndedBy(); ok {
		t.Fatal("open session reports ended")
	}
	left.Close()
	if r, ok := left.EndedBy(); ok || r != "" {
		t.Fatalf("a session its user closed: EndedBy = %q, %v", r, ok)
	}
	if err := m.Kick(kicked.ID(), ""); err != nil {
		t.Fatal(err)
	}
	if r, ok := kicked.EndedBy(); !ok || r != "closed by an administrator" {
		t.Fatalf("kicked: %q %v", r, ok)
	}
	kicked.Close() // the handler's own Close afterwards changes nothing
	if _, ok := kicked.EndedBy(); !ok {
		t.Fatal("Close after a kick forgot it")
	}
	shut.Touch()
	clock.Advance(time.Hour)
	reaped.stamp(clock.Now().Add(-2 * time.Hour))
	shut.Touch()
	m.ReapOnce(clock.Now())
	if r, ok := reaped.EndedBy(); !ok || r == "" {
		t.Fatalf("reaped: %q %v", r, ok)
	}
	m.CloseAll("the gateway is shutting down")
	if r, ok := shut.EndedBy(); !ok || r != "the gateway is shutting down" {
		t.Fatalf("shutdown: %q %v", r, ok)
	}
}
