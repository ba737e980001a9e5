package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// Regression: a command line or a name with a newline must not start a
// line of its own in the text log, where it could pass for the gateway's.
func TestTextLogCannotBeForged(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Text, "info")
	forged := "send hi\n2026-12-03T05:00:00Z WARN  auth fail user=admin"
	l.Info("exec", "command", forged, "user", "eve\x1b[2J", "err", errors.New("bad\r\nline"))
	l.Info("line\nforged msg")
	l.With("comment", "a\nb").WithGroup("g").Info("grouped", slog.Group("inner", "x", "1\n2"))
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, line := range lines {
		if !strings.HasPrefix(line, "20") {
			t.Errorf("a line does not start with a timestamp: %q\nlog:\n%s", line, out)
		}
	}
	if len(lines) != 3 {
		t.Errorf("%d lines, want 3:\n%s", len(lines), out)
	}
	for _, want := range []string{`send hi\n2026`, `eve\x1b[2J`, `bad\r\nline`, `line\nforged msg`, `a\nb`, `1\n2`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":             "plain",
		`back\slash`:        `back\slash`,
		"tab\there":         `tab\there`,
		"nl\n and \\":       `nl\n and \\`,
		"bad \xff byte":     `bad \xff byte`,
		"c1 \u0085 next":    `c1 \u0085 next`,
		"ls \u2028 sep":     `ls \u2028 sep`,
		"ünïcode stays":     "ünïcode stays",
		"del \x7f":          `del \x7f`,
		"\x1b[31mred\x1b[m": `\x1b[31mred\x1b[m`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\xff\xfe", "\\n", "\u2028", "\x1b]0;title\x07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q: %q", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
				t.Fatalf("control %U left in %q (from %q)", r, out, s)
			}
		}
		if !needsEscape(s) && out != s {
			t.Fatalf("clean text changed: %q -> %q", s, out)
		}
	})
}
