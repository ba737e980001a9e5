package command

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
)

func (r *runner) rulesCmd() *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:   "rules [-r RADIO]",
		Short: "auto-responder rules (operators manage their own; admins any)",
		Args:  subcommands,
		RunE: r.run(func(*cobra.Command, []string) error {
			rules, err := r.env.Backend.Rules(r.ctx(), r.c(), radioName)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(rules)
			}
			if len(rules) == 0 {
				r.printf("no rules (add one: rules add -r RADIO --trigger TEXT --reply TEMPLATE)\n")
				return nil
			}
			t := newTable(r.env.Out, "ID", "RADIO", "OWNER", "MATCH", "TRIGGER", "REPLY", "COOLDOWN", "STATE")
			for _, ru := range rules {
				t.row(fmt.Sprint(ru.ID), ru.Radio, format.Clean(ru.OwnerName), ru.Match, strconv.Quote(ru.Trigger),
					strconv.Quote(shorten(ru.Reply, 40)), format.Duration(secs(ru.Cooldown)), strings.ReplaceAll(ru.State, "_", " "))
			}
			t.flush()
			r.budgets(rules)
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.AddCommand(r.ruleAddCmd(), r.ruleChangeCmd("rm", "delete a rule", "deleted"),
		r.ruleChangeCmd("enable", "turn a rule on", "enabled"), r.ruleChangeCmd("disable", "turn a rule off", "disabled"),
		r.ruleTestCmd())
	return withOp(c, backend.OpRules)
}

// budgets prints each listed radio's budget of automatic replies.
func (r *runner) budgets(rules []backend.Rule) {
	seen := map[string]bool{}
	for _, ru := range rules {
		if seen[ru.Radio] {
			continue
		}
		seen[ru.Radio] = true
		st, err := r.env.Backend.RadioStatus(r.c(), ru.Radio)
		if err != nil || st.AutoReplies == nil {
			continue
		}
		b := st.AutoReplies
		line := fmt.Sprintf("auto-replies on %s: %d of %d in the last %s", ru.Radio, b.Used, b.Limit, format.Duration(secs(b.WindowSeconds)))
		if b.Refused > 0 {
			line += fmt.Sprintf(", %d held back by the budget", b.Refused)
		}
		r.printf("%s\n", line)
	}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (r *runner) ruleAddCmd() *cobra.Command {
	var s backend.RuleSpec
	var channel int
	var cooldown, senderCooldown time.Duration
	c := &cobra.Command{
		Use:   "add [-r RADIO] --trigger TEXT --reply TEMPLATE [flags]",
		Short: "add a responder rule that you own",
		Long: "Add a responder: when a message matches --trigger, the radio answers with --reply.\n" +
			"Template variables: {sender_name} {sender_short} {sender_id} {hops} {snr} {rssi} {time} {my_name} ...\n" +
			"Replies are paced with everyone's texts, at most one per cooldown (30s or more) and within the\n" +
			"radio's budget of automatic replies.",
		Example: `  ssh GATEWAY "rules add -r base --trigger ping --reply 'pong {sender_short}, {hops} hops'"`,
		Args:    noArgs,
		RunE: r.run(func(cmd *cobra.Command, _ []string) error {
			if channel >= 0 {
				ch := uint32(channel)
				s.Channel = &ch
			}
			if cmd.Flags().Changed("cooldown") {
				s.Cooldown = &cooldown
			}
			if cmd.Flags().Changed("sender-cooldown") {
				s.SenderCooldown = &senderCooldown
			}
			ru, err := r.env.Backend.AddRule(r.ctx(), r.c(), s)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(ru)
			}
			r.printf("rule %d added on %s\n", ru.ID, ru.Radio)
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &s.Radio)
	fs.StringVar(&s.Trigger, "trigger", "", "text that triggers the rule")
	fs.StringVar(&s.Match, "match", "contains", "exact, contains, prefix or regex (all case-insensitive)")
	fs.StringVar(&s.Reply, "reply", "", "the reply template, e.g. 'pong {sender_short}'")
	durationVar(fs, &cooldown, "cooldown", backend.DefaultRuleCooldown, "at least this long between two replies of the rule (at least 30s)")
	durationVar(fs, &senderCooldown, "sender-cooldown", backend.DefaultRuleSenderCooldown, "at least this long between two replies to the same sender (0: only the rule's cooldown)")
	fs.StringVar(&s.Source, "source", "both", "rf, mqtt or both")
	fs.StringVar(&s.Type, "type", "both", "broadcast, direct or both")
	fs.IntVar(&channel, "channel", -1, "only messages on this channel index (-1: any)")
	fs.BoolVar(&s.DryRun, "dry-run", false, "only announce what it would reply")
	durationVar(fs, &s.ExpiresIn, "expires", 0, "disable the rule after this long (0: never)")
	return withOp(c, backend.OpRuleAdd)
}

func parseID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a %s id", s, what)
	}
	return id, nil
}

