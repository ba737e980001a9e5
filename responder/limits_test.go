package responder

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/filter"
)

// A regex trigger is bounded like a regex filter: `\pL{1,1000}` is refused
// when the rule is made, with a message that says why.
func TestRegexTriggerSizeLimited(t *testing.T) {
	r := rule(1, func(r *Rule) { r.Match, r.Trigger = MatchRegex, `\pL{1,1000}` })
	err := r.Validate()
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, filter.ErrRegexTooLarge) ||
		!strings.Contains(err.Error(), "trigger: regular expression too large") {
		t.Errorf("Validate = %v", err)
	}
	r.Trigger = `^!(weather|wx)\s+(\w+)$`
	if err := r.Validate(); err != nil {
		t.Errorf("a normal trigger: %v", err)
	}
}

// Many regex rules and many packets: the engine compiles each trigger once
// and keeps one prepared copy of the rules, so what it allocates per packet
// does not grow with the rules' patterns, and what it holds stays put.
// (It used to compile on every match through Validate, and clear a cache
// of 256 patterns when full.)
func TestEngineMemoryBoundedWithManyRules(t *testing.T) {
	e := NewEngine(Config{Logger: slog.New(slog.DiscardHandler)})
	rules := make([]Rule, MaxRulesPerRadio)
	for i := range rules {
		rules[i] = rule(int64(i+1), func(r *Rule) {
			r.Match, r.Trigger = MatchRegex, fmt.Sprintf(`^(?:\pL+\s+){0,3}word%d\b`, i)
		})
	}
	in := func(id uint32) Incoming {
		return msg(id, func(in *Incoming) {
			in.From = alice + id%1000
			in.Text = "some ordinary chatter that matches no trigger at all"
		})
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e.Decide(in(1), rules, t0) // prepares the rules
	runtime.ReadMemStats(&after)
	prepare := after.TotalAlloc - before.TotalAlloc
	const packets = 2000
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range uint32(packets) {
		if d := e.Decide(in(i+2), rules, t0.Add(time.Duration(i)*time.Millisecond)); d.Reason != ReasonNoMatch {
			t.Fatalf("packet %d: %v %s", i, d.Action, d.Reason)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Compiling the triggers allocates ~2 MB; a packet allocates a little
	// for the dedup table and the matchers' state (the latter more under
	// the race detector, which makes sync.Pool drop what it holds).
	perPacket := (after.TotalAlloc - before.TotalAlloc) / packets
	t.Logf("preparing %d rules: %d bytes; a packet: %d bytes", len(rules), prepare, perPacket)
	if perPacket > prepare/2 {
		t.Errorf("%d bytes allocated per packet with %d regex rules, as much as compiling them (%d)", perPacket, len(rules), prepare)
	}
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > 8<<20 {
		t.Errorf("the heap grew by %d bytes over %d packets", held, packets)
	}
	// A change prepares again, once.
	rules[0].Trigger = `^ordinary\b`
	rules[1].Trigger = `chatter`
	if d := e.Decide(in(packets+10), rules, t0.Add(time.Hour)); d.Action != Send || d.Rule.ID != 2 {
		t.Errorf("after a change: %v %s rule %d", d.Action, d.Reason, d.Rule.ID)
	}
}

// Rules saved before the limits (or with a pattern over the size limit)
// load without trouble: the first MaxRulesPerRadio enabled rules by ID are
// in force, the rest are skipped and never compiled.
func TestEngineSkipsRulesOverTheLimit(t *testing.T) {
	e := NewEngine(Config{Logger: slog.New(slog.DiscardHandler)})
	var rules []Rule
	for id := int64(300); id >= 1; id-- { // in any order
		rules = append(rules, rule(id, func(r *Rule) {
			switch id {
			case MaxRulesPerRadio: // disabled: leaves its place to the next
				r.Enabled = false
			case MaxRulesPerRadio + 1, 300: // in force, and skipped
			default:
				r.Match, r.Trigger = MatchRegex, strings.Repeat(`\pL{1,1000}`, 17) // ~12 MB each to compile
			}
		}))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := e.Decide(msg(1), rules, t0)
	runtime.ReadMemStats(&after)
	if d.Action != Send || d.Rule.ID != int64(MaxRulesPerRadio+1) || len(d.Matched) != 1 {
		t.Errorf("Decide = %v %s rule %d, matched %v; want rule %d alone", d.Action, d.Reason, d.Rule.ID, d.Matched, MaxRulesPerRadio+1)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("preparing 300 over-large rules allocated %d bytes", n)
	}
}

// sameRule must compare every field of Rule, or a change to a new field
// would go unnoticed by the engine.
func TestSameRuleComparesEveryField(t *testing.T) {
	base := rule(1, func(r *Rule) { r.Channel = u32(2); r.Expires = t0 })
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		changed := base
		changed.Channel = u32(2)
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int64:
			f.SetInt(f.Int() + 1)
		case reflect.Uint8:
			f.SetUint(f.Uint() + 1)
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Pointer:
			changed.Channel = u32(3)
		case reflect.Struct:
			changed.Expires = t0.Add(time.Second)
		default:
			t.Fatalf("field %s of kind %s: teach this test to change it", v.Type().Field(i).Name, f.Kind())
		}
		if sameRule(&base, &changed) {
			t.Errorf("sameRule misses a change of %s", v.Type().Field(i).Name)
		}
	}
	other := base
	other.Channel = u32(2)
	if !sameRule(&base, &other) {
		t.Error("sameRule compares the channel pointer, not its value")
	}
}
