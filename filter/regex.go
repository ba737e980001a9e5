package filter

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
)

// Limits on one compiled regular expression (regex filters here, regex
// triggers of responder rules). A pattern is at most 200 bytes, but a
// counted repetition multiplies what it repeats: `\pL{1,1000}` is 11 bytes
// and compiles to 2,001 instructions, each holding \pL's 660 ranges, and a
// 200-byte pattern made of such pieces costs megabytes to compile and keep.
// What RE2 costs to hold and run grows with the compiled program, so that
// is what is bounded:
//
//   - MaxRegexInsts bounds the program's instructions. Messages are at most
//     ~230 bytes, so no useful pattern needs a long count: `.{1,230}`, a
//     whole message, is 461 instructions, `\w{1,200}` 401; the triggers
//     and filters people write (`^(ping|test)\b`, an IP address,
//     `(\w+\s+){1,10}\w+`) are under 100. `\pL{1,1000}` and `a{1,1000}`
//     (2,001) are refused.
//   - MaxRegexRanges bounds the character-class ranges summed over the
//     program's instructions: an anchored pattern's one-pass matcher keeps
//     its own copy of each instruction's class (measured: ~25-40 bytes a
//     range), so `^(?:\pL\pN){1,250}$`, only 753 instructions, held 4.7 MB.
//     \pL alone is 660 ranges (case-insensitive), \pN 137, \w 6: 4,000
//     leaves room for six \pL (`\pL+\s+\pL+`, `\pL{3,}`) and refuses
//     `\pL{3,20}` (use `\pL{3,}`).
//
// At these limits a compiled pattern holds at most ~250 KB and costs at
// most ~1 ms to run over a full-length message.
const (
	MaxRegexInsts  = 500
	MaxRegexRanges = 4000
)

// ErrRegexTooLarge is wrapped by CompileRegex's refusal of a pattern over
// MaxRegexInsts or MaxRegexRanges.
var ErrRegexTooLarge = errors.New("regular expression too large")

// CompileRegex compiles pattern as filters and responder triggers use it:
// RE2 syntax, case-insensitive. It refuses a pattern whose compiled program
// is over the limits above, checking the repetition counts before
// expanding them, so a refused pattern costs little to refuse. Its errors
// read well after a prefix such as "trigger: ".
func CompileRegex(pattern string) (*regexp.Regexp, error) {
	expr := "(?i)" + pattern
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("not a valid regular expression: %w", err)
	}
	// Expanding the repetitions (Simplify) is what costs; estimate first.
	if n := estimateInsts(re); n > 2*MaxRegexInsts {
		return nil, fmt.Errorf("%w: it compiles to over %d instructions, more than %d; use + or * rather than a long {n,m} count",
			ErrRegexTooLarge, 2*MaxRegexInsts, MaxRegexInsts)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("not a valid regular expression: %w", err)
	}
	if n := len(prog.Inst); n > MaxRegexInsts {
		return nil, fmt.Errorf("%w: it compiles to %d instructions, more than %d; use + or * rather than a long {n,m} count",
			ErrRegexTooLarge, n, MaxRegexInsts)
	}
	ranges := 0
	for i := range prog.Inst {
		if in := &prog.Inst[i]; in.Op == syntax.InstRune {
			ranges += (len(in.Rune) + 1) / 2
		}
	}
	if ranges > MaxRegexRanges {
		return nil, fmt.Errorf("%w: its character classes add up to %d ranges, more than %d (\\pL alone is 660); repeat a large class with + or * rather than a {n,m} count",
			ErrRegexTooLarge, ranges, MaxRegexRanges)
	}
	c, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("not a valid regular expression: %w", err)
	}
	return c, nil
}

// RegexInsts is how many instructions pattern compiles to as CompileRegex
// compiles it (what matching it costs per byte of text), or 0 when it does
// not compile within the limits.
func RegexInsts(pattern string) int {
	if _, err := CompileRegex(pattern); err != nil {
		return 0
	}
	re, err := syntax.Parse("(?i)"+pattern, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(prog.Inst)
}

// estimateInsts is a rough count of the instructions re compiles to,
// multiplying out repetitions; it saturates rather than overflow.
func estimateInsts(re *syntax.Regexp) int {
	const ceiling = 1 << 30
	switch re.Op {
	case syntax.OpLiteral:
		return max(1, len(re.Rune))
	case syntax.OpRepeat:
		n := re.Max
		if n < 0 {
			n = re.Min + 1
		}
		sub := estimateInsts(re.Sub[0])
		if n > 0 && sub > ceiling/n {
			return ceiling
		}
		return max(1, n*sub) + 1
	}
	n := 1
	for _, s := range re.Sub {
		n += estimateInsts(s)
		if n > ceiling {
			return ceiling
		}
	}
	return n
}
