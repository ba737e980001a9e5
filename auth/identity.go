package auth

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gossh "golang.org/x/crypto/ssh"
)

// Identity is who a session is and what it may do. It is derived from the
// public key the client proved it holds, never from anything the client
// merely claimed (user name, offered keys, environment).
type Identity struct {
	// Fingerprint is the key's SHA-256 fingerprint as OpenSSH prints it
	// ("SHA256:" followed by unpadded base64). It is the identity: two
	// lines with the same key are the same user.
	Fingerprint string
	// Name is the key's comment, for display only; when the line has no
	// comment it is a shortened fingerprint, and in demo mode (any key
	// accepted) a nickname made from the fingerprint. Control characters are
	// replaced, so a name can be shown on other users' terminals safely.
	Name string
	// Role is what the key may do.
	Role Role
	// Radios lists the radios the key may use; nil means all of them.
	Radios []string
	// NoPTY means the key may only run exec commands, not the TUI.
	NoPTY bool
	// Expires is when the key stops being accepted; zero means never.
	Expires time.Time
	// From is the from= pattern list as written, or "" when the key may
	// connect from anywhere. Informational: Keys.Authorize enforces it.
	From string
	// Source is where the key was defined, as "file:line".
	Source string
}

// MayUse reports whether the identity may use the named radio.
func (id Identity) MayUse(radio string) bool {
	return id.Radios == nil || slices.Contains(id.Radios, radio)
}

// clone returns a copy that shares no memory with id, so a caller changing
// the Radios slice it was handed cannot change the loaded key set.
func (id Identity) clone() Identity {
	id.Radios = slices.Clone(id.Radios)
	return id
}

// Fingerprint returns key's SHA-256 fingerprint in OpenSSH's format, the form
// used as the lookup key everywhere in this package, or "" for a nil key.
func Fingerprint(key gossh.PublicKey) string {
	if key == nil {
		return ""
	}
	return gossh.FingerprintSHA256(key)
}

// shortFingerprint names a key that has no comment: enough of the
// fingerprint to tell keys apart on screen and to grep for in logs.
func shortFingerprint(fp string) string {
	const keep = len("SHA256:") + 12
	if len(fp) > keep {
		return fp[:keep]
	}
	return fp
}

// maxNameRunes bounds display names: a comment can be as long as a line, and
// names end up in every other user's session list.
const maxNameRunes = 64

// displayName turns a key comment into something safe to print on other
// people's terminals and in logs: control characters (escape sequences
// could otherwise repaint a victim's screen), bidirectional overrides (which
// can make a name read as someone else's) and invalid UTF-8 become U+FFFD,
// and long comments are cut short.
func displayName(comment string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(comment); {
		r, size := utf8.DecodeRuneInString(comment[i:])
		i += size
		if n == maxNameRunes {
			b.WriteRune('…')
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
