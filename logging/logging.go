// Package logging builds the gateway's logger. Its one addition to
// charm.land/log is that the text format cannot be forged: values and
// messages carry text from outside (command lines, node names, key
// comments), and charm's text formatter prints a newline in a message as
// a new line, so a user could append a line that reads like the
// gateway's own. Control characters are escaped before they reach it.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/log/v2"
)

// Formats are the values of --log-format.
const (
	Text   = "text"
	JSON   = "json"
	Logfmt = "logfmt"
)

// New returns a logger writing format (text, json or logfmt; anything
// else is text) at level (debug, info, warn, error; anything else is
// info) to w.
func New(w io.Writer, format, level string) *slog.Logger {
	l := log.NewWithOptions(w, log.Options{ReportTimestamp: true, TimeFormat: time.RFC3339})
	if lvl, err := log.ParseLevel(level); err == nil {
		l.SetLevel(lvl)
	}
	switch format {
	case JSON:
		// JSON and logfmt quote every value themselves.
		l.SetFormatter(log.JSONFormatter)
		return slog.New(l)
	case Logfmt:
		l.SetFormatter(log.LogfmtFormatter)
		return slog.New(l)
	}
	return slog.New(Escaping(l))
}

// Escaping wraps h so that control characters and invalid UTF-8 in the
// message and in string values (errors included) are written as Go
// escapes (\n, \x1b, \xff); a value that needs escaping has its
// backslashes doubled too, so the escaped text reads back unambiguously.
func Escaping(h slog.Handler) slog.Handler { return escaping{h} }

type escaping struct{ next slog.Handler }

func (e escaping) Enabled(ctx context.Context, l slog.Level) bool { return e.next.Enabled(ctx, l) }

func (e escaping) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Escape(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(escapeAttr(a))
		return true
	})
	return e.next.Handle(ctx, out)
}

func (e escaping) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = escapeAttr(a)
	}
	return escaping{e.next.WithAttrs(clean)}
}

func (e escaping) WithGroup(name string) slog.Handler {
	return escaping{e.next.WithGroup(Escape(name))}
}

func escapeAttr(a slog.Attr) slog.Attr {
	a.Key = Escape(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Escape(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = escapeAttr(g)
		}
		a.Value = slog.GroupValue(toAttrs(clean)...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(Escape(x.Error()))
		case interface{ String() string }:
			a.Value = slog.StringValue(Escape(x.String()))
		}
	default:
		a.Value = v
	}
	return a
}

func toAttrs(v []any) []slog.Attr {
	out := make([]slog.Attr, len(v))
	for i, a := range v {
		out[i] = a.(slog.Attr)
	}
	return out
}

// Escape returns s with control characters and invalid UTF-8 escaped, or
// s itself when it has none.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\x` + hex(s[i]))
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x` + hex(byte(r)))
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			// C1 controls and the Unicode line separators end a
			// line on some terminals and log viewers.
			b.WriteString(`\u` + hex(byte(r>>8)) + hex(byte(r)))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return true
		}
		i += size
	}
	return false
}

func hex(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}
