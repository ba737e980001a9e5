// Package format is the one place for the words and numbers users read:
// ages, durations, battery levels, secrets, plain numbers, counts of
// things, and the sanitiser for text that arrives over the mesh.
//
// The gateway has several front ends (the terminal UI, exec commands over
// SSH, the command line). When each one spells these out itself they drift
// apart: one says "PWR", another "power", a third "101%"; one prints
// "5m0s", another "5m". Keeping the wording here means every front end
// says the same thing, and a change of wording is made once.
package format

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Age says how long ago t was, in one unit: "26s", "5m", "3h" (up to two
// days), then "2d". The zero time is "-" (never); a time in the future,
// which clock skew between radios produces, is "0s".
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// Typed is a duration the way a user types it into a flag or a form, so
// that a default or a limit shown can be typed back: Go's syntax without
// zero units: "0s", "30s", "15m", "1h30m", "24h" (d.String() would
// give "1h0m0s").
func Typed(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Duration is a short duration for countdowns, cooldowns and uptimes, in
// at most its two largest units with a zero second unit left out: "45s",
// "5m", "4m30s", "1h", "1h30m", "2d", "2d3h". It rounds to the second;
// anything below half a second, or negative, is "0s".
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	two := func(a int64, au string, b int64, bu string) string {
		s := strconv.FormatInt(a, 10) + au
		if b != 0 {
			s += strconv.FormatInt(b, 10) + bu
		}
		return s
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return two(s/60, "m", s%60, "s")
	case s < 86400:
		return two(s/3600, "h", s/60%60, "m")
	}
	return two(s/86400, "d", s/3600%24, "h")
}

// Power is a battery level for tables: "-" when unknown, "87%", or "ext"
// when the node runs on external power. Meshtastic firmware reports a
// battery level of 101 when the node is powered externally (USB or a
// supply), so anything above 100 means external power, not a battery.
func Power(level *uint32) string {
	switch {
	case level == nil:
		return "-"
	case *level > 100:
		return "ext"
	}
	return strconv.FormatUint(uint64(*level), 10) + "%"
}

// PowerLong is the same level as a phrase for detail views: "battery
// unknown", "battery 87%", or "external power" (above 100, see Power).
func PowerLong(level *uint32) string {
	switch {
	case level == nil:
		return "battery unknown"
	case *level > 100:
		return "external power"
	}
	return "battery " + Power(level)
}

// Secret says whether a password or key is set without showing it.
func Secret(set bool) string {
	if set {
		return "(set)"
	}
	return "(not set)"
}

// Number prints a number without exponent notation: whole numbers without
// decimals (31536000, not 3.1536e+07), others with six significant digits
// after the point at most, trailing zeros trimmed (0.1, 2.5, 0.0000001,
// 0.333333, 1234.5).
func Number(v float64) string {
	switch {
	case v == 0:
		return "0" // also -0
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	prec := 6
	if a := math.Abs(v); a < 1 {
		// Six significant digits: as many decimals as it takes to
		// reach the first nonzero digit, and five more.
		prec = 5 - int(math.Floor(math.Log10(a)))
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Plural counts things: Plural(1, "node", "nodes") is "1 node",
// Plural(0, "node", "nodes") is "0 nodes".
func Plural(n int, one, many string) string {
	if n == 1 {
		return strconv.Itoa(n) + " " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Count is Plural for nouns whose plural just adds an s: Count(1,
// "session") is "1 session", Count(3, "session") is "3 sessions".
func Count(n int, noun string) string { return Plural(n, noun, noun+"s") }

// Clean makes text that came over the mesh safe to print: names and
// messages are chosen by strangers, and a control character or escape
// sequence in them must not reach a user's terminal. Control characters
// (C0, DEL and C1, so ESC, BEL and CSI can never start a sequence),
// bidirectional overrides, isolates and marks (U+202A-U+202E,
// U+2066-U+2069, U+200E, U+200F, U+061C) and invalid UTF-8 become U+FFFD;
// newlines, carriage returns and tabs become spaces. Everything else,
// accents and emoji included, passes through, and the result is always
// valid UTF-8.
func Clean(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			ok = false
			break
		}
	}
	if ok {
		return s // plain printable ASCII, the common case
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			b.WriteByte(' ')
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
