package responder

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/format"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("responder: invalid")

// Limits checked by validation.
const (
	// MaxTriggerBytes bounds a trigger; a message is at most ~230 bytes.
	MaxTriggerBytes = 200
	// MaxChannel is the highest channel index (a radio has 8 slots).
	MaxChannel = 7
	// MaxCooldown bounds both cooldowns; longer is almost certainly a typo
	// (and a rule that should rather be disabled).
	MaxCooldown  = 7 * 24 * time.Hour
	maxRadioName = 64
)

// Limits on the number of rules. Every text a radio hears is tried against
// its rules, so their number multiplies what each costs (a regex trigger
// is bounded by filter.MaxRegexInsts and filter.MaxRegexRanges), and the
// radio's reply budget (DefaultBudget) lets only a few replies out anyway:
// a radio needs a handful of rules, a busy one a few dozen. 50 per radio
// keeps the worst case to a few megabytes and a few milliseconds per
// message; 20 per operator on one radio leaves the rest of a shared
// radio's list to the others.
//
// The core refuses a rule over these limits. Rules saved before the limits
// existed still load: the engine applies the first MaxRulesPerRadio
// enabled rules of a radio by ID, skips the rest and logs once per change
// which ones it skipped, so old data costs no more than the limit allows.
const (
	MaxRulesPerRadio = 50
	MaxRulesPerOwner = 20 // rules of one owner on one radio
)

// Cooldown limits and defaults. The mesh is shared and slow: a full text
// costs up to ~2 s of airtime on every router that repeats it, so no rule
// may answer more often than once per MinCooldown, whatever its owner
// sets. Front ends fill in the defaults when the user gives no value, so
// every way of making a rule ends up with the same ones.
const (
	// MinCooldown is the shortest Cooldown a rule may have, and the
	// shortest SenderCooldown other than 0.
	MinCooldown = 30 * time.Second
	// DefaultCooldown is the Cooldown of a rule made without one.
	DefaultCooldown = time.Minute
	// DefaultSenderCooldown is the SenderCooldown of a rule made without
	// one.
	DefaultSenderCooldown = 5 * time.Minute
)

// Rule is one auto-responder rule of one radio. A rule belongs to the
// operator who made it (Owner, the SSH key fingerprint) but runs for the
// radio as long as the radio is connected, whether or not the owner is
// logged in.
type Rule struct {
	ID        int64  // assigned by the store; breaks ties between rules (lowest wins)
	Radio     string // the radio whose messages it answers
	Owner     string // key fingerprint of the operator who made it
	OwnerName string // that operator's name, for display

	Trigger string    // what to look for in a message
	Match   MatchKind // how Trigger is compared (always case-insensitive)
	Reply   string    // reply template, see RuleVariables

	Type    MsgType // which messages: broadcast, direct or both
	Source  Source  // which path: RF, MQTT or both
	Channel *uint32 // only messages on this channel index; nil: any

	// Cooldown is the least time between two replies of this rule, to
	// anyone: at least MinCooldown (there is no "no cooldown").
	// SenderCooldown is the least time between two replies of this rule to
	// the same sender, for a rule that may answer often but should not
	// answer one person again and again. It is 0 or at least MinCooldown;
	// 0 means the rule cooldown alone, which already spaces the replies to
	// any one sender. (0 is allowed rather than refused because it is the
	// natural way to say "no separate limit", and it cannot flood: the
	// rule cooldown still applies.)
	Cooldown       time.Duration
	SenderCooldown time.Duration

	Enabled bool
	// DryRun rules go through every check and produce a Decision marked
	// WouldSend: the caller logs "would reply" and sends nothing.
	DryRun bool
	// Expires, when not zero, is when the rule stops firing for good.
	Expires time.Time
}

// Validate reports the first problem with r, wrapping ErrInvalid. A rule
// that fails validation never fires (the engine treats it as not matching),
// but the store refuses to save it, so users hear about the problem when
// they make the rule rather than when it stays silent.
func (r *Rule) Validate() error {
	_, err := r.compile()
	return err
}

