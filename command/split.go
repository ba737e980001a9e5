package command

import (
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// ErrSplit is wrapped by every error of Split.
var ErrSplit = errors.New("cannot read the command line")

// quoteHint shows how to get a command through ssh intact: ssh joins its
// arguments with spaces, so the gateway sees the quotes only when the
// whole command is quoted once more.
const quoteHint = `ssh joins its arguments, so quote the whole command once more, e.g. ssh GATEWAY "send -r base \"it's fine\""`

// Split splits a command line the way a POSIX shell would, without any
// expansion: quotes ('...', "...") and backslashes group and escape, and
// nothing else is interpreted. Whatever a shell would expand or run
// ($VAR, $(...), `...`, pipes, ;, redirections, comments) is refused rather
// than passed on literally or dropped, so a mistyped line never does
// something other than what it shows.
func Split(line string) ([]string, error) {
	if strings.ContainsRune(line, 0) {
		return nil, fmt.Errorf("%w: it contains a NUL byte", ErrSplit)
	}
	p := syntax.NewParser(syntax.Variant(syntax.LangPOSIX), syntax.KeepComments(true))
	f, err := p.Parse(strings.NewReader(line), "")
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 && strings.Contains(msg[:i], ":") {
			msg = msg[i+2:] // drop the "1:5: " position prefix
		}
		if strings.Contains(msg, "reached EOF") || strings.Contains(msg, "unclosed") {
			return nil, fmt.Errorf("%w: unbalanced quote (%s); %s", ErrSplit, msg, quoteHint)
		}
		return nil, fmt.Errorf("%w: %s; %s", ErrSplit, msg, quoteHint)
	}
	if len(f.Stmts) == 0 {
		if len(f.Last) > 0 {
			return nil, fmt.Errorf("%w: # starts a comment in a shell command line; quote it", ErrSplit)
		}
		return nil, nil
	}
	if len(f.Stmts) > 1 {
		return nil, fmt.Errorf("%w: one command per line (quote ; and & if they are part of the text)", ErrSplit)
	}
	st := f.Stmts[0]
	if len(st.Comments) > 0 || len(f.Last) > 0 {
		return nil, fmt.Errorf("%w: # starts a comment in a shell command line; quote it if it is part of the text", ErrSplit)
	}
	if st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 {
		return nil, fmt.Errorf("%w: redirections, ! and & are not supported; quote them if they are part of the text", ErrSplit)
	}
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return nil, fmt.Errorf("%w: only a plain command is supported (quote |, &&, ( ) and { } if they are part of the text)", ErrSplit)
	}
	if len(call.Assigns) > 0 {
		return nil, fmt.Errorf("%w: a command cannot start with NAME=VALUE", ErrSplit)
	}
	out := make([]string, 0, len(call.Args))
	for _, w := range call.Args {
		var b strings.Builder
		if err := literal(&b, w.Parts); err != nil {
			return nil, err
		}
		out = append(out, b.String())
	}
	return out, nil
}

// literal writes word parts that need no expansion.
func literal(b *strings.Builder, parts []syntax.WordPart) error {
	for _, part := range parts {
		switch x := part.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(x.Value))
		case *syntax.SglQuoted:
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			for _, in := range x.Parts {
				lit, ok := in.(*syntax.Lit)
				if !ok {
					return expansion(in)
				}
				b.WriteString(unescapeDouble(lit.Value))
			}
		default:
			return expansion(part)
		}
	}
	return nil
}

func expansion(part syntax.WordPart) error {
	what := "this"
	switch part.(type) {
	case *syntax.ParamExp:
		what = "$NAME"
	case *syntax.CmdSubst:
		what = "$(...) and `...`"
	case *syntax.ArithmExp:
		what = "$((...))"
	case *syntax.ProcSubst:
		what = "<(...)"
	case *syntax.ExtGlob:
		what = "extended globs"
	}
	return fmt.Errorf("%w: %s would be expanded by a shell and is not supported here; put it in single quotes", ErrSplit, what)
}

// unescape removes the backslashes of an unquoted word: a backslash keeps
// the next character literal, and backslash-newline joins lines.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeDouble removes the backslashes that are escapes inside double
// quotes (before $ ` " \ and newline); others stay.
func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
