package command

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/backend"
)

// tree builds the whole command tree for one command line.
func (r *runner) tree() *cobra.Command {
	root := &cobra.Command{
		Use:           "meshgate",
		Short:         "shared Meshtastic radios",
		Args:          r.unknownCommand,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          r.run(func(cmd *cobra.Command, _ []string) error { r.rootHelp(cmd); return nil }),
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.PersistentFlags().BoolVar(&r.json, "json", false, "print JSON (with --follow and sweep: one JSON object per line)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%s", err.Error()) })
	root.SetHelpFunc(r.help)
	root.SetHelpCommand(r.helpCmd(root))
	for _, c := range []*cobra.Command{
		r.tuiCmd(),
		r.whoamiCmd(), r.radiosCmd(), r.nodesCmd(), r.messagesCmd(), r.historyCmd(), r.packetsCmd(), r.telemetryCmd(),
		r.mqttCmd(), r.configCmd(),
		r.sendCmd(), r.tracerouteCmd(), r.sweepCmd(), r.requestCmd(),
		r.rulesCmd(), r.filtersCmd(), r.beaconCmd(),
		r.reconnectCmd(), r.rebootCmd(), r.shutdownCmd(), r.factoryResetCmd(), r.nodedbResetCmd(),
		r.sessionsCmd(), r.connectionsCmd(), r.kickCmd(), r.auditCmd(),
	} {
		root.AddCommand(c)
	}
	// Each Use line names its flags already; cobra would add "[flags]".
	var plain func(*cobra.Command)
	plain = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		for _, s := range c.Commands() {
			plain(s)
		}
	}
	plain(root)
	return root
}

func (r *runner) unknownCommand(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q (try: help)", args[0])
	}
	return nil
}

// helpCmd is `help [COMMAND [SUB]]`: the real flags of any command.
func (r *runner) helpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND [SUBCOMMAND]]",
		Short: "list commands, or show one command's flags",
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				r.rootHelp(root)
				return nil
			}
			c, rest, err := root.Find(args)
			if err != nil || c == root || len(rest) > 0 {
				return usagef("no command %q", strings.Join(args, " "))
			}
			r.help(c, nil)
			return nil
		}),
	}
}

// rootHelp lists every command in the order of the tree.
func (r *runner) rootHelp(root *cobra.Command) {
	w := r.env.Out
	fmt.Fprintf(w, "meshgate: shared Meshtastic radios. Usage: ssh GATEWAY COMMAND [flags]\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range root.Commands() {
		if c.Hidden {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", c.Name(), c.Short, r.roleMark(c))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nEvery command takes --json (one JSON document; --follow streams one object per line)\n"+
		"and -h for its flags; `help COMMAND [SUBCOMMAND]` shows them too.\n"+
		"ssh joins its arguments with spaces, so quote text twice: ssh GATEWAY \"send -r base 'hello there'\".\n"+
		"Without a command you get the terminal UI (use ssh -t).\n")
}

// roleMark says which role a command needs when the caller lacks it.
func (r *runner) roleMark(c *cobra.Command) string {
	op, ok := c.Annotations[opAnnotation]
	if !ok || backend.Can(r.c().Identity, backend.Op(op)) {
		return ""
	}
	return " (" + backend.MinRole(backend.Op(op)).String() + " role)"
}

// help prints one command's usage, its flags and subcommands.
func (r *runner) help(c *cobra.Command, _ []string) {
	if !c.HasParent() {
		r.rootHelp(c)
		return
	}
	w := r.env.Out
	fmt.Fprintf(w, "usage: ssh GATEWAY %s\n\n", strings.TrimPrefix(c.UseLine(), "meshgate "))
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	fmt.Fprintf(w, "%s%s\n", desc, r.roleMark(c))
	if subs := visible(c.Commands()); len(subs) > 0 {
		fmt.Fprintf(w, "\nsubcommands:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range subs {
			fmt.Fprintf(tw, "  %s\t%s%s\n", s.Name(), s.Short, r.roleMark(s))
		}
		_ = tw.Flush()
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(w, "\nflags:\n%s", c.LocalFlags().FlagUsages())
	}
	fmt.Fprintf(w, "\nglobal flags:\n%s", c.InheritedFlags().FlagUsages())
	if c.Example != "" {
		fmt.Fprintf(w, "\nexamples:\n%s\n", c.Example)
	}
}

func visible(cs []*cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range cs {
		if !c.Hidden && c.Name() != "help" {
			out = append(out, c)
		}
	}
	return out
}

// table is a tab-aligned text table.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	}
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() { _ = t.tw.Flush() }
