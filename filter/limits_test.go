package filter

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// The regex a viewer used to exhaust memory: 11 bytes that compile to
// 2,001 instructions, each with \pL's 660 ranges; 17 of them fit in the
// 200-byte limit. Such patterns are refused with a clear message, cheaply;
// the patterns people write are accepted.
func TestRegexCompiledSizeLimited(t *testing.T) {
	refused := []string{
		`\pL{1,1000}`,
		strings.Repeat(`\pL{1,1000}`, 17),
		`a{1,1000}`,
		`\pL{3,20}`,
		`^(?:\pL\pN){1,250}$`, // 753 instructions, but 4.7 MB as a one-pass matcher
		`((a{1,10}){1,10}){1,10}`,
		`(x{1,1000}y{1,1000})`,
	}
	for _, p := range refused {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := CompileRegex(p)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrRegexTooLarge) || !strings.Contains(err.Error(), "regular expression too large") ||
			!strings.Contains(err.Error(), "more than") {
			t.Errorf("%q: %v, want a refusal as too large", p, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
			t.Errorf("%q: refusing it allocated %d bytes", p, n)
		}
		f := flt(1, Block, KindRegex, p)
		if err := f.Validate(); !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrRegexTooLarge) {
			t.Errorf("%q: Validate = %v", p, err)
		}
	}
	accepted := []string{
		`ping`, `^(ping|test)\b`, `\d{1,3}(\.\d{1,3}){3}`, `[a-z]{1,50}`, `.{1,230}`, `\w{1,200}`,
		`(?:hello|hi|hey)\s+(bot|gateway)`, `^!(weather|wx)\s+(\w+)$`, `\b(cq|qrz)\b.*\?`,
		`[\p{Greek}\p{Cyrillic}]{3,}`, `(\w+\s+){1,10}\w+`, `^\s*(sos|mayday|help)\b`,
		`\pL+\s+\pL+`, `\pL{3,}`, `^(\w|\pL)+$`, `(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|s|t|u|v|w|x|y|z){1,20}`,
	}
	for _, p := range accepted {
		if _, err := CompileRegex(p); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
	if re, err := CompileRegex("PiNg"); err != nil || !re.MatchString("a ping") {
		t.Errorf("case-insensitive matching lost: %v", err)
	}
	if _, err := CompileRegex("("); err == nil || !strings.Contains(err.Error(), "not a valid regular expression") {
		t.Errorf("a bad pattern: %v", err)
	}
}

// Filters saved before the limits existed still load: the enabled ones
// with the lowest IDs, up to the limit per owner or per radio, are in
// force and the rest are left out and reported, as are patterns over the
// size limit.
func TestIndexAppliesLimitsToOldData(t *testing.T) {
	var fs []Filter
	id := int64(0)
	add := func(f Filter) {
		id++
		f.ID = id
		fs = append(fs, f)
	}
	add(Filter{Owner: "SHA256:u1", Mode: Block, Kind: KindText, Value: "off", Enabled: false}) // disabled: not counted
	for i := range MaxPersonal + 10 {
		add(Filter{Owner: "SHA256:u1", Mode: Block, Kind: KindRegex, Value: fmt.Sprintf(`^spam%d\b`, i), Enabled: true})
		add(Filter{Owner: "SHA256:u2", Mode: Block, Kind: KindText, Value: fmt.Sprintf("w%d", i), Radio: "base", Enabled: true})
	}
	add(Filter{Owner: "SHA256:u3", Mode: Block, Kind: KindRegex, Value: `\pL{1,1000}`, Enabled: true})
	for i := range MaxRadioWide + 5 {
		add(Filter{Scope: ScopeRadio, Owner: "SHA256:admin", Radio: "base", Mode: Block, Kind: KindText, Value: fmt.Sprintf("r%d", i), Enabled: true})
	}
	add(Filter{Scope: ScopeRadio, Owner: "SHA256:admin", Radio: "field", Mode: Block, Kind: KindText, Value: "x", Enabled: true})

	x, err := NewIndex(fs)
	if x == nil || err == nil {
		t.Fatalf("NewIndex = %v, %v; want an index and a report", x, err)
	}
	if got := x.Personal("base", "SHA256:u1", nil).Len(); got != MaxPersonal {
		t.Errorf("u1's set has %d filters, want %d", got, MaxPersonal)
	}
	if got := x.Personal("base", "SHA256:u2", nil).Len(); got != MaxPersonal {
		t.Errorf("u2's set has %d filters, want %d", got, MaxPersonal)
	}
	if got := x.Personal("field", "SHA256:u2", nil).Len(); got != 0 {
		t.Errorf("u2's filters for base apply on field: %d", got)
	}
	if got := x.Personal("base", "SHA256:u3", nil).Len(); got != 0 {
		t.Errorf("the too-large pattern is in force: %d", got)
	}
	if got := x.RadioWide("base").Len(); got != MaxRadioWide {
		t.Errorf("base's radio-wide set has %d filters, want %d", got, MaxRadioWide)
	}
	if got := x.RadioWide("field").Len(); got != 1 {
		t.Errorf("field's radio-wide set has %d filters, want 1", got)
	}
	// The lowest IDs are the ones in force: u1's first pattern hides, its
	// last does not.
	s := x.Personal("base", "SHA256:u1", nil)
	if ok, _ := s.AllowsMessage(alice, bob, 0, "spam0 now"); ok {
		t.Error("u1's first filter is not in force")
	}
	if ok, _ := s.AllowsMessage(alice, bob, 0, fmt.Sprintf("spam%d now", MaxPersonal+9)); !ok {
		t.Error("a filter over the limit is in force")
	}
	msg := err.Error()
	for _, want := range []string{"more than 20 personal filters", "more than 50 radio-wide filters", "regular expression too large"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report does not say %q", want)
		}
	}
	if set, err := NewSet(fs); set.Len() != 2*MaxPersonal+MaxRadioWide+1 || err == nil {
		t.Errorf("NewSet: %d filters, %v", set.Len(), err)
	}
}

// NewSet compiles each filter once, and the Sets taken from an Index
// compile nothing: taking one costs a few small allocations, however many
// regex filters it holds.
func TestSetsFromIndexCompileNothing(t *testing.T) {
	var fs []Filter
	for i := range MaxPersonal {
		fs = append(fs, Filter{ID: int64(i + 1), Owner: "SHA256:u1", Mode: Block, Kind: KindRegex,
			Value: fmt.Sprintf(`(?:^|\s)\pL+%d[a-z]{1,20}\b`, i), Enabled: true})
	}
	x, err := NewIndex(fs)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(50, func() { x.Personal("base", "SHA256:u1", nil) })
	if allocs > 10 {
		t.Errorf("taking a Set of %d regex filters from an Index: %.0f allocations", len(fs), allocs)
	}
	one := testing.AllocsPerRun(20, func() { CompileRegex(fs[0].Value) })
	set := testing.AllocsPerRun(20, func() { NewSet(fs) })
	if set > float64(len(fs))*one*1.5 {
		t.Errorf("NewSet of %d filters: %.0f allocations, one compilation %.0f: compiled more than once each", len(fs), set, one)
	}
}