// compile validates r and returns its compiled trigger (nil unless the
// rule matches by regex): Validate and the engine's once-per-change
// preparation do the same work once.
func (r *Rule) compile() (*regexp.Regexp, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if r.Match == MatchRegex {
		var err error
		if re, err = compileTrigger(r.Trigger); err != nil {
			return nil, err
		}
	}
	if err := checkTemplate("reply", r.Reply, ruleVariables); err != nil {
		return nil, err
	}
	return re, nil
}

// check validates all but the trigger's pattern and the reply.
func (r *Rule) check() error {
	switch {
	case strings.TrimSpace(r.Radio) == "":
		return fmt.Errorf("%w: rule has no radio", ErrInvalid)
	case len(r.Radio) > maxRadioName:
		return fmt.Errorf("%w: radio name longer than %d bytes", ErrInvalid, maxRadioName)
	case strings.TrimSpace(r.Owner) == "":
		return fmt.Errorf("%w: rule has no owner", ErrInvalid)
	case strings.TrimSpace(r.Trigger) == "":
		return fmt.Errorf("%w: trigger is empty", ErrInvalid)
	case len(r.Trigger) > MaxTriggerBytes:
		return fmt.Errorf("%w: trigger is %d bytes, longer than %d", ErrInvalid, len(r.Trigger), MaxTriggerBytes)
	case !utf8.ValidString(r.Trigger):
		return fmt.Errorf("%w: trigger is not valid UTF-8", ErrInvalid)
	case int(r.Match) >= len(matchNames):
		return fmt.Errorf("%w: match kind %d out of range", ErrInvalid, r.Match)
	case int(r.Type) >= len(typeNames):
		return fmt.Errorf("%w: message type %d out of range", ErrInvalid, r.Type)
	case int(r.Source) >= len(sourceNames):
		return fmt.Errorf("%w: source %d out of range", ErrInvalid, r.Source)
	case r.Channel != nil && *r.Channel > MaxChannel:
		return fmt.Errorf("%w: channel %d out of range 0-%d", ErrInvalid, *r.Channel, MaxChannel)
	case r.Cooldown < MinCooldown:
		return fmt.Errorf("%w: cooldown %s is below the minimum of %s", ErrInvalid, format.Typed(r.Cooldown), format.Typed(MinCooldown))
	case r.Cooldown > MaxCooldown:
		return fmt.Errorf("%w: cooldown %s is above the maximum of %s", ErrInvalid, format.Typed(r.Cooldown), format.Typed(MaxCooldown))
	case r.SenderCooldown != 0 && r.SenderCooldown < MinCooldown:
		return fmt.Errorf("%w: sender cooldown %s is below the minimum of %s (0 means the rule cooldown alone)",
			ErrInvalid, format.Typed(r.SenderCooldown), format.Typed(MinCooldown))
	case r.SenderCooldown > MaxCooldown:
		return fmt.Errorf("%w: sender cooldown %s is above the maximum of %s", ErrInvalid, format.Typed(r.SenderCooldown), format.Typed(MaxCooldown))
	}
	return nil
}

// Active reports whether the rule may fire at now: enabled and not expired.
func (r *Rule) Active(now time.Time) bool {
	return r.Enabled && (r.Expires.IsZero() || now.Before(r.Expires))
}

// Matches reports whether in is a message the rule answers: the trigger
// matches and the message's type, source and channel are the rule's. It
// ignores the rule's radio, enabled flag, expiry and cooldowns, so a user
// can try a rule against a sample message before turning it on.
func (r *Rule) Matches(in *Incoming) bool {
	var re *regexp.Regexp
	if r.Match == MatchRegex {
		var err error
		if re, err = compileTrigger(r.Trigger); err != nil {
			return false
		}
	}
	return r.accepts(in) && matchText(r.Match, r.Trigger, in.Text, re)
}

// Render fills the rule's reply template for in and clamps it to limit
// bytes (limit <= 0: no limit).
func (r *Rule) Render(in *Incoming, now time.Time, limit int) string {
	return Clamp(render(r.Reply, func(name string) (string, bool) { return in.variable(name, now) }), limit)
}

