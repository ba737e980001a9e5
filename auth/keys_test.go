package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func tcp(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }

func TestAuthorize(t *testing.T) {
	open, expired, later, fenced, fenced6, named := testKey(t, 1), testKey(t, 2), testKey(t, 3), testKey(t, 4), testKey(t, 5), testKey(t, 6)
	file := strings.Join([]string{
		keyText(open) + " open",
		`expiry-time="20200101Z" ` + keyText(expired) + " expired",
		`expiry-time="20300101Z" ` + keyText(later) + " later",
		`from="10.0.0.0/8,!10.6.6.6" ` + keyText(fenced) + " fenced",
		`from="2001:db8::/32" ` + keyText(fenced6) + " fenced6",
		`from="gw.example.com" ` + keyText(named) + " named",
	}, "\n")
	set, _ := parseText(file)
	keys := Static(set)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

	tests := []struct {
		name    string
		key     gossh.PublicKey
		remote  net.Addr
		now     time.Time
		wantErr error
		wantWho string
	}{
		{"listed key", open, tcp("203.0.113.1"), now, nil, "open"},
		{"listed key, no address needed", open, nil, now, nil, "open"},
		{"unknown key", testKey(t, 99), tcp("10.0.0.1"), now, ErrUnknownKey, ""},
		{"nil key", nil, tcp("10.0.0.1"), now, ErrUnknownKey, ""},
		{"expired key", expired, tcp("10.0.0.1"), now, ErrExpired, ""},
		{"key before its expiry", later, tcp("10.0.0.1"), now, nil, "later"},
		{"key at its expiry instant", later, tcp("10.0.0.1"), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), nil, "later"},
		{"key after its expiry", later, tcp("10.0.0.1"), time.Date(2030, 1, 1, 0, 0, 1, 0, time.UTC), ErrExpired, ""},
		{"from: allowed network", fenced, tcp("10.1.2.3"), now, nil, "fenced"},
		{"from: mapped IPv4 client", fenced, tcp("::ffff:10.1.2.3"), now, nil, "fenced"},
		{"from: outside network", fenced, tcp("192.0.2.1"), now, ErrSourceDenied, ""},
		{"from: negated address", fenced, tcp("10.6.6.6"), now, ErrSourceDenied, ""},
		{"from: unknown remote address", fenced, nil, now, ErrSourceDenied, ""},
		{"from: IPv6 network", fenced6, tcp("2001:db8::42"), now, nil, "fenced6"},
		{"from: IPv6 outside", fenced6, tcp("2001:db9::42"), now, ErrSourceDenied, ""},
		{"from: IPv6 pattern, IPv4 client", fenced6, tcp("10.1.2.3"), now, ErrSourceDenied, ""},
		{"from: host name never matches", named, tcp("127.0.0.1"), now, ErrSourceDenied, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := keys.Authorize(tt.key, tt.remote, tt.now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if id.Name != tt.wantWho {
				t.Errorf("identity %+v, want %q", id, tt.wantWho)
			}
		})
	}
}

