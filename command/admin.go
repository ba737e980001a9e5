package command

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
)

// adminCmd is one of the destructive radio actions: --yes confirms.
func (r *runner) adminCmd(use, short, what string, op backend.Op, flags func(*cobra.Command),
	act func(radioName string) (backend.ActionResult, error)) *cobra.Command {
	var radioName string
	var yes bool
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			if !backend.Can(r.c().Identity, op) {
				_, err := act(radioName) // the core refuses and says why
				return err
			}
			if !yes {
				name := radioName
				if name == "" {
					name = "the radio"
				}
				return usagef("this will %s %s; add --yes to confirm", what, name)
			}
			res, err := act(radioName)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(res)
			}
			r.printf("%s: radio %s accepted the request\n", res.Action, res.Radio)
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.Flags().BoolVar(&yes, "yes", false, "confirm")
	if flags != nil {
		flags(c)
	}
	return withOp(c, op)
}

func (r *runner) rebootCmd() *cobra.Command {
	var delay time.Duration
	return r.adminCmd("reboot [-r RADIO] --yes [--delay 5s]", "reboot the radio", "reboot", backend.OpReboot,
		func(c *cobra.Command) {
			durationVar(c.Flags(), &delay, "delay", 5*time.Second, "reboot after this long (0s-1h)")
		},
		func(name string) (backend.ActionResult, error) {
			return r.env.Backend.Reboot(r.ctx(), r.c(), name, delay)
		})
}

func (r *runner) shutdownCmd() *cobra.Command {
	return r.adminCmd("shutdown [-r RADIO] --yes", "power the radio off (it stays off until someone presses its button)",
		"shut down", backend.OpShutdown, nil,
		func(name string) (backend.ActionResult, error) { return r.env.Backend.Shutdown(r.ctx(), r.c(), name) })
}

func (r *runner) factoryResetCmd() *cobra.Command {
	var device bool
	return r.adminCmd("factory-reset [-r RADIO] --yes [--device]", "restore factory settings (--device also wipes keys and NodeDB)",
		"factory-reset", backend.OpFactoryReset,
		func(c *cobra.Command) {
			c.Flags().BoolVar(&device, "device", false, "also wipe the device keys and NodeDB")
		},
		func(name string) (backend.ActionResult, error) {
			return r.env.Backend.FactoryReset(r.ctx(), r.c(), name, device)
		})
}

func (r *runner) nodedbResetCmd() *cobra.Command {
	var keep bool
	return r.adminCmd("nodedb-reset [-r RADIO] --yes [--keep-favorites]", "empty the radio's node database",
		"empty the node database of", backend.OpNodeDBReset,
		func(c *cobra.Command) { c.Flags().BoolVar(&keep, "keep-favorites", false, "keep favourite nodes") },
		func(name string) (backend.ActionResult, error) {
			return r.env.Backend.NodeDBReset(r.ctx(), r.c(), name, keep)
		})
}

func (r *runner) sessionsCmd() *cobra.Command {
	return withOp(&cobra.Command{
		Use:   "sessions",
		Short: "every open session on the gateway",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.Sessions(r.c())
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(list)
			}
			now := r.env.Now()
			t := newTable(r.env.Out, "ID", "USER", "ROLE", "KIND", "RADIO", "FROM", "OPENED", "IDLE")
			for _, s := range list {
				id := s.ID
				if s.You {
					id += " (you)"
				}
				t.row(id, format.Clean(s.User), s.Role, s.Kind, dash(s.Radio), s.RemoteAddr, format.Age(now, s.Opened),
					format.Duration(secs(s.IdleSeconds)))
			}
			t.flush()
			r.printf("%s\n", format.Count(len(list), "session"))
			return nil
		}),
	}, backend.OpSessions)
}

func (r *runner) connectionsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "connections",
		Short: "every SSH connection on the gateway, with its sessions",
		Args:  subcommands,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.Connections(r.c())
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(list)
			}
			now := r.env.Now()
			t := newTable(r.env.Out, "ID", "USER", "FROM", "SINCE", "SESSIONS")
			for _, c := range list {
				t.row(c.ID, format.Clean(c.User), c.RemoteAddr, format.Age(now, c.Since), strconv.Itoa(c.Sessions))
			}
			t.flush()
			r.printf("%s\n", format.Count(len(list), "connection"))
			return nil
		}),
	}
	var reason string
	closeCmd := &cobra.Command{
		Use:   "close CONNECTION_ID [--reason TEXT]",
		Short: "close a connection and every session on it",
		Args:  exactArgs(1, "a connection id, as the connections command lists them"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			res, err := r.env.Backend.CloseConnection(r.c(), args[0], reason)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(res)
			}
			r.printf("connection %s of %s closed (%s)\n", res.Connection, format.Clean(res.User),
				format.Count(res.Sessions, "session"))
			return nil
		}),
	}
	closeCmd.Flags().StringVar(&reason, "reason", "", "recorded in the audit log")
	c.AddCommand(withOp(closeCmd, backend.OpKick))
	return withOp(c, backend.OpSessions)
}

func (r *runner) kickCmd() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "kick SESSION_ID [--reason TEXT]",
		Short: "close another session, telling its user why",
		Args:  exactArgs(1, "a session id, as the sessions command lists them"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			res, err := r.env.Backend.Kick(r.c(), args[0], reason)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(res)
			}
			r.printf("session %s of %s closed\n", res.Session, format.Clean(res.User))
			return nil
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "what the user is told")
	return withOp(c, backend.OpKick)
}

func (r *runner) auditCmd() *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:   "audit [--limit N]",
		Short: "who changed what: admin actions, config changes, kicks, rules",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			entries, err := r.env.Backend.Audit(r.ctx(), r.c(), limit)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(entries)
			}
			t := newTable(r.env.Out, "TIME", "USER", "RADIO", "ACTION", "DETAIL")
			for _, a := range entries {
				t.row(a.At.Local().Format("2006-01-02 15:04:05"), format.Clean(a.User), dash(a.Radio), a.Action,
					format.Clean(dash(a.Detail)))
			}
			t.flush()
			return nil
		}),
	}
	c.Flags().IntVar(&limit, "limit", backend.DefaultLimit, "how many of the newest entries")
	return withOp(c, backend.OpAudit)
}