func (r *runner) ruleChangeCmd(verb, short, done string) *cobra.Command {
	c := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  exactArgs(1, "a rule id (see: rules)"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			id, err := parseID("rule", args[0])
			if err != nil {
				return err
			}
			var ru backend.Rule
			switch verb {
			case "rm":
				ru, err = r.env.Backend.DeleteRule(r.ctx(), r.c(), id)
			default:
				ru, err = r.env.Backend.SetRuleEnabled(r.ctx(), r.c(), id, verb == "enable")
			}
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(ru)
			}
			r.printf("rule %d %s\n", ru.ID, done)
			return nil
		}),
	}
	return withOp(c, backend.OpRuleChange)
}

func (r *runner) ruleTestCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "test ID TEXT...",
		Short: "try a rule on a sample message (sent so the rule's type, source and channel hold)",
		Args:  minArgs(2, "a rule id and a sample message"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			id, err := parseID("rule", args[0])
			if err != nil {
				return err
			}
			res, err := r.env.Backend.TestRule(r.ctx(), r.c(), id, strings.Join(args[1:], " "))
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(res)
			}
			via := "RF"
			if res.ViaMQTT {
				via = "MQTT"
			}
			kind := fmt.Sprintf("broadcast on channel %d", res.Channel)
			if res.Kind == "direct" {
				kind = "direct message"
			}
			r.printf("sample %q from %s, %s via %s\n", format.Clean(res.Text), format.Clean(res.SenderName)+" "+res.Sender.ID, kind, via)
			if !res.Matches {
				r.printf("rule %d does not match: no reply\n", res.Rule)
				return nil
			}
			verb := "replies"
			switch res.State {
			case "dry_run":
				verb = "would reply (dry run)"
			case "disabled", "expired":
				verb = "matches but is " + res.State + "; it would reply"
			}
			r.printf("rule %d %s: %s\n", res.Rule, verb, format.Clean(res.Reply))
			return nil
		}),
	}
	return withOp(c, backend.OpRuleTest)
}

func (r *runner) filtersCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "filters",
		Short: "message filters: yours change only your views; radio-wide ones (admins) what history and responders ignore",
		Args:  subcommands,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.Filters(r.ctx(), r.c())
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(list)
			}
			if len(list) == 0 {
				r.printf("no filters (add one: filters add --node !a1b2c3d4)\n")
				return nil
			}
			t := newTable(r.env.Out, "ID", "SCOPE", "RADIO", "MODE", "KIND", "VALUE", "STATE")
			for _, f := range list {
				scope := "yours"
				if f.Scope == "radio" {
					scope = "radio-wide"
				}
				state := "enabled"
				if !f.Enabled {
					state = "disabled"
				}
				radioName := f.Radio
				if radioName == "" {
					radioName = "(all)"
				}
				t.row(fmt.Sprint(f.ID), scope, radioName, f.Mode, f.Kind, strconv.Quote(f.Value), state)
			}
			t.flush()
			return nil
		}),
	}
	c.AddCommand(r.filterAddCmd(), r.filterChangeCmd("rm", "delete a filter", "deleted"),
		r.filterChangeCmd("enable", "turn a filter on", "enabled"), r.filterChangeCmd("disable", "turn a filter off", "disabled"))
	return withOp(c, backend.OpFilters)
}

func (r *runner) filterAddCmd() *cobra.Command {
	var s backend.FilterSpec
	var node, port, text, re string
	var channel int
	c := &cobra.Command{
		Use:   "add [-r RADIO] [--allow] [--radio-wide] --node|--port|--channel|--text|--regex VALUE",
		Short: "add a filter: block (default) or allow what matches",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			set := 0
			for _, k := range []struct {
				on         bool
				kind, vals string
			}{{node != "", "node", node}, {port != "", "port", port}, {channel >= 0, "channel", strconv.Itoa(channel)},
				{text != "", "text", text}, {re != "", "regex", re}} {
				if k.on {
					set++
					s.Kind, s.Value = k.kind, k.vals
				}
			}
			if set != 1 {
				return usagef("give exactly one of --node, --port, --channel, --text, --regex")
			}
			f, err := r.env.Backend.AddFilter(r.ctx(), r.c(), s)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(f)
			}
			r.printf("filter %d added: %s %s %q\n", f.ID, f.Mode, f.Kind, f.Value)
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &s.Radio)
	fs.BoolVar(&s.Allow, "allow", false, "show only what matches (default: hide what matches)")
	fs.BoolVar(&s.RadioWide, "radio-wide", false, "apply to the radio's history and responders for everyone (admins)")
	fs.StringVar(&node, "node", "", "packets from or to this node (!id, or the start of its name with -r)")
	fs.StringVar(&port, "port", "", "this port (TEXT_MESSAGE, POSITION, 67, ...)")
	fs.IntVar(&channel, "channel", -1, "this channel index")
	fs.StringVar(&text, "text", "", "texts containing this (case-insensitive)")
	fs.StringVar(&re, "regex", "", "texts matching this regular expression (case-insensitive)")
	return withOp(c, backend.OpFilterAdd)
}

