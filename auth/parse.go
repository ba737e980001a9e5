package auth

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Problem is a line of an authorized_keys file that was ignored, or kept
// with a warning. Problems are reported, never fatal: one bad line must not
// lock out the users on the lines after it.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Set is a parsed authorized_keys file: identities by fingerprint, plus the
// checks (source addresses) that Keys.Authorize applies at login. A Set is
// never changed after Parse returns, so it can be shared freely.
type Set struct {
	byFingerprint map[string]entry
	order         []string // fingerprints in file order, for listings
}

// entry is an Identity plus the parts of its line that are enforced rather
// than displayed.
type entry struct {
	id   Identity
	from *sourcePolicy // nil: any source
}

// Len is the number of keys in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.order)
}

// Lookup finds the identity for a fingerprint as returned by Fingerprint.
// It does not check expiry or the client's address; use Keys.Authorize to
// decide whether a login is allowed.
func (s *Set) Lookup(fingerprint string) (Identity, bool) {
	if s == nil {
		return Identity{}, false
	}
	e, ok := s.byFingerprint[fingerprint]
	return e.id.clone(), ok
}

// Identities lists every identity in the order the file defines them.
func (s *Set) Identities() []Identity {
	if s == nil {
		return nil
	}
	out := make([]Identity, 0, len(s.order))
	for _, fp := range s.order {
		out = append(out, s.byFingerprint[fp].id.clone())
	}
	return out
}

// maxLineLen bounds one line. The largest keys OpenSSH generates (16384-bit
// RSA) take under 3 KiB of base64; anything far bigger is not a key, and
// reading it whole would let a stray binary file eat memory.
const maxLineLen = 64 << 10

