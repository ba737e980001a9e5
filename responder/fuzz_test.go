package responder

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTemplate checks rendering and validation against each other on any
// template, message and limit: nothing panics, output is valid UTF-8 within
// the limit, a template that validates only ever asks for known variables,
// text without variables renders as itself, and message text is copied,
// never expanded.
func FuzzTemplate(f *testing.F) {
	f.Add("pong {sender_name}", "ping", 200)
	f.Fuzz(func(t *testing.T, tmpl, message string, limit int) {
		limit %= 1024
		in := msg(1, func(in *Incoming) { in.Text = message })

		valid := checkTemplate("reply", tmpl, ruleVariables) == nil
		var asked []string
		out := render(tmpl, func(name string) (string, bool) {
			asked = append(asked, name)
			return in.variable(name, t0)
		})
		if !utf8.ValidString(out) {
			t.Fatalf("render(%q) = %q: invalid UTF-8", tmpl, out)
		}
		if valid {
			for _, name := range asked {
				if !slices.Contains(ruleVariables, name) {
					t.Fatalf("valid template %q asked for %q", tmpl, name)
				}
			}
		}
		if !strings.Contains(tmpl, "{") && out != strings.ToValidUTF8(tmpl, "\uFFFD") {
			t.Fatalf("literal template %q rendered %q", tmpl, out)
		}
		if got := render("{message}", func(name string) (string, bool) { return in.variable(name, t0) }); got != strings.ToValidUTF8(message, "\uFFFD") {
			t.Fatalf("message %q rendered %q", message, got)
		}

		clamped := Clamp(out, limit)
		if limit > 0 && len(clamped) > limit || !utf8.ValidString(clamped) {
			t.Fatalf("Clamp(%q, %d) = %q", out, limit, clamped)
		}
		if limit <= 0 || len(out) <= limit {
			if clamped != out {
				t.Fatalf("Clamp(%q, %d) changed a text that fits: %q", out, limit, clamped)
			}
		} else if !strings.HasPrefix(out, strings.TrimSuffix(clamped, ellipsis)) {
			t.Fatalf("Clamp(%q, %d) = %q is not a prefix", out, limit, clamped)
		}

		// Beacons share the machinery; their renderer has the same contract.
		b := RenderBeacon(tmpl, BeaconVars{MyName: message})
		if !utf8.ValidString(b) || len(b) > 232 {
			t.Fatalf("RenderBeacon(%q) = %q", tmpl, b)
		}
		r := rule(1, func(r *Rule) { r.Reply = tmpl })
		if (r.Validate() == nil) != valid {
			t.Fatalf("Rule.Validate and checkTemplate disagree on %q", tmpl)
		}
	})
}