func TestAuthorizeErrorsNameTheKeyAndReason(t *testing.T) {
	k := testKey(t, 1)
	set, _ := parseText(`from="10.0.0.0/8" ` + keyText(k) + " a\n")
	_, err := Static(set).Authorize(k, tcp("192.0.2.9"), time.Now())
	for _, want := range []string{Fingerprint(k), "ak:1", "192.0.2.9", `"10.0.0.0/8"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestAuthorizeReturnsACopy(t *testing.T) {
	k := testKey(t, 1)
	set, _ := parseText(`radios="a" ` + keyText(k) + "\n")
	keys := Static(set)
	id, _ := keys.Authorize(k, nil, time.Now())
	id.Radios[0] = "everything"
	if again, _ := keys.Authorize(k, nil, time.Now()); !again.MayUse("a") || again.MayUse("everything") {
		t.Errorf("caller changed the loaded identity: %+v", again)
	}
}

func TestAcceptAny(t *testing.T) {
	keys := AcceptAny(Viewer)
	k := testKey(t, 42)
	id, err := keys.Authorize(k, tcp("127.0.0.1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if id.Fingerprint != Fingerprint(k) || id.Role != Viewer || id.Radios != nil ||
		id.Name != nickname(Fingerprint(k)) {
		t.Errorf("got %+v", id)
	}
	if _, err := keys.Authorize(nil, nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("nil key: %v", err)
	}
	if _, err := AcceptAny(Role(0)).Authorize(k, nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("an invalid role must accept nothing, got %v", err)
	}
	if err := keys.Reload(); err != nil {
		t.Errorf("Reload of an in-memory set: %v", err)
	}
}

func TestStaticNil(t *testing.T) {
	keys := Static(nil)
	if _, err := keys.Authorize(testKey(t, 1), nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("got %v", err)
	}
	if keys.Set().Len() != 0 || keys.Problems() != nil {
		t.Error("nil set is not empty")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadLogsProblemsAndKeepsThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	k := testKey(t, 1)
	writeFile(t, path, "garbage\n"+keyText(k)+" ok\n")
	var logs bytes.Buffer
	keys, err := Load(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authorize(k, nil, time.Now()); err != nil {
		t.Errorf("key after a bad line: %v", err)
	}
	problems := keys.Problems()
	if len(problems) != 1 || problems[0].File != path || problems[0].Line != 1 {
		t.Errorf("problems: %v", problems)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, path+":1") || !strings.Contains(out, "keys=1") {
		t.Errorf("log does not name the problem's file:line or the key count:\n%s", out)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
	if _, err := Load(t.TempDir(), nil); err == nil {
		t.Error("loading a directory succeeded")
	}
}

func TestReloadKeepsOldSetWhenFileVanishes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	k := testKey(t, 1)
	writeFile(t, path, keyText(k)+"\n")
	keys, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := keys.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload of a missing file: %v", err)
	}
	if _, err := keys.Authorize(k, nil, time.Now()); err != nil {
		t.Errorf("old set dropped: %v", err)
	}
}

func TestReloadPicksUpRemovedKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	k1, k2 := testKey(t, 1), testKey(t, 2)
	writeFile(t, path, keyText(k1)+"\n"+keyText(k2)+"\n")
	keys, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, keyText(k2)+"\n")
	if err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authorize(k1, nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("removed key still accepted: %v", err)
	}
}

// TestReloadIsAtomicUnderConcurrentLogins alternates between two files
// while logins run. Every login must see one whole version: the key is
// always known, and its role and radios always belong together.
func TestReloadIsAtomicUnderConcurrentLogins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	k := testKey(t, 1)
	versions := []string{
		`role="admin",radios="a" ` + keyText(k) + " v1\n",
		`role="viewer",radios="b,c" ` + keyText(k) + " v2\n",
	}
	writeFile(t, path, versions[0])
	keys, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var logins atomic.Int64
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				id, err := keys.Authorize(k, tcp("10.0.0.1"), time.Now())
				logins.Add(1)
				ok := err == nil &&
					((id.Name == "v1" && id.Role == Admin && id.MayUse("a") && !id.MayUse("b")) ||
						(id.Name == "v2" && id.Role == Viewer && id.MayUse("c") && !id.MayUse("a")))
				if !ok {
					select {
					case errs <- id.Name + " " + id.Role.String():
					default:
					}
					return
				}
				_ = keys.Set().Identities()
				_ = keys.Problems()
			}
		})
	}
	for i := range 200 {
		// Write the new version beside the file and rename it in, as
		// careful tools do, so the reader never sees a half-written file.
		tmp := path + ".tmp"
		writeFile(t, tmp, versions[(i+1)%2])
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if err := keys.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("login saw an inconsistent identity: %s", e)
	}
	if logins.Load() == 0 {
		t.Error("no logins ran")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchPicksUpChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	writeFile(t, path, keyText(k1)+" one\n")
	keys, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		keys.Watch(ctx, 5*time.Millisecond)
		close(done)
	}()
	known := func(k gossh.PublicKey) func() bool {
		return func() bool {
			_, err := keys.Authorize(k, nil, time.Now())
			return err == nil
		}
	}

	// An edit in place.
	writeFile(t, path, keyText(k1)+" one\n"+keyText(k2)+" two\n")
	waitFor(t, "an edited file", known(k2))

	// A vanished file keeps the current keys.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if !known(k2)() {
		t.Fatal("keys dropped while the file was missing")
	}

	// A new file renamed into place, with the same size and modification
	// time as the old one: only the inode tells it apart.
	old := keyText(k1) + " one\n" + keyText(k2) + " two\n"
	replacement := keyText(k1) + " one\n" + keyText(k3) + " two\n"
	writeFile(t, path, old)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recreated file to be loaded", func() bool {
		loaded := keys.cur.Load().stamp
		return loaded != nil && !changed(loaded, st)
	})
	tmp := filepath.Join(dir, "new")
	writeFile(t, tmp, replacement)
	if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a file renamed into place", known(k3))
	if known(k2)() {
		t.Error("key of the replaced file still accepted")
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not end with its context")
	}
}

func TestWatchInMemoryReturns(t *testing.T) {
	done := make(chan struct{})
	go func() {
		Static(nil).Watch(context.Background(), time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch of an in-memory set blocked")
	}
}

func TestLoadWarnsAboutWritableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	writeFile(t, path, keyText(testKey(t, 1))+"\n")
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if _, err := Load(path, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "writable by group or others") {
		t.Errorf("no warning about mode 0666:\n%s", logs.String())
	}
}

func TestZeroKeysRefusesEveryone(t *testing.T) {
	var keys Keys
	if _, err := keys.Authorize(testKey(t, 1), nil, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("got %v", err)
	}
	if keys.Set().Len() != 0 || keys.Reload() != nil {
		t.Error("zero Keys is not an empty in-memory set")
	}
}