// Parse reads an authorized_keys file in OpenSSH's format, plus meshgate's
// role= and radios= options. filename is only used to label problems and
// identities. Every line that cannot be honoured exactly is skipped and
// reported; parsing always continues with the next line.
func Parse(r io.Reader, filename string) (*Set, []Problem) {
	set := &Set{byFingerprint: make(map[string]entry)}
	var problems []Problem
	report := func(line int, format string, args ...any) {
		problems = append(problems, Problem{File: filename, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	firstLine := make(map[string]int) // fingerprint → line that defined it

	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		raw, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			// Do not act on a line that may have been cut short.
			report(n, "read error: %v; the rest of the file is ignored", err)
			break
		}
		if n == 1 {
			// Editors on some systems start files with a byte
			// order mark; it is not part of the first key.
			raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
		}
		switch e, warnings, perr := parseLine(string(raw), filename, n); {
		case tooLong:
			report(n, "line longer than %d bytes; line ignored", maxLineLen)
		case perr != nil:
			report(n, "%v; line ignored", perr)
		case e == nil:
			// blank or comment
		case firstLine[e.id.Fingerprint] != 0:
			report(n, "duplicate key %s (first defined on line %d, which wins); line ignored",
				e.id.Fingerprint, firstLine[e.id.Fingerprint])
		default:
			for _, w := range warnings {
				report(n, "%s", w)
			}
			fp := e.id.Fingerprint
			firstLine[fp] = n
			set.byFingerprint[fp] = *e
			set.order = append(set.order, fp)
		}
		if err != nil { // io.EOF: that was the last line
			break
		}
	}
	return set, problems
}

// readLine returns the next line without its line ending, and io.EOF with
// the last line. A line longer than maxLineLen is consumed up to its end and
// reported with tooLong, so the lines after it are still read.
func readLine(br *bufio.Reader) ([]byte, bool, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > maxLineLen+2 { // +2: room for "\r\n"
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		return line, tooLong, err
	}
}

// parseLine parses one line. It returns (nil, nil, nil) for blank lines and
// comments, an error for lines that must be skipped, and otherwise the entry
// together with warnings worth reporting about a line that is kept.
func parseLine(line, filename string, n int) (*entry, []string, error) {
	rest := strings.TrimLeft(line, " \t")
	if rest == "" || rest[0] == '#' {
		return nil, nil, nil
	}

	// A line starts either with the key type or with an options field.
	// sshd finds out by trying to read a key first; naming the key types
	// we know gives clearer errors for a damaged key than "unknown option".
	var opts []option
	if first, after := cutField(rest); !knownKeyType(first) {
		if err := explainMissingType(first, after); err != nil {
			return nil, nil, err
		}
		var err error
		if opts, rest, err = splitOptions(rest); err != nil {
			return nil, nil, err
		}
	}

	// Options are checked before the key, so a line of prose is reported
	// as an unknown option ("this") rather than as a bad key type ("is").
	// Operator is the default: in OpenSSH a listed key gets a full login,
	// so a bare line means a working team member. Read-only access and
	// admin rights both have to be asked for.
	e := &entry{id: Identity{Role: Operator}}
	warnings, err := applyOptions(e, opts)
	if err != nil {
		return nil, nil, err
	}
	key, comment, err := parseKey(rest)
	if err != nil {
		return nil, nil, err
	}
	e.id.Fingerprint = gossh.FingerprintSHA256(key)
	e.id.Name = displayName(comment)
	if e.id.Name == "" {
		e.id.Name = shortFingerprint(e.id.Fingerprint)
	}
	e.id.Source = filename + ":" + strconv.Itoa(n)
	return e, warnings, nil
}

// explainMissingType catches lines whose first field is neither a key type
// nor options, which would otherwise be reported as a baffling option error.
func explainMissingType(first, after string) error {
	if strings.HasPrefix(first, "AAAA") {
		return errors.New("the key type is missing before the key data")
	}
	name := strings.ToLower(first)
	isFlag, _ := flagOption(name)
	_, isRefused := refusedOption(name)
	next, _ := cutField(strings.TrimLeft(after, " \t"))
	if !isFlag && !isRefused && !strings.ContainsAny(first, "=,\"") && strings.HasPrefix(next, "AAAA") {
		return fmt.Errorf("unknown key type %s", quote(first))
	}
	return nil
}

// cutField splits s at the first space or tab.
func cutField(s string) (field, rest string) {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// knownKeyType reports whether s names a public key or certificate format.
// Formats x/crypto cannot parse (DSA, ML-DSA in this Go version) are listed
// so that their lines get "cannot parse" rather than "unknown option".
func knownKeyType(s string) bool {
	switch s {
	case gossh.KeyAlgoRSA, gossh.InsecureKeyAlgoDSA,
		gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA521,
		gossh.KeyAlgoSKECDSA256, gossh.KeyAlgoED25519, gossh.KeyAlgoSKED25519,
		gossh.KeyAlgoMLDSA44, gossh.KeyAlgoMLDSA65, gossh.KeyAlgoMLDSA87:
		return true
	}
	return strings.HasSuffix(s, "-cert-v01@openssh.com")
}

// parseKey reads "type base64 [comment]". The declared type must match the
// type inside the key data, as sshd requires: otherwise an option written
// where the type belongs (say, a misspelt "restrict") would vanish silently.
func parseKey(s string) (gossh.PublicKey, string, error) {
	s = strings.TrimLeft(s, " \t")
	typ, rest := cutField(s)
	if typ == "" {
		return nil, "", errors.New("no key after the options")
	}
	if !knownKeyType(typ) {
		return nil, "", fmt.Errorf("unknown key type %s", quote(typ))
	}
	if strings.HasSuffix(typ, "-cert-v01@openssh.com") {
		// A certificate's validity period and principals would need
		// checking, and a client may present its plain key instead.
		return nil, "", errors.New("certificates are not supported; list the plain public key")
	}
	b64, rest := cutField(strings.TrimLeft(rest, " \t"))
	if b64 == "" {
		return nil, "", fmt.Errorf("no key data after %s", typ)
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "", fmt.Errorf("%s key data is not valid base64", typ)
	}
	key, err := gossh.ParsePublicKey(blob)
	if err != nil {
		return nil, "", fmt.Errorf("cannot parse %s key: %v", typ, err)
	}
	if key.Type() != typ {
		return nil, "", fmt.Errorf("line says %s but the key data is %s", typ, key.Type())
	}
	if _, isCert := key.(*gossh.Certificate); isCert {
		return nil, "", errors.New("certificates are not supported; list the plain public key")
	}
	return key, strings.Trim(rest, " \t"), nil
}

// option is one item of the options field. Names are lower-cased, since
// sshd matches them without regard to case.
type option struct {
	name     string
	value    string
	hasValue bool
}

// splitOptions reads the comma-separated options field at the start of s
// and returns the options and what follows the field. The field ends at
// the first space or tab outside double quotes. Values must be quoted, as
// sshd requires; inside quotes, \" stands for a quote and commas and spaces
// are ordinary characters.
func splitOptions(s string) ([]option, string, error) {
	var opts []option
	i := 0
	for {
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		if i == start {
			return nil, "", errors.New("empty option name")
		}
		if !isOptionName(s[start:i]) {
			return nil, "", fmt.Errorf("%s is neither a key type nor an option", quote(s[start:i]))
		}
		o := option{name: strings.ToLower(s[start:i])}
		if i < len(s) && s[i] == '=' {
			i++
			if i >= len(s) || s[i] != '"' {
				return nil, "", fmt.Errorf("value of option %s must be in double quotes", quote(o.name))
			}
			i++
			var v strings.Builder
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '"' {
					closed = true
					i++
					break
				}
				if c == '\\' && i+1 < len(s) && s[i+1] == '"' {
					c = '"'
					i++
				}
				v.WriteByte(c)
				i++
			}
			if !closed {
				return nil, "", fmt.Errorf("value of option %s has no closing quote", quote(o.name))
			}
			o.value, o.hasValue = v.String(), true
		}
		opts = append(opts, o)
		if i >= len(s) {
			return nil, "", errors.New("no key after the options")
		}
		switch s[i] {
		case ',':
			i++
		case ' ', '\t':
			return opts, s[i:], nil
		default:
			return nil, "", fmt.Errorf("unexpected %s after option %s", quote(s[i:i+1]), quote(o.name))
		}
	}
}

// isOptionName reports whether s could name an option: sshd's are all
// letters, digits and hyphens. Anything else is a damaged line, and saying
// so beats calling a run of binary junk an "unknown option".
func isOptionName(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// refusedOption returns why an OpenSSH option cannot be honoured, if it is
// one of those. Accepting the key while ignoring such an option would grant
// more than the line says (a forced command ignored is a full login), so
// the whole line is skipped instead.
func refusedOption(name string) (why string, refused bool) {
	switch name {
	case "command":
		return "meshgate cannot force a command", true
	case "cert-authority", "principals":
		return "certificate logins are not supported", true
	case "environment":
		return "meshgate does not set environment variables", true
	case "permitopen", "permitlisten":
		return "the line is meant for port forwarding, which meshgate never offers", true
	case "tunnel":
		return "the line is meant for tunnel forwarding, which meshgate never offers", true
	case "verify-required":
		return "meshgate cannot check that a security key verified its user", true
	}
	return "", false
}

// ptyEffect is what a value-less option does to Identity.NoPTY.
type ptyEffect int

const (
	ptyUnchanged ptyEffect = iota
	ptyOff
	ptyOn
)

// flagOption reports whether name is a value-less OpenSSH option we accept,
// and its effect. "restrict" turns the PTY off, as in sshd, and a later
// "pty" turns it back on. The forwarding and rc options change nothing here:
// meshgate never forwards ports, agents or X11 and runs no rc files, so
// granting or denying them is moot. "no-touch-required" is accepted but not
// acted on, so security keys still need a touch, which only asks more of
// the user than the line does.
func flagOption(name string) (known bool, effect ptyEffect) {
	switch name {
	case "no-pty", "restrict":
		return true, ptyOff
	case "pty":
		return true, ptyOn
	case "no-port-forwarding", "port-forwarding",
		"no-agent-forwarding", "agent-forwarding",
		"no-x11-forwarding", "x11-forwarding",
		"no-user-rc", "user-rc",
		"no-touch-required":
		return true, ptyUnchanged
	}
	return false, ptyUnchanged
}

// applyOptions sets e's fields from the options, left to right as sshd
// does, so "restrict,pty" allows a PTY and "pty,restrict" does not.
func applyOptions(e *entry, opts []option) ([]string, error) {
	var warnings []string
	seen := make(map[string]bool)
	for _, o := range opts {
		if why, refused := refusedOption(o.name); refused {
			return nil, fmt.Errorf("option %s is not supported (%s)", quote(o.name), why)
		}
		valued := o.name == "from" || o.name == "expiry-time" || o.name == "role" || o.name == "radios"
		switch {
		case valued && !o.hasValue:
			return nil, fmt.Errorf("option %s needs a value", quote(o.name))
		case valued && seen[o.name]:
			// Which one would the author mean? Refuse to guess.
			return nil, fmt.Errorf("option %s given twice", quote(o.name))
		case !valued && o.hasValue:
			if known, _ := flagOption(o.name); known {
				return nil, fmt.Errorf("option %s takes no value", quote(o.name))
			}
		}
		seen[o.name] = true

		switch o.name {
		case "from":
			pol, w, err := compileFrom(o.value)
			if err != nil {
				return nil, err
			}
			e.from, e.id.From = pol, o.value
			warnings = append(warnings, w...)
		case "expiry-time":
			t, err := parseExpiry(o.value, time.Local)
			if err != nil {
				return nil, err
			}
			e.id.Expires = t
		case "role":
			r, err := ParseRole(o.value)
			if err != nil {
				return nil, err
			}
			e.id.Role = r
		case "radios":
			radios, err := parseRadios(o.value)
			if err != nil {
				return nil, err
			}
			e.id.Radios = radios
		default:
			known, effect := flagOption(o.name)
			if !known {
				return nil, fmt.Errorf("unknown option %s", quote(o.name))
			}
			switch effect {
			case ptyOff:
				e.id.NoPTY = true
			case ptyOn:
				e.id.NoPTY = false
			}
		}
	}
	return warnings, nil
}

// parseExpiry reads expiry-time="YYYYMMDD[HHMM[SS]][Z]" like sshd: local time
// unless the value ends in Z, which means UTC.
func parseExpiry(v string, local *time.Location) (time.Time, error) {
	loc := local
	digits := v
	if d, ok := strings.CutSuffix(v, "Z"); ok {
		loc, digits = time.UTC, d
	}
	var layout string
	switch len(digits) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	}
	if layout == "" || strings.Trim(digits, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("expiry-time %s is not YYYYMMDD[HHMM[SS]][Z]", quote(v))
	}
	t, err := time.ParseInLocation(layout, digits, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry-time %s is not a valid date and time", quote(v))
	}
	return t, nil
}

// parseRadios reads radios="name,name". An empty list is an error rather
// than "no radios": a key that may use nothing is better removed, and an
// empty value is more likely a mistake.
func parseRadios(v string) ([]string, error) {
	var radios []string
	for name := range strings.SplitSeq(v, ",") {
		name = strings.Trim(name, " \t")
		if name == "" {
			return nil, fmt.Errorf("radios=%s has an empty radio name", quote(v))
		}
		if !slices.Contains(radios, name) {
			radios = append(radios, name)
		}
	}
	return radios, nil
}

// quote formats text from the file for a message: quoted, so odd bytes are
// visible, and shortened, so a garbage line does not flood the log.
func quote(s string) string {
	const limit = 40
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}
