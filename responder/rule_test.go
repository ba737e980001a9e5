package responder

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRuleValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Rule)
		want string // substring of the error; "" for valid
	}{
		{"valid", func(*Rule) {}, ""},
		{"valid regex", func(r *Rule) { r.Match, r.Trigger = MatchRegex, `^ping\s*(\d+)?$` }, ""},
		{"valid all fields", func(r *Rule) {
			r.Type, r.Source, r.Channel, r.Cooldown, r.SenderCooldown = TypeDirect, SourceMQTT, u32(7), time.Minute, time.Hour
		}, ""},
		{"no radio", func(r *Rule) { r.Radio = " " }, "no radio"},
		{"long radio", func(r *Rule) { r.Radio = strings.Repeat("r", 65) }, "radio name"},
		{"no owner", func(r *Rule) { r.Owner = "" }, "no owner"},
		{"empty trigger", func(r *Rule) { r.Trigger = "  " }, "trigger is empty"},
		{"long trigger", func(r *Rule) { r.Trigger = strings.Repeat("x", MaxTriggerBytes+1) }, "longer than"},
		{"bad utf8 trigger", func(r *Rule) { r.Trigger = "pi\xffng" }, "UTF-8"},
		{"bad regex", func(r *Rule) { r.Match, r.Trigger = MatchRegex, "(ping" }, "regular expression"},
		{"bad match kind", func(r *Rule) { r.Match = 9 }, "match kind"},
		{"bad type", func(r *Rule) { r.Type = 9 }, "message type"},
		{"bad source", func(r *Rule) { r.Source = 9 }, "source"},
		{"bad channel", func(r *Rule) { r.Channel = u32(8) }, "channel 8"},
		{"negative cooldown", func(r *Rule) { r.Cooldown = -time.Second }, "cooldown"},
		{"no cooldown", func(r *Rule) { r.Cooldown = 0 }, "cooldown 0s is below the minimum of 30s"},
		{"short cooldown", func(r *Rule) { r.Cooldown = time.Second }, "cooldown 1s is below the minimum of 30s"},
		{"huge cooldown", func(r *Rule) { r.Cooldown = 8 * 24 * time.Hour }, "above the maximum"},
		{"short sender cooldown", func(r *Rule) { r.SenderCooldown = 10 * time.Second }, "sender cooldown 10s is below the minimum of 30s"},
		{"negative sender cooldown", func(r *Rule) { r.SenderCooldown = -time.Minute }, "sender cooldown"},
		{"sender cooldown 0: the rule cooldown alone", func(r *Rule) { r.SenderCooldown = 0 }, ""},
		{"shortest cooldowns", func(r *Rule) { r.Cooldown, r.SenderCooldown = MinCooldown, MinCooldown }, ""},
		{"defaults", func(r *Rule) { r.Cooldown, r.SenderCooldown = DefaultCooldown, DefaultSenderCooldown }, ""},
		{"huge sender cooldown", func(r *Rule) { r.SenderCooldown = 8 * 24 * time.Hour }, "sender cooldown"},
		{"empty reply", func(r *Rule) { r.Reply = "" }, "reply is empty"},
		{"long reply", func(r *Rule) { r.Reply = strings.Repeat("x", MaxTemplateBytes+1) }, "longer than"},
		{"bad utf8 reply", func(r *Rule) { r.Reply = "\xc3" }, "UTF-8"},
		{"unknown variable", func(r *Rule) { r.Reply = "hi {sender}" }, "{sender}"},
		{"beacon variable in a rule", func(r *Rule) { r.Reply = "{battery}" }, "{battery}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rule(1, c.mod)
			err := r.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
	r := rule(1, func(r *Rule) { r.Reply = "{nope}" })
	if err := r.Validate(); !errors.Is(err, ErrUnknownVariable) {
		t.Fatalf("unknown variable error does not wrap ErrUnknownVariable: %v", err)
	}
}

func TestRuleJSONRoundTrip(t *testing.T) {
	r := rule(7, func(r *Rule) {
		r.Match, r.Type, r.Source, r.Channel = MatchRegex, TypeDirect, SourceRF, u32(2)
		r.Cooldown, r.SenderCooldown, r.DryRun = 90*time.Second, 10*time.Minute, true
		r.Expires = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"match":"regex"`, `"type":"direct"`, `"source":"rf"`, `"cooldown":"1m30s"`,
		`"sender_cooldown":"10m0s"`, `"channel":2`, `"dry_run":true`, `"expires":"2027-01-02T03:04:05Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back Rule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != 7 || back.Match != MatchRegex || back.Type != TypeDirect || back.Source != SourceRF ||
		*back.Channel != 2 || back.Cooldown != 90*time.Second || back.SenderCooldown != 10*time.Minute ||
		!back.Expires.Equal(r.Expires) || !back.DryRun || back.Reply != r.Reply || back.Owner != r.Owner {
		t.Fatalf("round trip: %+v", back)
	}
	plain, _ := json.Marshal(rule(1))
	if !strings.Contains(string(plain), `"channel":null`) || !strings.Contains(string(plain), `"expires":null`) {
		t.Fatalf("any channel / no expiry: %s", plain)
	}
	if err := json.Unmarshal([]byte(`{"match":"fuzzy"}`), &back); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad match kind: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"cooldown":"soon"}`), &back); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestParseEnums(t *testing.T) {
	for in, want := range map[string]MatchKind{"exact": MatchExact, "Contains": MatchContains, "prefix": MatchPrefix,
		"starts-with": MatchPrefix, "regex": MatchRegex, " regexp ": MatchRegex} {
		if got, err := ParseMatchKind(in); err != nil || got != want {
			t.Errorf("ParseMatchKind(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]MsgType{"both": TypeBoth, "broadcast": TypeBroadcast, "direct": TypeDirect, "DM": TypeDirect} {
		if got, err := ParseMsgType(in); err != nil || got != want {
			t.Errorf("ParseMsgType(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]Source{"both": SourceBoth, "RF": SourceRF, "mqtt": SourceMQTT} {
		if got, err := ParseSource(in); err != nil || got != want {
			t.Errorf("ParseSource(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMatchKind("glob"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "exact, contains, prefix, regex") {
		t.Errorf("bad kind error: %v", err)
	}
	if _, err := ParseSource("lora"); err == nil {
		t.Error("lora accepted")
	}
	if MatchKind(9).String() != "invalid(9)" {
		t.Error(MatchKind(9).String())
	}
	if _, err := MsgType(5).MarshalText(); err == nil {
		t.Error("out of range type marshalled")
	}
}
