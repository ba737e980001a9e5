// Package filter decides which packets a view, the history and the
// auto-responder see. A Filter is one allow or block entry (a node, a port,
// a channel or a text pattern); a Set is the compiled list that applies to
// one audience: a user's own filters only change that user's views, while
// radio-wide filters (what the responder and the history ignore) are set by
// admins. Packets a Set hides are meant to be counted (see Counter), so a
// view can say "12 filtered" rather than let traffic silently vanish.
package filter

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("filter: invalid")

// MaxPatternBytes bounds a text pattern; a message is at most ~230 bytes.
const MaxPatternBytes = 200

// maxChannel is the highest channel index (a radio has 8 slots).
const maxChannel = 7

// Scope says whose filter it is.
type Scope uint8

// Scopes. The zero value is the least powerful one.
const (
	// ScopeUser filters only change their owner's views. Any operator may
	// make them for themselves.
	ScopeUser Scope = iota
	// ScopeRadio filters apply to the whole radio: the history and the
	// auto-responder ignore what they hide. Admins only.
	ScopeRadio
)

// Mode says what a matching filter does.
type Mode uint8

// Modes.
const (
	Block Mode = iota // hide what matches
	Allow             // show only what matches (see Set for how allow lists combine)
)

// Kind says what a filter looks at.
type Kind uint8

// Kinds.
const (
	KindNode    Kind = iota // Value is a node id ("!a1b2c3d4"); matches packets from or to it
	KindPort                // Value is a port name ("TEXT_MESSAGE", "POSITION_APP") or number
	KindChannel             // Value is a channel index, 0-7
	KindText                // Value is a case-insensitive substring of the text
	KindRegex               // Value is a regular expression (RE2, case-insensitive) on the text
)

var (
	scopeNames = []string{"user", "radio"}
	modeNames  = []string{"block", "allow"}
	kindNames  = []string{"node", "port", "channel", "text", "regex"}
)

// ParseScope reads "user" or "radio".
func ParseScope(s string) (Scope, error) { return parseEnum[Scope]("scope", scopeNames, s) }

// ParseMode reads "block" or "allow".
func ParseMode(s string) (Mode, error) { return parseEnum[Mode]("mode", modeNames, s) }

// ParseKind reads "node", "port", "channel", "text" or "regex".
func ParseKind(s string) (Kind, error) { return parseEnum[Kind]("kind", kindNames, s) }

func (s Scope) String() string                { return enumName(scopeNames, s) }
func (s Scope) MarshalText() ([]byte, error)  { return enumText(scopeNames, s) }
func (s *Scope) UnmarshalText(b []byte) error { return unmarshalEnum(s, ParseScope, b) }
func (m Mode) String() string                 { return enumName(modeNames, m) }
func (m Mode) MarshalText() ([]byte, error)   { return enumText(modeNames, m) }
func (m *Mode) UnmarshalText(b []byte) error  { return unmarshalEnum(m, ParseMode, b) }
func (k Kind) String() string                 { return enumName(kindNames, k) }
func (k Kind) MarshalText() ([]byte, error)   { return enumText(kindNames, k) }
func (k *Kind) UnmarshalText(b []byte) error  { return unmarshalEnum(k, ParseKind, b) }

// Filter is one allow or block entry.
type Filter struct {
	ID        int64  `json:"id"`
	Scope     Scope  `json:"scope"`
	Owner     string `json:"owner"` // key fingerprint: the user it belongs to (ScopeUser) or the admin who set it
	OwnerName string `json:"owner_name,omitempty"`
	// Radio is the radio it applies to. A user filter may leave it empty
	// to apply on every radio (a spamming node is a spammer everywhere);
	// a radio-wide filter must name its radio.
	Radio   string `json:"radio"`
	Mode    Mode   `json:"mode"`
	Kind    Kind   `json:"kind"`
	Value   string `json:"value"`
	Enabled bool   `json:"enabled"`
}

// check validates what is not the value.
func (f *Filter) check() error {
	switch {
	case int(f.Scope) >= len(scopeNames):
		return fmt.Errorf("%w: scope %d out of range", ErrInvalid, f.Scope)
	case int(f.Mode) >= len(modeNames):
		return fmt.Errorf("%w: mode %d out of range", ErrInvalid, f.Mode)
	case int(f.Kind) >= len(kindNames):
		return fmt.Errorf("%w: kind %d out of range", ErrInvalid, f.Kind)
	case strings.TrimSpace(f.Owner) == "":
		return fmt.Errorf("%w: filter has no owner", ErrInvalid)
	case f.Scope == ScopeRadio && strings.TrimSpace(f.Radio) == "":
		return fmt.Errorf("%w: a radio-wide filter must name its radio", ErrInvalid)
	}
	return nil
}

// Validate reports the first problem with f, wrapping ErrInvalid. A
// regex filter's pattern must compile within MaxRegexInsts and
// MaxRegexRanges (see CompileRegex).
func (f *Filter) Validate() error {
	_, err := compileChecked(*f)
	return err
}

