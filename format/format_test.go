package format

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func u32(v uint32) *uint32 { return &v }

func TestAge(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "-"},
		{now, "0s"},
		{now.Add(5 * time.Minute), "0s"}, // clock skew: never negative
		{now.Add(-26 * time.Second), "26s"},
		{now.Add(-59*time.Second - 999*time.Millisecond), "59s"},
		{now.Add(-time.Minute), "1m"},
		{now.Add(-5*time.Minute - 40*time.Second), "5m"},
		{now.Add(-3 * time.Hour), "3h"},
		{now.Add(-47*time.Hour - 59*time.Minute), "47h"},
		{now.Add(-48 * time.Hour), "2d"},
		{now.Add(-400 * 24 * time.Hour), "400d"},
	}
	for _, c := range cases {
		if got := Age(now, c.t); got != c.want {
			t.Errorf("Age(now, now%+v) = %q, want %q", c.t.Sub(now), got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "0s"},
		{0, "0s"},
		{400 * time.Millisecond, "0s"},
		{600 * time.Millisecond, "1s"},
		{45 * time.Second, "45s"},
		{time.Minute, "1m"},
		{5 * time.Minute, "5m"},
		{4*time.Minute + 30*time.Second, "4m30s"},
		{time.Hour, "1h"},
		{time.Hour + 30*time.Minute, "1h30m"},
		{time.Hour + 30*time.Minute + 59*time.Second, "1h30m"},
		{23*time.Hour + 59*time.Minute, "23h59m"},
		{24 * time.Hour, "1d"},
		{48 * time.Hour, "2d"},
		{51*time.Hour + 10*time.Minute, "2d3h"},
		{365 * 24 * time.Hour, "365d"},
	}
	for _, c := range cases {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// A shown default or limit can be typed back into a flag or a form.
func TestTyped(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 250 * time.Millisecond: "250ms", 20 * time.Second: "20s", time.Minute: "1m",
		90 * time.Second: "1m30s", 15 * time.Minute: "15m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		24 * time.Hour: "24h", 720 * time.Hour: "720h", time.Hour + time.Second: "1h0m1s"} {
		got := Typed(d)
		if got != want {
			t.Errorf("Typed(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", got, back, err, d)
		}
	}
}

func TestPower(t *testing.T) {
	cases := []struct {
		level     *uint32
		short, lg string
	}{
		{nil, "-", "battery unknown"},
		{u32(0), "0%", "battery 0%"},
		{u32(87), "87%", "battery 87%"},
		{u32(100), "100%", "battery 100%"},
		{u32(101), "ext", "external power"}, // what firmware reports on external power
		{u32(255), "ext", "external power"},
	}
	for _, c := range cases {
		if got := Power(c.level); got != c.short {
			t.Errorf("Power(%v) = %q, want %q", c.level, got, c.short)
		}
		if got := PowerLong(c.level); got != c.lg {
			t.Errorf("PowerLong(%v) = %q, want %q", c.level, got, c.lg)
		}
	}
}

func TestSecret(t *testing.T) {
	if got := Secret(true); got != "(set)" {
		t.Errorf("Secret(true) = %q", got)
	}
	if got := Secret(false); got != "(not set)" {
		t.Errorf("Secret(false) = %q", got)
	}
}

func TestNumber(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-42, "-42"},
		{3.1536e+07, "31536000"},
		{123456789, "123456789"},
		{1e21, "1000000000000000000000"},
		{0.1, "0.1"},
		{2.5, "2.5"},
		{-2.5, "-2.5"},
		{0.1 + 0.2, "0.3"},
		{1.0 / 3, "0.333333"},
		{2.0 / 3, "0.666667"},
		{1234.5, "1234.5"},
		{1234567.891, "1234567.891"},
		{1e-7, "0.0000001"},
		{-1.5e-7, "-0.00000015"},
		{0.000123456789, "0.000123457"},
		{0.9999999, "1"},
	}
	for _, c := range cases {
		got := Number(c.v)
		if got != c.want {
			t.Errorf("Number(%v) = %q, want %q", c.v, got, c.want)
		}
		if strings.ContainsAny(got, "eE") {
			t.Errorf("Number(%v) = %q has an exponent", c.v, got)
		}
	}
}

func TestPlural(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{Plural(0, "node", "nodes"), "0 nodes"},
		{Plural(1, "node", "nodes"), "1 node"},
		{Plural(2, "session", "sessions"), "2 sessions"},
		{Plural(2, "reply", "replies"), "2 replies"},
		{Plural(-1, "hop", "hops"), "-1 hops"},
		{Count(0, "session"), "0 sessions"},
		{Count(1, "session"), "1 session"},
		{Count(3, "session"), "3 sessions"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
}

func TestClean(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "Hana's Pocket", "Hana's Pocket"},
		{"accents", "Café Zürich åäö", "Café Zürich åäö"},
		{"emoji", "📡 base 🏔️👍🏽", "📡 base 🏔️👍🏽"},
		{"cjk", "山の家", "山の家"},
		{"whitespace", "a\nb\tc\rd", "a b c d"},
		{"osc title and clear", "\x1b]0;pwned\x07\x1b[2J", "\uFFFD]0;pwned\uFFFD\uFFFD[2J"},
		{"del", "a\x7fb", "a\uFFFDb"},
		{"nul", "a\x00b", "a\uFFFDb"},
		{"c1 csi", "a\u009b31mb", "a\uFFFD31mb"},
		{"rlo", "\u202Eabc", "\uFFFDabc"},
		{"isolates", "\u2066a\u2067b\u2068c\u2069", "\uFFFDa\uFFFDb\uFFFDc\uFFFD"},
		{"marks", "\u200Ea\u200Fb\u061C", "\uFFFDa\uFFFDb\uFFFD"},
		{"embeddings", "\u202Aa\u202Bb\u202Cc\u202Dd", "\uFFFDa\uFFFDb\uFFFDc\uFFFDd"},
		{"invalid utf8", "a\xffb\xc3", "a\uFFFDb\uFFFD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Clean(c.in)
			if got != c.want {
				t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
			}
			checkClean(t, c.in, got)
		})
	}
}

// checkClean holds for everything Clean returns.
func checkClean(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("Clean(%q) = %q: invalid UTF-8", in, out)
	}
	for i := 0; i < len(out); i++ {
		if c := out[i]; c < 0x20 || c == 0x7f {
			t.Fatalf("Clean(%q) = %q: byte %#02x at %d", in, out, c, i)
		}
	}
	for _, r := range out {
		switch {
		case r >= 0x80 && r <= 0x9f,
			r >= 0x202A && r <= 0x202E,
			r >= 0x2066 && r <= 0x2069,
			r == 0x200E, r == 0x200F, r == 0x061C:
			t.Fatalf("Clean(%q) = %q: contains %U", in, out, r)
		}
	}
	if utf8.ValidString(in) && utf8.RuneCountInString(out) != utf8.RuneCountInString(in) {
		t.Fatalf("Clean(%q) = %q: %d runes in, %d out", in, out, utf8.RuneCountInString(in), utf8.RuneCountInString(out))
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "hello", "\x1b]0;pwned\x07\x1b[2J", "\u202Eabc", "Café 📡", "\xff\xfe", "\u009b2J"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		checkClean(t, s, out)
		if again := Clean(out); again != out {
			t.Fatalf("Clean is not idempotent on %q: %q then %q", s, out, again)
		}
	})
}
