package auth

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	gossh "golang.org/x/crypto/ssh"
)

// FuzzParse feeds arbitrary files to Parse. Besides not panicking, it
// checks what the rest of the server relies on, and cross-checks accepted
// lines against x/crypto's own authorized_keys reader: a key we accept must
// be the key x/crypto reads from the same line, so the two can never
// disagree about whose key a line grants.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		set, problems := Parse(bytes.NewReader(data), "fuzz")

		lines := bytes.Split(data, []byte("\n"))
		for _, p := range problems {
			if p.File != "fuzz" || p.Line < 1 || p.Line > len(lines) || p.Msg == "" {
				t.Fatalf("problem outside the input (%d lines): %+v", len(lines), p)
			}
		}

		ids := set.Identities()
		if set.Len() != len(ids) {
			t.Fatalf("Len %d, but %d identities", set.Len(), len(ids))
		}
		for _, id := range ids {
			if !strings.HasPrefix(id.Fingerprint, "SHA256:") || !id.Role.Valid() {
				t.Fatalf("bad identity %+v", id)
			}
			if got, ok := set.Lookup(id.Fingerprint); !ok || got.Source != id.Source {
				t.Fatalf("Lookup(%s) = %+v, %v", id.Fingerprint, got, ok)
			}
			checkName(t, id.Name)
			if id.Radios != nil && len(id.Radios) == 0 {
				t.Fatalf("empty, non-nil radio list: %+v", id)
			}
			var n int
			if _, err := fmt.Sscanf(id.Source, "fuzz:%d", &n); err != nil || n < 1 || n > len(lines) {
				t.Fatalf("source %q outside the input", id.Source)
			}
			line := lines[n-1]
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\ufeff"))
			}
			key, _, _, _, err := gossh.ParseAuthorizedKey(line)
			if err != nil {
				t.Fatalf("line %d accepted by us but not by x/crypto (%v): %q", n, err, line)
			}
			if fp := gossh.FingerprintSHA256(key); fp != id.Fingerprint {
				t.Fatalf("line %d: we read key %s, x/crypto reads %s: %q", n, id.Fingerprint, fp, line)
			}
		}

		// The converse for lines without options: a plain key line that
		// x/crypto reads must be in the set (perhaps from an earlier
		// duplicate), unless it is a certificate, which we refuse.
		for n, line := range lines {
			if n == 0 {
				line = bytes.TrimPrefix(line, []byte("\ufeff"))
			}
			if len(line) > maxLineLen {
				continue
			}
			key, _, opts, _, err := gossh.ParseAuthorizedKey(line)
			if err != nil || opts != nil {
				continue
			}
			if _, cert := key.(*gossh.Certificate); cert {
				continue
			}
			first, _ := cutField(strings.TrimLeft(string(line), " \t"))
			if first != key.Type() {
				continue // x/crypto skipped something we treat as options
			}
			if _, ok := set.Lookup(gossh.FingerprintSHA256(key)); !ok {
				t.Fatalf("plain key line %d refused: %q; problems %v", n+1, line, problems)
			}
		}
	})
}

// checkName enforces what displayName promises: printable, valid UTF-8,
// bounded.
func checkName(t *testing.T, name string) {
	t.Helper()
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameRunes+1 {
		t.Fatalf("bad name %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			t.Fatalf("name %q contains %U", name, r)
		}
	}
}