func (r *runner) filterChangeCmd(verb, short, done string) *cobra.Command {
	c := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  exactArgs(1, "a filter id (see: filters)"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			id, err := parseID("filter", args[0])
			if err != nil {
				return err
			}
			var f backend.Filter
			if verb == "rm" {
				f, err = r.env.Backend.DeleteFilter(r.ctx(), r.c(), id)
			} else {
				f, err = r.env.Backend.SetFilterEnabled(r.ctx(), r.c(), id, verb == "enable")
			}
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(f)
			}
			r.printf("filter %d %s\n", f.ID, done)
			return nil
		}),
	}
	return withOp(c, backend.OpFilterEdit)
}

func (r *runner) beaconCmd() *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:   "beacon [-r RADIO] | beacon set|start|stop|test|rm [-r RADIO]",
		Short: "a periodic broadcast from the radio",
		Args:  subcommands,
		RunE: r.run(func(*cobra.Command, []string) error {
			st, err := r.env.Backend.Beacon(r.ctx(), r.c(), radioName)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(st)
			}
			if st.Beacon == nil {
				r.printf("no beacon on %s (set one: beacon set -r %s --template TEXT --interval 1h)\n", st.Radio, st.Radio)
				return nil
			}
			bc := st.Beacon
			state := "stopped"
			if bc.Enabled {
				state = "running"
			}
			r.printf("beacon on %s: %q every %s on channel %d, %s (set by %s)\n", st.Radio, format.Clean(bc.Template),
				format.Duration(secs(bc.Interval)), bc.Channel, state, format.Clean(bc.OwnerName))
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.AddCommand(r.beaconSetCmd(),
		r.beaconVerbCmd("start", "start sending the beacon", backend.OpBeaconStart),
		r.beaconVerbCmd("stop", "stop sending the beacon", backend.OpBeaconStart),
		r.beaconVerbCmd("test", "send the beacon once, now", backend.OpBeaconTest),
		r.beaconVerbCmd("rm", "remove the beacon", backend.OpBeaconRm))
	return withOp(c, backend.OpBeacon)
}

func (r *runner) beaconSetCmd() *cobra.Command {
	var s backend.BeaconSpec
	c := &cobra.Command{
		Use:   "set [-r RADIO] --template TEXT [--interval 1h] [--channel N]",
		Short: "set the beacon's text and interval (a running beacon keeps running)",
		Long: "Set the beacon. Template variables: {my_name} {my_id} {battery} {voltage} {uptime} {time}\n" +
			"{lat} {lon} {alt} {nodes}. The interval is at least 15m: a shared channel has little airtime.",
		Args: noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			bc, err := r.env.Backend.SetBeacon(r.ctx(), r.c(), s)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(bc)
			}
			r.printf("beacon on %s set", bc.Radio)
			if !bc.Enabled {
				r.printf(" (start it with: beacon start -r %s)", bc.Radio)
			}
			r.printf("\n")
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &s.Radio)
	fs.StringVar(&s.Template, "template", "", "the text, e.g. '{my_name} up {uptime}, battery {battery}'")
	durationVar(fs, &s.Interval, "interval", time.Hour, "how often (at least 15m)")
	fs.Uint32Var(&s.Channel, "channel", 0, "channel index")
	return withOp(c, backend.OpBeaconSet)
}

func (r *runner) beaconVerbCmd(verb, short string, op backend.Op) *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:   verb + " [-r RADIO]",
		Short: short,
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			b := r.env.Backend
			if verb == "test" {
				m, err := b.TestBeacon(r.ctx(), r.c(), radioName)
				if err != nil {
					return err
				}
				if r.json {
					return r.writeJSON(m)
				}
				r.printf("beacon sent: %s\n", format.Clean(m.Text))
				return nil
			}
			var bc backend.Beacon
			var err error
			words := map[string]string{"start": "started", "stop": "stopped", "rm": "removed"}
			switch verb {
			case "start", "stop":
				bc, err = b.SetBeaconEnabled(r.ctx(), r.c(), radioName, verb == "start")
			case "rm":
				bc, err = b.DeleteBeacon(r.ctx(), r.c(), radioName)
			}
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(bc)
			}
			r.printf("beacon on %s %s\n", bc.Radio, words[verb])
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	return withOp(c, op)
}
