package backend

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// limitsCore is a core with a store and one simulated radio, "base".
func limitsCore(t *testing.T) (*Backend, *store.Store, context.Context) {
	t.Helper()
	_, addr := simtest.Start(t, simtest.Fast(5, 4))
	ctx, cancel := context.WithCancel(context.Background())
	reg := radio.NewRegistry(ctx, radio.Config{Grace: 100 * time.Millisecond}, nil)
	db, err := store.Open(filepath.Join(t.TempDir(), "meshgate.db"), store.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); reg.Wait(); db.Close() })
	if _, err := reg.Add("base", addr); err != nil {
		t.Fatal(err)
	}
	return New(Deps{Radios: reg, Sessions: sessions.NewManager(sessions.Config{}), Store: db}), db, ctx
}

func caller(name string, role auth.Role) Caller {
	return Caller{Identity: auth.Identity{Name: name, Fingerprint: "SHA256:" + name, Role: role}, Via: "exec"}
}

// A user has at most MaxPersonalFilters personal filters and a radio at
// most MaxRadioFilters radio-wide ones; the next is refused with a message
// that says what to do, and removing one makes room.
func TestFilterCountLimited(t *testing.T) {
	b, _, ctx := limitsCore(t)
	otto, ada := caller("otto", auth.Operator), caller("ada", auth.Admin)
	var first Filter
	for i := range MaxPersonalFilters {
		f, err := b.AddFilter(ctx, otto, FilterSpec{Kind: "regex", Value: fmt.Sprintf(`^spam%d\b`, i)})
		if err != nil {
			t.Fatalf("filter %d: %v", i+1, err)
		}
		if i == 0 {
			first = f
		}
	}
	if _, err := b.SetFilterEnabled(ctx, otto, first.ID, false); err != nil {
		t.Fatal(err)
	}
	_, err := b.AddFilter(ctx, otto, FilterSpec{Radio: "base", Kind: "text", Value: "one more"})
	if !errors.Is(err, ErrInvalid) || err.Error() != "at most 20 personal filters; remove one first (filters rm ID)" {
		t.Errorf("filter 21 (one of 20 disabled): %v", err)
	}
	// Another user's count is their own; an admin's radio-wide filters
	// are counted per radio.
	if _, err := b.AddFilter(ctx, ada, FilterSpec{Kind: "text", Value: "mine"}); err != nil {
		t.Errorf("ada's first filter: %v", err)
	}
	if _, err := b.DeleteFilter(ctx, otto, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddFilter(ctx, otto, FilterSpec{Kind: "text", Value: "one more"}); err != nil {
		t.Errorf("after removing one: %v", err)
	}

	for i := range MaxRadioFilters {
		if _, err := b.AddFilter(ctx, ada, FilterSpec{Radio: "base", RadioWide: true, Kind: "text", Value: fmt.Sprintf("w%d", i)}); err != nil {
			t.Fatalf("radio-wide filter %d: %v", i+1, err)
		}
	}
	_, err = b.AddFilter(ctx, ada, FilterSpec{Radio: "base", RadioWide: true, Kind: "text", Value: "one more"})
	if !errors.Is(err, ErrInvalid) || err.Error() != "at most 50 radio-wide filters on base; remove one first (filters rm ID)" {
		t.Errorf("radio-wide filter 51: %v", err)
	}
}

// A radio has at most MaxRulesPerRadio rules, MaxRulesPerOwner of them
// any one operator's.
func TestRuleCountLimited(t *testing.T) {
	b, _, ctx := limitsCore(t)
	ops := []Caller{caller("otto", auth.Operator), caller("olga", auth.Operator), caller("oskar", auth.Operator)}
	add := func(c Caller, i int) error {
		_, err := b.AddRule(ctx, c, RuleSpec{Radio: "base", Trigger: fmt.Sprintf("ping%d", i), Reply: "pong", Disabled: i%2 == 0})
		return err
	}
	for i := range MaxRulesPerOwner {
		if err := add(ops[0], i); err != nil {
			t.Fatalf("rule %d: %v", i+1, err)
		}
	}
	if err := add(ops[0], 99); !errors.Is(err, ErrInvalid) || err.Error() != "at most 20 rules of yours on base; remove one first (rules rm ID)" {
		t.Errorf("otto's rule 21: %v", err)
	}
	for i := range MaxRulesPerRadio - MaxRulesPerOwner {
		if err := add(ops[1+i%2], i); err != nil {
			t.Fatalf("rule %d: %v", MaxRulesPerOwner+i+1, err)
		}
	}
	if err := add(ops[2], 99); !errors.Is(err, ErrInvalid) || err.Error() != "at most 50 rules on base; remove one first (rules rm ID)" {
		t.Errorf("rule 51: %v", err)
	}
}

// The pattern that exhausted memory is refused where users make filters
// and rules, with the reason; normal ones are accepted.
func TestRegexCompiledSizeLimited(t *testing.T) {
	b, _, ctx := limitsCore(t)
	otto := caller("otto", auth.Operator)
	huge := strings.Repeat(`\pL{1,1000}`, 17)
	for _, p := range []string{`\pL{1,1000}`, huge} {
		_, err := b.AddFilter(ctx, otto, FilterSpec{Kind: "regex", Value: p})
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "regular expression too large: ") {
			t.Errorf("filter %q: %v", p, err)
		}
		_, err = b.AddRule(ctx, otto, RuleSpec{Radio: "base", Trigger: p, Match: "regex", Reply: "x"})
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "trigger: regular expression too large: ") {
			t.Errorf("rule %q: %v", p, err)
		}
	}
	if _, err := b.AddFilter(ctx, otto, FilterSpec{Kind: "regex", Value: `^(buy|sell)\b.*\d+`}); err != nil {
		t.Errorf("a normal filter: %v", err)
	}
	if _, err := b.AddRule(ctx, otto, RuleSpec{Radio: "base", Trigger: `^!(weather|wx)\s+(\w+)$`, Match: "regex", Reply: "x"}); err != nil {
		t.Errorf("a normal rule: %v", err)
	}
}

