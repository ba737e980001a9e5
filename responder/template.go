package responder

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Templates are plain text with variables in braces: "pong {sender_name},
// {hops} hops". A variable is "{" then lowercase letters and underscores
// then "}"; any other brace is literal text, so "{}" or "{ x }" print as
// written. A variable name the template kind does not know is a validation
// error rather than literal text, because a typo would otherwise go out on
// the air verbatim.
//
// Rendering is a single pass over the template: a value that itself looks
// like a variable (a sender whose message is "{my_id}") is copied, never
// expanded again.

// ErrUnknownVariable is wrapped (together with ErrInvalid) by validation
// errors about a variable the template kind does not provide.
var ErrUnknownVariable = errors.New("unknown template variable")

// MaxTemplateBytes bounds a template's length. Replies are clamped to one
// packet (about 200 bytes) anyway; the bound leaves room for variables
// that render shorter than their names without accepting a novel.
const MaxTemplateBytes = 500

// Rule template variables, in the order help screens list them.
var ruleVariables = []string{
	"sender_name", "sender_short", "sender_id", "my_name", "my_id", "message",
	"message_type", "source_type", "hops", "snr", "rssi", "time",
}

// Beacon template variables, in the order help screens list them.
var beaconVariables = []string{
	"my_name", "my_id", "battery", "voltage", "uptime", "time", "lat", "lon", "alt", "nodes",
}

// RuleVariables returns the variables a rule's reply template may use.
func RuleVariables() []string { return append([]string(nil), ruleVariables...) }

// BeaconVariables returns the variables a beacon template may use.
func BeaconVariables() []string { return append([]string(nil), beaconVariables...) }

// segment is one piece of a parsed template: literal text, or a variable
// name when isVar is set.
type segment struct {
	text  string
	isVar bool
}

// parseTemplate splits t into literal text and variable references. It
// never fails: whatever is not a well-formed reference is literal.
func parseTemplate(t string) []segment {
	var segs []segment
	lit := 0 // start of the pending literal run
	for i := 0; i < len(t); {
		if t[i] != '{' {
			i++
			continue
		}
		j := i + 1
		for j < len(t) && (t[j] >= 'a' && t[j] <= 'z' || t[j] == '_') {
			j++
		}
		if j == i+1 || j >= len(t) || t[j] != '}' {
			i++
			continue
		}
		if lit < i {
			segs = append(segs, segment{text: t[lit:i]})
		}
		segs = append(segs, segment{text: t[i+1 : j], isVar: true})
		i = j + 1
		lit = i
	}
	if lit < len(t) {
		segs = append(segs, segment{text: t[lit:]})
	}
	return segs
}

// checkTemplate validates a template against the variables its kind knows.
func checkTemplate(what, t string, known []string) error {
	switch {
	case strings.TrimSpace(t) == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case len(t) > MaxTemplateBytes:
		return fmt.Errorf("%w: %s is %d bytes, longer than %d", ErrInvalid, what, len(t), MaxTemplateBytes)
	case !utf8.ValidString(t):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	for _, s := range parseTemplate(t) {
		if s.isVar && !slices.Contains(known, s.text) {
			return fmt.Errorf("%w: %w {%s} in %s (known: %s)", ErrInvalid, ErrUnknownVariable,
				s.text, what, "{"+strings.Join(known, "}, {")+"}")
		}
	}
	return nil
}

// render expands t, asking value for each variable. Unknown variables
// (ok false) are kept as written, so an unvalidated template still renders
// something recognisable. Values are made valid UTF-8 before they go in.
func render(t string, value func(name string) (string, bool)) string {
	var b strings.Builder
	b.Grow(len(t) + 32)
	for _, s := range parseTemplate(t) {
		if !s.isVar {
			b.WriteString(s.text)
			continue
		}
		v, ok := value(s.text)
		if !ok {
			b.WriteString("{" + s.text + "}")
			continue
		}
		b.WriteString(v)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// ellipsis marks a clamped text, so a reader knows it was cut.
const ellipsis = "…"

// Clamp shortens s to at most limit bytes without splitting a UTF-8
// sequence, ending a shortened text with "…" when there is room for it.
// Invalid UTF-8 in s is replaced first. limit <= 0 means no limit.
func Clamp(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if limit <= 0 || len(s) <= limit {
		return s
	}
	mark := ellipsis
	cut := limit - len(mark)
	if cut <= 0 {
		mark, cut = "", limit
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
