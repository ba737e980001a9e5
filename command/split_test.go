package command

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		line string
		want []string
	}{
		{`send -r base --no-wait "it's fine"`, []string{"send", "-r", "base", "--no-wait", "it's fine"}},
		{`send 'say "hi"'`, []string{"send", `say "hi"`}},
		{`rules add --reply 'pong {sender_name} hops={hops}'`, []string{"rules", "add", "--reply", "pong {sender_name} hops={hops}"}},
		{`send a\ b "x\"y" 'c\d'`, []string{"send", "a b", `x"y`, `c\d`}},
		{`traceroute !3b5daa28`, []string{"traceroute", "!3b5daa28"}},
		{`send ^all * ?`, []string{"send", "^all", "*", "?"}},
		{`send price 5$`, []string{"send", "price", "5$"}},
		{`  `, nil},
	} {
		got, err := Split(c.line)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{`send it's fine`, `send "open`, `send $HOME`, "send `id`", `send $(id)`, `a; b`, `a | b`,
		`a && b`, `a > f`, `send #x`, `x=1 send`, "a\x00b", `send (a)`} {
		if got, err := Split(bad); err == nil || !errors.Is(err, ErrSplit) {
			t.Errorf("Split(%q) = %q, %v; want an error", bad, got, err)
		}
	}
}

// FuzzSplit: no input panics, errors are one line, and what comes back
// is valid words that split again to themselves when quoted.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`send -r base "it's fine"`, `a 'b c' d\ e`, `x"y"z`, `$(x)`, `'`, `a;b`, "a\nb", `{a,b}`, `!1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := Split(line)
		if err != nil {
			if strings.Contains(strings.TrimSpace(err.Error()), "\n") {
				t.Fatalf("multi-line error for %q: %v", line, err)
			}
			return
		}
		if !utf8.ValidString(line) {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := Split(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q: words %q re-split as %q, %v", line, words, again, err)
		}
	})
}