// A user's filters are compiled once per change, not once per view: many
// views with 20 regex filters compile them once, allocate a bounded amount
// each, and a change compiles once more.
func TestFiltersCompiledOncePerChange(t *testing.T) {
	b, db, ctx := limitsCore(t)
	otto := caller("otto", auth.Operator)
	for i := range MaxPersonalFilters {
		if _, err := b.AddFilter(ctx, otto, FilterSpec{Kind: "regex", Value: fmt.Sprintf(`(?:^|\s)\pL+%d[a-z]{1,20}\b`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		db.AddMessage(store.Message{Radio: "base", At: time.Now(), ID: uint32(i + 1), From: 0x11111111, To: 0xffffffff,
			Text: fmt.Sprintf("message %d about nothing", i)})
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fc := b.filters()
	builds := func() int { fc.mu.Lock(); defer fc.mu.Unlock(); return fc.builds }
	start := builds()
	for range 50 {
		list, err := b.History(ctx, otto, "base", 20)
		if err != nil || len(list.Messages) != 20 {
			t.Fatalf("history: %d messages, %v", len(list.Messages), err)
		}
		if _, err := b.Nodes(ctx, otto, NodesQuery{Radio: "base"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := builds() - start; n != 1 {
		t.Errorf("50 histories and node lists compiled the filters %d times, want once", n)
	}
	// Allocations per view do not grow with the filters: taking the set
	// costs a few, not 20 compilations (each thousands).
	allocs := testing.AllocsPerRun(100, func() { b.PersonalFilters(ctx, otto, "base") })
	t.Logf("%.0f allocations per call", allocs)
	if allocs > 10 {
		t.Errorf("taking the personal filters: %.0f allocations per call", allocs)
	}
	if s := b.PersonalFilters(ctx, otto, "base"); s.Len() != MaxPersonalFilters {
		t.Errorf("the set holds %d filters", s.Len())
	}
	if _, err := b.AddFilter(ctx, caller("olga", auth.Operator), FilterSpec{Kind: "text", Value: "x"}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		b.PersonalFilters(ctx, otto, "base")
	}
	if n := builds() - start; n != 2 {
		t.Errorf("after one change: %d compilations, want 2", n)
	}
}

// Filters saved before the limit existed (more than 20 of one user) load:
// 20 are in force, the rest are left out, and nothing fails.
func TestOldFiltersOverTheLimitLoad(t *testing.T) {
	b, db, ctx := limitsCore(t)
	otto := caller("otto", auth.Operator)
	for i := range 150 {
		_, err := db.AddFilter(ctx, actor(otto), filter.Filter{Owner: otto.Fingerprint, Mode: filter.Block, Kind: filter.KindRegex,
			Value: fmt.Sprintf(`\w{1,50}%d`, i), Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := b.PersonalFilters(ctx, otto, "base"); s.Len() != MaxPersonalFilters {
		t.Errorf("%d of 150 old filters in force, want %d", s.Len(), MaxPersonalFilters)
	}
	if _, err := b.History(ctx, otto, "base", 10); err != nil {
		t.Errorf("history: %v", err)
	}
	if _, err := b.AddFilter(ctx, otto, FilterSpec{Kind: "text", Value: "more"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a filter over the limit: %v", err)
	}
}

// One owner's regex filters are bounded in instructions in all, so no
// number of large patterns multiplies the cost of reading history.
func TestRegexFilterBudget(t *testing.T) {
	b, _, ctx := limitsCore(t)
	lou := caller("lou", auth.Operator)
	big := func(c byte) string { return `.{1,230}` + string(c) }
	if n := filter.RegexInsts(big('a')); n < MaxPersonalRegexInsts/3 || n > filter.MaxRegexInsts {
		t.Fatalf("a large pattern compiles to %d instructions", n)
	}
	for _, c := range []byte("ab") {
		if _, err := b.AddFilter(ctx, lou, FilterSpec{Kind: "regex", Value: big(c)}); err != nil {
			t.Fatalf("filter %c: %v", c, err)
		}
	}
	_, err := b.AddFilter(ctx, lou, FilterSpec{Kind: "regex", Value: big('c')})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "instructions in all") {
		t.Fatalf("a third large regex filter: %v", err)
	}
	// Small ones still fit, and other users have their own budget.
	if _, err := b.AddFilter(ctx, lou, FilterSpec{Kind: "regex", Value: `^spam\b`}); err != nil {
		t.Errorf("a small regex filter: %v", err)
	}
	if _, err := b.AddFilter(ctx, caller("otto", auth.Operator), FilterSpec{Kind: "regex", Value: big('c')}); err != nil {
		t.Errorf("another user's regex filter: %v", err)
	}
}
