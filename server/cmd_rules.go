package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/responder"
	"github.com/meshgate/meshgate/store"
)

// errNoStore explains commands that need the database.
var errNoStore = errors.New("this gateway runs without a database")

func (e *execEnv) actor() store.Actor {
	return store.Actor{Name: e.id.Name, Fingerprint: e.id.Fingerprint}
}

func (e *execEnv) dbctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, 10*time.Second)
}

// subcommand splits "rules add ..." into the verb and its arguments.
func subcommand(args []string, verbs ...string) (string, []string) {
	if len(args) > 0 {
		for _, v := range verbs {
			if args[0] == v {
				return v, args[1:]
			}
		}
	}
	return "", args
}

// newSub is a fresh flag set for "cmd verb".
func newSub(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (e *execEnv) cmdRules(fs *flag.FlagSet, args []string) int {
	st := e.s.cfg.Store
	verb, rest := subcommand(args, "add", "rm", "enable", "disable", "test")
	if verb == "" {
		rname := radioFlag(fs)
		asJSON := fs.Bool("json", false, "print JSON")
		if _, code, ok := e.parse(fs, rest); !ok {
			return code
		}
		if st == nil {
			return e.fail("rules", exitFailed, errNoStore)
		}
		ctx, cancel := e.dbctx()
		defer cancel()
		rules, err := st.Rules(ctx, *rname)
		if err != nil {
			return e.fail("rules", exitFailed, err)
		}
		var mine []responder.Rule
		for _, r := range rules {
			if e.id.MayUse(r.Radio) {
				mine = append(mine, r)
			}
		}
		if *asJSON {
			if mine == nil {
				mine = []responder.Rule{}
			}
			return e.writeJSON(mine)
		}
		tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRADIO\tOWNER\tMATCH\tTRIGGER\tREPLY\tSTATE")
		for _, r := range mine {
			state := "enabled"
			switch {
			case !r.Enabled:
				state = "disabled"
			case r.DryRun:
				state = "dry run"
			case !r.Active(time.Now()):
				state = "expired"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%q\t%q\t%s\n", r.ID, r.Radio, r.OwnerName, r.Match, r.Trigger, shorten(r.Reply, 40), state)
		}
		_ = tw.Flush()
		return exitOK
	}
	if e.id.Role < auth.Operator {
		fmt.Fprintf(e.errOut, "meshgate rules: permission denied: needs the operator role (you are %s)\n", e.id.Role)
		return exitDenied
	}
	if st == nil {
		return e.fail("rules", exitFailed, errNoStore)
	}
	switch verb {
	case "add":
		return e.rulesAdd(newSub("rules add"), rest)
	case "test":
		return e.rulesTest(newSub("rules test"), rest)
	}
	return e.rulesChange(verb, newSub("rules "+verb), rest)
}

func (e *execEnv) rulesAdd(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	trigger := fs.String("trigger", "", "text that triggers the rule")
	match := fs.String("match", "contains", "exact, contains, prefix or regex (all case-insensitive)")
	reply := fs.String("reply", "", "reply template, e.g. 'pong {sender_short}, {hops} hops' (see help rules)")
	cooldown := fs.Duration("cooldown", time.Minute, "at most one reply per this long from this rule")
	senderCooldown := fs.Duration("sender-cooldown", 5*time.Minute, "at most one reply per this long to the same sender")
	source := fs.String("source", "both", "rf, mqtt or both")
	typ := fs.String("type", "both", "broadcast, direct or both")
	channel := fs.Int("channel", -1, "only messages on this channel index (default any)")
	dry := fs.Bool("dry-run", false, "only show what it would reply")
	expires := fs.Duration("expires", 0, "disable the rule after this long (default never)")
	asJSON := fs.Bool("json", false, "print the new rule as JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	b, code, ok := e.pickRadio("rules add", *rname)
	if !ok {
		return code
	}
	r := responder.Rule{Radio: b.Name(), Owner: e.id.Fingerprint, OwnerName: e.id.Name, Trigger: *trigger, Reply: *reply,
		Cooldown: *cooldown, SenderCooldown: *senderCooldown, Enabled: true, DryRun: *dry}
	var err error
	if r.Match, err = responder.ParseMatchKind(*match); err != nil {
		return e.usage("rules add", err.Error())
	}
	if r.Source, err = responder.ParseSource(*source); err != nil {
		return e.usage("rules add", err.Error())
	}
	if r.Type, err = responder.ParseMsgType(*typ); err != nil {
		return e.usage("rules add", err.Error())
	}
	if *channel > 7 {
		return e.usage("rules add", "--channel must be 0-7")
	}
	if *channel >= 0 {
		c := uint32(*channel)
		r.Channel = &c
	}
	if *expires > 0 {
		r.Expires = time.Now().Add(*expires)
	}
	if err := r.Validate(); err != nil {
		return e.usage("rules add", err.Error())
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	saved, err := e.s.cfg.Store.AddRule(ctx, e.actor(), r)
	if err != nil {
		return e.fail("rules add", exitFailed, err)
	}
	e.s.log.Info("rule added", "user", e.id.Name, "radio", saved.Radio, "rule", saved.ID)
	if *asJSON {
		return e.writeJSON(saved)
	}
	fmt.Fprintf(e.out, "rule %d added on %s\n", saved.ID, saved.Radio)
	return exitOK
}

// ownRule loads a rule the user may change: their own, or any as admin.
func (e *execEnv) ownRule(cmd string, fs *flag.FlagSet, args []string) (responder.Rule, int, bool) {
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return responder.Rule{}, code, false
	}
	if len(pos) < 1 {
		return responder.Rule{}, e.usage(cmd, "want a rule id (see: rules)"), false
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return responder.Rule{}, e.usage(cmd, fmt.Sprintf("%q is not a rule id", pos[0])), false
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	r, err := e.s.cfg.Store.Rule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, e.usage(cmd, fmt.Sprintf("no rule %d", id)), false
	}
	if err != nil {
		return r, e.fail(cmd, exitFailed, err), false
	}
	if r.Owner != e.id.Fingerprint && e.id.Role < auth.Admin {
		fmt.Fprintf(e.errOut, "meshgate %s: permission denied: rule %d belongs to %s\n", cmd, id, r.OwnerName)
		return r, exitDenied, false
	}
	return r, 0, true
}

func (e *execEnv) rulesChange(verb string, fs *flag.FlagSet, args []string) int {
	cmd := "rules " + verb
	r, code, ok := e.ownRule(cmd, fs, args)
	if !ok {
		return code
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	var err error
	switch verb {
	case "rm":
		err = e.s.cfg.Store.DeleteRule(ctx, e.actor(), r.ID)
	case "enable", "disable":
		err = e.s.cfg.Store.SetRuleEnabled(ctx, e.actor(), r.ID, verb == "enable")
	}
	if err != nil {
		return e.fail(cmd, exitFailed, err)
	}
	fmt.Fprintf(e.out, "rule %d: %sd\n", r.ID, strings.TrimSuffix(verb, "e")+"e")
	return exitOK
}

// rulesTest renders a rule against a sample message from a sample sender.
func (e *execEnv) rulesTest(fs *flag.FlagSet, args []string) int {
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) < 2 {
		return e.usage("rules test", "want a rule id and a sample message")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return e.usage("rules test", fmt.Sprintf("%q is not a rule id", pos[0]))
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	r, err := e.s.cfg.Store.Rule(ctx, id)
	if err != nil {
		return e.usage("rules test", fmt.Sprintf("no rule %d", id))
	}
	hops := uint32(1)
	in := responder.Incoming{Radio: r.Radio, PacketID: 1, From: 0x0a0b0c0d, To: meshtastic.Broadcast, MyNode: 1,
		Text: strings.Join(pos[1:], " "), Hops: &hops, SNR: 6.5, RSSI: -90, SenderKnown: true,
		SenderLong: "Sample Sender", SenderShort: "SMPL", MyLong: "This Radio", MyShort: "ME"}
	if !r.Matches(&in) {
		fmt.Fprintf(e.out, "rule %d does not match %q\n", r.ID, in.Text)
		return exitOK
	}
	fmt.Fprintf(e.out, "rule %d matches; it would reply: %s\n", r.ID, r.Render(&in, time.Now(), meshtastic.MaxTextBytes(true, true)))
	return exitOK
}

func (e *execEnv) cmdFilters(fs *flag.FlagSet, args []string) int {
	st := e.s.cfg.Store
	verb, rest := subcommand(args, "add", "rm", "enable", "disable")
	if st == nil {
		return e.fail("filters", exitFailed, errNoStore)
	}
	if verb == "" {
		asJSON := fs.Bool("json", false, "print JSON")
		if _, code, ok := e.parse(fs, rest); !ok {
			return code
		}
		ctx, cancel := e.dbctx()
		defer cancel()
		all, err := st.Filters(ctx)
		if err != nil {
			return e.fail("filters", exitFailed, err)
		}
		var shown []filter.Filter
		for _, f := range all {
			if (f.Scope == filter.ScopeUser && f.Owner == e.id.Fingerprint) || (f.Scope == filter.ScopeRadio && e.id.MayUse(f.Radio)) {
				shown = append(shown, f)
			}
		}
		if *asJSON {
			if shown == nil {
				shown = []filter.Filter{}
			}
			return e.writeJSON(shown)
		}
		tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPE\tRADIO\tMODE\tKIND\tVALUE\tENABLED")
		for _, f := range shown {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%q\t%v\n", f.ID, f.Scope, dash(f.Radio), f.Mode, f.Kind, f.Value, f.Enabled)
		}
		_ = tw.Flush()
		return exitOK
	}
	if verb == "add" {
		return e.filtersAdd(newSub("filters add"), rest)
	}
	cmd := "filters " + verb
	fs = newSub(cmd)
	pos, code, ok := e.parse(fs, rest)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usage(cmd, "want a filter id (see: filters)")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return e.usage(cmd, fmt.Sprintf("%q is not a filter id", pos[0]))
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	f, err := st.Filter(ctx, id)
	if err != nil {
		return e.usage(cmd, fmt.Sprintf("no filter %d", id))
	}
	if (f.Scope == filter.ScopeUser && f.Owner != e.id.Fingerprint) || (f.Scope == filter.ScopeRadio && e.id.Role < auth.Admin) {
		fmt.Fprintf(e.errOut, "meshgate %s: permission denied: not your filter\n", cmd)
		return exitDenied
	}
	if verb == "rm" {
		err = st.DeleteFilter(ctx, e.actor(), id)
	} else {
		err = st.SetFilterEnabled(ctx, e.actor(), id, verb == "enable")
	}
	if err != nil {
		return e.fail(cmd, exitFailed, err)
	}
	fmt.Fprintf(e.out, "filter %d: done\n", id)
	return exitOK
}

func (e *execEnv) filtersAdd(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	allow := fs.Bool("allow", false, "show only what matches (default: hide what matches)")
	radioWide := fs.Bool("radio-wide", false, "apply to the radio's history and responder for everyone (admins)")
	node := fs.String("node", "", "match packets from or to this node (!id)")
	port := fs.String("port", "", "match this port (TEXT_MESSAGE, POSITION, 67, ...)")
	channel := fs.Int("channel", -1, "match this channel index")
	text := fs.String("text", "", "match texts containing this (case-insensitive)")
	re := fs.String("regex", "", "match texts by this regular expression (case-insensitive)")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	f := filter.Filter{Owner: e.id.Fingerprint, OwnerName: e.id.Name, Mode: filter.Block, Enabled: true, Radio: *rname}
	if *allow {
		f.Mode = filter.Allow
	}
	set := 0
	for _, c := range []struct {
		on   bool
		kind filter.Kind
		val  string
	}{{*node != "", filter.KindNode, *node}, {*port != "", filter.KindPort, *port}, {*channel >= 0, filter.KindChannel, strconv.Itoa(*channel)},
		{*text != "", filter.KindText, *text}, {*re != "", filter.KindRegex, *re}} {
		if c.on {
			set++
			f.Kind, f.Value = c.kind, c.val
		}
	}
	if set != 1 {
		return e.usage("filters add", "give exactly one of --node, --port, --channel, --text, --regex")
	}
	if *radioWide {
		if e.id.Role < auth.Admin {
			fmt.Fprintln(e.errOut, "meshgate filters add: permission denied: radio-wide filters are for admins")
			return exitDenied
		}
		b, code, ok := e.pickRadio("filters add", *rname)
		if !ok {
			return code
		}
		f.Scope, f.Radio = filter.ScopeRadio, b.Name()
	} else if f.Radio != "" {
		if _, code, ok := e.pickRadio("filters add", f.Radio); !ok {
			return code
		}
	}
	if err := f.Validate(); err != nil {
		return e.usage("filters add", err.Error())
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	saved, err := e.s.cfg.Store.AddFilter(ctx, e.actor(), f)
	if err != nil {
		return e.fail("filters add", exitFailed, err)
	}
	fmt.Fprintf(e.out, "filter %d added (%s %s %s %q)\n", saved.ID, saved.Scope, saved.Mode, saved.Kind, saved.Value)
	return exitOK
}

func (e *execEnv) cmdBeacon(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	template := fs.String("template", "", "with set: the text, e.g. '{my_name} up {uptime}, battery {battery}'")
	interval := fs.Duration("interval", time.Hour, "with set: how often (at least 15m)")
	channel := fs.Uint("channel", 0, "with set: channel index")
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.Duration("wait", 20*time.Second, "with test: how long to wait for the radio to connect")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	verb := ""
	if len(pos) > 0 {
		verb = pos[0]
	}
	switch {
	case len(pos) > 1:
		return e.usage("beacon", fmt.Sprintf("unexpected argument %q", pos[1]))
	case verb != "" && verb != "set" && verb != "start" && verb != "stop" && verb != "test" && verb != "rm":
		return e.usage("beacon", fmt.Sprintf("unknown action %q (set, start, stop, test or rm)", verb))
	}
	st := e.s.cfg.Store
	if st == nil {
		return e.fail("beacon", exitFailed, errNoStore)
	}
	b, code, ok := e.pickRadio("beacon", *rname)
	if !ok {
		return code
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	cur, err := st.Beacon(ctx, b.Name())
	exists := err == nil
	if verb == "" {
		if !exists {
			fmt.Fprintf(e.out, "no beacon on %s (set one: beacon -r %s set --template TEXT --interval 1h)\n", b.Name(), b.Name())
			return exitOK
		}
		if *asJSON {
			return e.writeJSON(cur)
		}
		fmt.Fprintf(e.out, "beacon on %s: %q every %s on channel %d, %s (set by %s)\n", b.Name(), cur.Template, cur.Interval,
			cur.Channel, map[bool]string{true: "running", false: "stopped"}[cur.Enabled], cur.OwnerName)
		return exitOK
	}
	if e.id.Role < auth.Operator {
		fmt.Fprintf(e.errOut, "meshgate beacon: permission denied: needs the operator role (you are %s)\n", e.id.Role)
		return exitDenied
	}
	switch verb {
	case "set":
		bc := responder.Beacon{Radio: b.Name(), Owner: e.id.Fingerprint, OwnerName: e.id.Name, Template: *template,
			Interval: *interval, Channel: uint32(*channel), Enabled: exists && cur.Enabled}
		if err := bc.Validate(); err != nil {
			return e.usage("beacon", err.Error())
		}
		if _, err := st.PutBeacon(ctx, e.actor(), bc); err != nil {
			return e.fail("beacon", exitFailed, err)
		}
		fmt.Fprintf(e.out, "beacon on %s set (start it with: beacon -r %s start)\n", b.Name(), b.Name())
		return exitOK
	case "start", "stop":
		if !exists {
			return e.usage("beacon", "no beacon set on "+b.Name())
		}
		if err := st.SetBeaconEnabled(ctx, e.actor(), b.Name(), verb == "start"); err != nil {
			return e.fail("beacon", exitFailed, err)
		}
		fmt.Fprintf(e.out, "beacon on %s %sed\n", b.Name(), strings.TrimSuffix(verb, "p")+map[bool]string{true: "p", false: ""}[verb == "stop"])
		return exitOK
	case "rm":
		if err := st.DeleteBeacon(ctx, e.actor(), b.Name()); err != nil {
			return e.fail("beacon", exitFailed, err)
		}
		fmt.Fprintf(e.out, "beacon on %s removed\n", b.Name())
		return exitOK
	}
	// test: send it once now.
	if !exists {
		return e.usage("beacon", "no beacon set on "+b.Name())
	}
	_, _, detach, code, ok := e.open("beacon", b.Name(), *wait)
	if !ok {
		return code
	}
	defer detach()
	m, err := b.SendBeacon(e.ctx, cur)
	if err != nil {
		return e.fail("beacon", exitFailed, err)
	}
	fmt.Fprintf(e.out, "beacon sent: %s\n", m.Text)
	return exitOK
}

func (e *execEnv) cmdHistory(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	limit := fs.Int("limit", 50, "how many of the newest messages")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *limit < 1 || *limit > 100000 {
		return e.usage("history", "--limit must be 1-100000")
	}
	b, code, ok := e.pickRadio("history", *rname)
	if !ok {
		return code
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	msgs, err := b.History(ctx, *limit)
	if err != nil {
		return e.fail("history", exitFailed, err)
	}
	personal := e.personalFilters(b.Name())
	shown := msgs[:0]
	for _, m := range msgs {
		if ok, _ := personal.AllowsMessage(m.From, m.To, m.Channel, m.Text); ok {
			shown = append(shown, m)
		}
	}
	if *asJSON {
		return e.writeJSON(shown)
	}
	for _, m := range shown {
		fmt.Fprintf(e.out, "%s ch%d %s -> %s: %s\n", m.At.Local().Format("2006-01-02 15:04:05"), m.Channel,
			meshtastic.NodeID(m.From), meshtastic.NodeID(m.To), m.Text)
	}
	if hidden := len(msgs) - len(shown); hidden > 0 {
		fmt.Fprintf(e.errOut, "meshgate: %d messages hidden by your filters\n", hidden)
	}
	return exitOK
}

func (e *execEnv) cmdAudit(fs *flag.FlagSet, args []string) int {
	limit := fs.Int("limit", 50, "how many of the newest entries")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	if e.s.cfg.Store == nil {
		return e.fail("audit", exitFailed, errNoStore)
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	entries, err := e.s.cfg.Store.Audit(ctx, store.AuditQuery{Page: store.Page{Limit: *limit}})
	if err != nil {
		return e.fail("audit", exitFailed, err)
	}
	if *asJSON {
		return e.writeJSON(entries)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUSER\tRADIO\tACTION\tDETAIL")
	for _, a := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.At.Local().Format("2006-01-02 15:04:05"), a.User, dash(a.Radio), a.Action, a.Detail)
	}
	_ = tw.Flush()
	return exitOK
}

// audit records an action in the audit log, if the gateway has one.
func (s *Server) audit(id auth.Identity, radio, action, detail string) {
	if s.cfg.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.cfg.Store.AppendAudit(ctx, store.AuditEntry{At: time.Now(), User: id.Name, Fingerprint: id.Fingerprint,
		Radio: radio, Action: action, Detail: detail}); err != nil {
		s.log.Error("audit log", "err", err)
	}
}

// personalFilters is the user's own filter set for a radio (empty when the
// gateway has no database). It changes only this user's views.
func (e *execEnv) personalFilters(radio string) *filter.Set {
	return e.personalFiltersOf(radio, nil)
}

// personalNodeFilters keeps only the node filters, for node lists.
func (e *execEnv) personalNodeFilters(radio string) *filter.Set {
	return e.personalFiltersOf(radio, func(f filter.Filter) bool { return f.Kind == filter.KindNode })
}

func (e *execEnv) personalFiltersOf(radio string, keep func(filter.Filter) bool) *filter.Set {
	empty, _ := filter.NewSet(nil)
	if e.s.cfg.Store == nil {
		return empty
	}
	ctx, cancel := e.dbctx()
	defer cancel()
	all, err := e.s.cfg.Store.Filters(ctx)
	if err != nil {
		return empty
	}
	mine := filter.Personal(all, radio, e.id.Fingerprint)
	if keep != nil {
		kept := mine[:0]
		for _, f := range mine {
			if keep(f) {
				kept = append(kept, f)
			}
		}
		mine = kept
	}
	set, err := filter.NewSet(mine)
	if err != nil {
		e.s.log.Warn("invalid personal filters ignored", "user", e.id.Name, "err", err)
	}
	return set
}