// compileChecked validates f and compiles it, once.
func compileChecked(f Filter) (compiled, error) {
	if err := f.check(); err != nil {
		return compiled{}, err
	}
	return compile(f, true)
}

// String describes the filter in a few words: "block node !a1b2c3d4".
func (f Filter) String() string {
	v := f.Value
	if c, err := compile(f, false); err == nil {
		v = c.shown
	}
	return fmt.Sprintf("%s %s %s", f.Mode, f.Kind, v)
}

// compiled is a validated filter with its value parsed once.
type compiled struct {
	id     int64
	kind   Kind
	num    uint32         // node number, port number or channel
	lower  string         // KindText: the pattern, lowercased
	re     *regexp.Regexp // KindRegex
	shown  string         // the value in canonical form, for reasons
	reason string         // "blocked by #12: node !a1b2c3d4"
}

// compile parses f's value; withRegex also compiles a regex filter's
// pattern (String only needs its canonical form).
func compile(f Filter, withRegex bool) (compiled, error) {
	c := compiled{id: f.ID, kind: f.Kind}
	v := strings.TrimSpace(f.Value)
	if v == "" {
		return c, fmt.Errorf("%w: %s filter has no value", ErrInvalid, f.Kind)
	}
	switch f.Kind {
	case KindNode:
		n, err := meshtastic.ParseNodeID(v)
		if err != nil {
			return c, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if n == meshtastic.Broadcast {
			return c, fmt.Errorf("%w: the broadcast address is not a node", ErrInvalid)
		}
		c.num, c.shown = n, meshtastic.NodeID(n)
	case KindPort:
		p, err := ParsePort(v)
		if err != nil {
			return c, err
		}
		c.num, c.shown = uint32(p), portName(p)
	case KindChannel:
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || n > maxChannel {
			return c, fmt.Errorf("%w: channel %q is not an index 0-%d", ErrInvalid, v, maxChannel)
		}
		c.num, c.shown = uint32(n), v
	case KindText, KindRegex:
		if len(f.Value) > MaxPatternBytes {
			return c, fmt.Errorf("%w: pattern is %d bytes, longer than %d", ErrInvalid, len(f.Value), MaxPatternBytes)
		}
		if !utf8.ValidString(f.Value) {
			return c, fmt.Errorf("%w: pattern is not valid UTF-8", ErrInvalid)
		}
		// Text patterns keep their spaces: " ok " is a different pattern
		// from "ok".
		c.shown = strconv.Quote(f.Value)
		if f.Kind == KindText {
			c.lower = strings.ToLower(f.Value)
			break
		}
		if !withRegex {
			break
		}
		re, err := CompileRegex(f.Value)
		if err != nil {
			return c, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		c.re = re
	default:
		return c, fmt.Errorf("%w: kind %d out of range", ErrInvalid, f.Kind)
	}
	verb := "blocked by"
	if f.Mode == Allow {
		verb = "allowed by"
	}
	c.reason = fmt.Sprintf("%s #%d: %s %s", verb, f.ID, f.Kind, c.shown)
	return c, nil
}

// ParsePort reads a port as a number or a name, with or without the
// "_APP" suffix, in any case: "1", "text_message", "TEXT_MESSAGE_APP".
func ParsePort(s string) (pb.PortNum, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return pb.PortNum(n), nil
	}
	name := strings.ToUpper(s)
	for _, cand := range []string{name, name + "_APP"} {
		if v, ok := pb.PortNum_value[cand]; ok {
			return pb.PortNum(v), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown port %q", ErrInvalid, s)
}

// portName is the port's name without "_APP", as the packet views show it.
func portName(p pb.PortNum) string {
	if name, ok := pb.PortNum_name[int32(p)]; ok {
		return strings.TrimSuffix(name, "_APP")
	}
	return strconv.FormatUint(uint64(p), 10)
}

// matches reports whether the filter's condition holds for a packet.
func (c *compiled) matches(p *pb.MeshPacket, text string) bool {
	switch c.kind {
	case KindNode:
		return p.GetFrom() == c.num || p.GetTo() == c.num
	case KindPort:
		return uint32(p.GetDecoded().GetPortnum()) == c.num
	case KindChannel:
		return p.GetChannel() == c.num
	case KindText:
		return strings.Contains(strings.ToLower(text), c.lower)
	case KindRegex:
		return c.re.MatchString(text)
	}
	return false
}

func enumName[T ~uint8](names []string, v T) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("invalid(%d)", uint8(v))
}

func enumText[T ~uint8](names []string, v T) ([]byte, error) {
	if int(v) >= len(names) {
		return nil, fmt.Errorf("%w: value %d out of range", ErrInvalid, uint8(v))
	}
	return []byte(names[v]), nil
}

func parseEnum[T ~uint8](what string, names []string, s string) (T, error) {
	w := strings.ToLower(strings.TrimSpace(s))
	for i, n := range names {
		if w == n {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown %s %q (want %s)", ErrInvalid, what, s, strings.Join(names, ", "))
}

func unmarshalEnum[T ~uint8](dst *T, parse func(string) (T, error), b []byte) error {
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
