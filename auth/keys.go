package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Reasons a login is refused. Authorize wraps exactly one of them, so the
// server can log and count refusals by reason with errors.Is.
var (
	ErrUnknownKey   = errors.New("auth: unknown key")
	ErrExpired      = errors.New("auth: key expired")
	ErrSourceDenied = errors.New("auth: source address not allowed for this key")
)

// Keys answers "may this key log in, and as whom?". It holds the current
// key set behind an atomic pointer: logins read it without locks, and a
// reload swaps in a whole new set at once, so no login ever sees half of an
// old file and half of a new one.
type Keys struct {
	path   string // "" for in-memory sets, which never reload
	logger *slog.Logger
	// anyRole, when valid, accepts every key with this role (demo mode).
	anyRole Role

	cur      atomic.Pointer[snapshot]
	reloadMu sync.Mutex // one reload at a time, so stamps match contents
}

// snapshot is one loaded version of the file. It is replaced, never
// modified.
type snapshot struct {
	set      *Set
	problems []Problem
	stamp    os.FileInfo // the file as it was when read; nil in memory
}

// Load reads the authorized_keys file at path. It fails only if the file
// cannot be read at all; bad lines are logged as warnings and kept for
// Problems. A nil logger discards.
func Load(path string, logger *slog.Logger) (*Keys, error) {
	k := &Keys{path: path, logger: orDiscard(logger)}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Static serves a fixed, already parsed set. Reload and Watch do nothing.
func Static(set *Set) *Keys {
	if set == nil {
		set = &Set{}
	}
	k := &Keys{logger: orDiscard(nil)}
	k.cur.Store(&snapshot{set: set})
	return k
}

// AcceptAny accepts every key with the given role, naming each user after
// its key's fingerprint. It exists for demo mode, which the server only
// allows on loopback; it must never guard a real radio.
func AcceptAny(role Role) *Keys {
	k := Static(nil)
	k.anyRole = role
	return k
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// current returns the snapshot in force. A Keys that was never loaded (the
// zero value) behaves as an empty set rather than panicking at login.
func (k *Keys) current() *snapshot {
	if s := k.cur.Load(); s != nil {
		return s
	}
	return &snapshot{set: &Set{}}
}

// Set returns the current key set, for listing users.
func (k *Keys) Set() *Set { return k.current().set }

// Problems returns the problems found in the file when it was last loaded.
func (k *Keys) Problems() []Problem {
	return append([]Problem(nil), k.current().problems...)
}

// Reload re-reads the file and swaps the new set in. If the file cannot be
// read, the current set stays in force and the error is returned: a file
// briefly missing during an edit must not lock everyone out. Problems are
// logged at each reload, so an edit's mistakes show up as it is made.
func (k *Keys) Reload() error {
	if k.path == "" {
		return nil
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()

	data, stamp, err := readStamped(k.path)
	if err != nil {
		return fmt.Errorf("auth: reading authorized keys: %w", err)
	}
	set, problems := Parse(bytes.NewReader(data), k.path)
	k.cur.Store(&snapshot{set: set, problems: problems, stamp: stamp})

	if stamp.Mode().Perm()&0o022 != 0 {
		// Whoever can write this file can make themselves admin.
		// sshd refuses such files outright; we only warn, since
		// container mounts often come with loose modes.
		k.logger.Warn("authorized keys file is writable by group or others",
			slog.String("path", k.path), slog.String("mode", stamp.Mode().Perm().String()))
	}

	for _, p := range problems {
		k.logger.Warn("authorized keys problem",
			slog.String("at", fmt.Sprintf("%s:%d", p.File, p.Line)),
			slog.String("problem", p.Msg))
	}
	k.logger.Info("authorized keys loaded",
		slog.String("path", k.path),
		slog.Int("keys", set.Len()),
		slog.Int("problems", len(problems)))
	return nil
}

// readStamped reads a file and the identity (inode, size, mtime) of what was
// read. Stating the open file rather than the path ties the stamp to the
// content even when the file is replaced meanwhile; if it changes after the
// stat, the next poll sees a different stamp and reloads again.
func readStamped(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}

// Watch polls the file every interval (2 s if interval is not positive) and
// reloads it when its inode, size or modification time changes, which
// catches both in-place edits and editors that write a new file and rename
// it over the old one. It blocks until ctx ends; run it in its own goroutine.
// Polling, rather than inotify, works the same on every platform and on
// network and container-mounted files.
func (k *Keys) Watch(ctx context.Context, interval time.Duration) {
	if k.path == "" {
		return
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string // log a persisting failure once, not every tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(k.path)
		if err == nil && !changed(k.current().stamp, fi) {
			lastErr = ""
			continue
		}
		if err == nil {
			err = k.Reload()
		}
		if err != nil {
			if err.Error() != lastErr {
				k.logger.Warn("authorized keys not reloaded; keeping the current keys",
					slog.String("path", k.path), slog.Any("err", err))
			}
			lastErr = err.Error()
			continue
		}
		lastErr = ""
	}
}

// changed reports whether cur describes a different file or different
// content than prev.
func changed(prev, cur os.FileInfo) bool {
	return prev == nil || !os.SameFile(prev, cur) ||
		prev.Size() != cur.Size() || !prev.ModTime().Equal(cur.ModTime())
}

// Authorize decides whether key may log in from remote at time now, and
// returns its identity. Refusals wrap ErrUnknownKey, ErrExpired or
// ErrSourceDenied.
//
// The key must be the one the client signed with, i.e. the session's
// PublicKey() after authentication, not a key the client merely offered:
// the SSH public-key handler also runs for offered keys. Calling Authorize
// again when the session starts, rather than carrying a result over from the
// handler, also applies any reload that happened in between.
//
// Keys are matched by SHA-256 fingerprint of their wire encoding, never by
// comparing key text, which has more than one spelling.
func (k *Keys) Authorize(key gossh.PublicKey, remote net.Addr, now time.Time) (Identity, error) {
	if key == nil {
		return Identity{}, fmt.Errorf("%w: no public key", ErrUnknownKey)
	}
	fp := gossh.FingerprintSHA256(key)
	if k.anyRole.Valid() {
		return Identity{Fingerprint: fp, Name: nickname(fp), Role: k.anyRole, Source: "accept-any"}, nil
	}
	e, ok := k.current().set.byFingerprint[fp]
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s", ErrUnknownKey, fp)
	}
	if !e.id.Expires.IsZero() && now.After(e.id.Expires) {
		return Identity{}, fmt.Errorf("%w: %s (%s) expired at %s", ErrExpired,
			fp, e.id.Source, e.id.Expires.Format(time.RFC3339))
	}
	if e.from != nil && !e.from.allows(remoteIP(remote)) {
		return Identity{}, fmt.Errorf("%w: %s (%s) from %v, allowed from=%q", ErrSourceDenied,
			fp, e.id.Source, remote, e.id.From)
	}
	return e.id.clone(), nil
}
