package responder

import (
	"fmt"
	"strings"
)

// The rule settings are small enums. They are stored and shown as words
// (the same words the command line takes), so their numeric values are free
// to change; the zero value of each is the least surprising default.

// MatchKind says how a rule's trigger is compared with a message. Every
// kind ignores case.
type MatchKind uint8

// Match kinds.
const (
	// MatchExact: the whole message, trimmed of surrounding spaces, equals
	// the trigger.
	MatchExact MatchKind = iota
	// MatchContains: the trigger appears anywhere in the message.
	MatchContains
	// MatchPrefix: the message starts with the trigger, leading spaces of
	// both ignored.
	MatchPrefix
	// MatchRegex: the trigger is a regular expression (RE2 syntax, so
	// matching time is linear in the message whatever the pattern) found
	// anywhere in the message.
	MatchRegex
)

var matchNames = []string{"exact", "contains", "prefix", "regex"}

// ParseMatchKind reads a match kind as the command line spells it; it also
// accepts "starts-with" and "regexp".
func ParseMatchKind(s string) (MatchKind, error) {
	return parseEnum[MatchKind]("match kind", matchNames, map[string]MatchKind{
		"starts-with": MatchPrefix, "startswith": MatchPrefix, "regexp": MatchRegex,
	}, s)
}

func (k MatchKind) String() string                { return enumName(matchNames, k) }
func (k MatchKind) MarshalText() ([]byte, error)  { return enumText(matchNames, k) }
func (k *MatchKind) UnmarshalText(b []byte) error { return unmarshalEnum(k, ParseMatchKind, b) }

// MsgType says which messages a rule answers: broadcasts to a channel,
// direct messages to our node, or both.
type MsgType uint8

// Message types.
const (
	TypeBoth MsgType = iota
	TypeBroadcast
	TypeDirect
)

var typeNames = []string{"both", "broadcast", "direct"}

// ParseMsgType reads a message type ("both", "broadcast", "direct"; "dm" is
// accepted for direct).
func ParseMsgType(s string) (MsgType, error) {
	return parseEnum[MsgType]("message type", typeNames, map[string]MsgType{"dm": TypeDirect}, s)
}

func (t MsgType) String() string                { return enumName(typeNames, t) }
func (t MsgType) MarshalText() ([]byte, error)  { return enumText(typeNames, t) }
func (t *MsgType) UnmarshalText(b []byte) error { return unmarshalEnum(t, ParseMsgType, b) }

// Source says which path a message must have come by: over the air (RF),
// through an MQTT broker, or either.
type Source uint8

// Sources.
const (
	SourceBoth Source = iota
	SourceRF
	SourceMQTT
)

var sourceNames = []string{"both", "rf", "mqtt"}

// ParseSource reads a source ("both", "rf", "mqtt").
func ParseSource(s string) (Source, error) {
	return parseEnum[Source]("source", sourceNames, nil, s)
}

func (s Source) String() string                { return enumName(sourceNames, s) }
func (s Source) MarshalText() ([]byte, error)  { return enumText(sourceNames, s) }
func (s *Source) UnmarshalText(b []byte) error { return unmarshalEnum(s, ParseSource, b) }

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

func parseEnum[T ~uint8](what string, names []string, aliases map[string]T, s string) (T, error) {
	w := strings.ToLower(strings.TrimSpace(s))
	for i, n := range names {
		if w == n {
			return T(i), nil
		}
	}
	if v, ok := aliases[w]; ok {
		return v, nil
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