// accepts applies the type, source and channel conditions.
func (r *Rule) accepts(in *Incoming) bool {
	switch {
	case r.Type == TypeBroadcast && in.Direct(), r.Type == TypeDirect && !in.Direct():
		return false
	case r.Source == SourceRF && in.ViaMQTT, r.Source == SourceMQTT && !in.ViaMQTT:
		return false
	case r.Channel != nil && *r.Channel != in.Channel:
		return false
	}
	return int(r.Type) < len(typeNames) && int(r.Source) < len(sourceNames)
}

// compileTrigger compiles a regex trigger; matching ignores case. The
// compiled size is bounded as for regex filters (filter.MaxRegexInsts,
// filter.MaxRegexRanges).
func compileTrigger(pattern string) (*regexp.Regexp, error) {
	re, err := filter.CompileRegex(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: trigger: %w", ErrInvalid, err)
	}
	return re, nil
}

// matchText compares a message with a trigger. re is the compiled trigger
// for MatchRegex (nil never matches).
func matchText(kind MatchKind, trigger, text string, re *regexp.Regexp) bool {
	switch kind {
	case MatchExact:
		return strings.EqualFold(strings.TrimSpace(text), strings.TrimSpace(trigger))
	case MatchContains:
		return strings.Contains(strings.ToLower(text), strings.ToLower(trigger))
	case MatchPrefix:
		const space = " \t\r\n"
		return strings.HasPrefix(strings.ToLower(strings.TrimLeft(text, space)), strings.ToLower(strings.TrimLeft(trigger, space)))
	case MatchRegex:
		return re != nil && re.MatchString(text)
	}
	return false
}

// ruleJSON is the documented JSON shape of a rule (snake_case, durations
// as Go durations like "90s", expiry as RFC 3339 or null).
type ruleJSON struct {
	ID             int64      `json:"id"`
	Radio          string     `json:"radio"`
	Owner          string     `json:"owner"`
	OwnerName      string     `json:"owner_name,omitempty"`
	Trigger        string     `json:"trigger"`
	Match          MatchKind  `json:"match"`
	Reply          string     `json:"reply"`
	Type           MsgType    `json:"type"`
	Source         Source     `json:"source"`
	Channel        *uint32    `json:"channel"`
	Cooldown       string     `json:"cooldown"`
	SenderCooldown string     `json:"sender_cooldown"`
	Enabled        bool       `json:"enabled"`
	DryRun         bool       `json:"dry_run"`
	Expires        *time.Time `json:"expires"`
}

// MarshalJSON writes the rule in its documented JSON shape.
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{
		ID: r.ID, Radio: r.Radio, Owner: r.Owner, OwnerName: r.OwnerName, Trigger: r.Trigger,
		Match: r.Match, Reply: r.Reply, Type: r.Type, Source: r.Source, Channel: r.Channel,
		Cooldown: r.Cooldown.String(), SenderCooldown: r.SenderCooldown.String(),
		Enabled: r.Enabled, DryRun: r.DryRun,
	}
	if !r.Expires.IsZero() {
		e := r.Expires.UTC()
		j.Expires = &e
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the shape MarshalJSON writes.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var j ruleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	cd, err := parseOptionalDuration("cooldown", j.Cooldown)
	if err != nil {
		return err
	}
	scd, err := parseOptionalDuration("sender_cooldown", j.SenderCooldown)
	if err != nil {
		return err
	}
	*r = Rule{
		ID: j.ID, Radio: j.Radio, Owner: j.Owner, OwnerName: j.OwnerName, Trigger: j.Trigger,
		Match: j.Match, Reply: j.Reply, Type: j.Type, Source: j.Source, Channel: j.Channel,
		Cooldown: cd, SenderCooldown: scd, Enabled: j.Enabled, DryRun: j.DryRun,
	}
	if j.Expires != nil {
		r.Expires = *j.Expires
	}
	return nil
}

func parseOptionalDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrInvalid, field, err)
	}
	return d, nil
}
