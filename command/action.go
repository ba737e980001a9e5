package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
)

func (r *runner) sendCmd() *cobra.Command {
	var req backend.SendRequest
	var noWait bool
	c := &cobra.Command{
		Use:   "send [-r RADIO] [--to NODE] [--channel N] [--no-wait] TEXT...",
		Short: "send a text; waits for the ack unless --no-wait",
		Long: "Send a text to the channel, or to one node with --to (!id or the start of its name).\n" +
			"The words after the flags are the text; ssh joins its arguments, so quote the whole\n" +
			"command to keep quotes: ssh GATEWAY \"send -r base \\\"it's fine\\\"\". --no-wait returns once the\n" +
			"radio took the text, without waiting for the ack.",
		Args: minArgs(1, "the text to send after the flags"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			req.Text = strings.Join(args, " ")
			req.Wait = !noWait
			m, err := r.env.Backend.Send(r.ctx(), r.c(), req)
			if err != nil && m.ID == 0 {
				return err
			}
			if r.json {
				if werr := r.writeJSON(m); werr != nil {
					return werr
				}
				return err // still non-zero when the ack failed or timed out
			}
			if err != nil {
				return err
			}
			switch {
			case m.Delivery == "acked" && m.AckFrom != "":
				r.printf("sent %s, acked by %s\n", hexID(m.ID), m.AckFrom)
			case m.Delivery == "acked" && m.AckImplicit:
				r.printf("sent %s, acked (a relay repeated it)\n", hexID(m.ID))
			case m.Delivery == "acked":
				r.printf("sent %s, acked\n", hexID(m.ID))
			default:
				r.printf("sent %s\n", hexID(m.ID))
			}
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &req.Radio)
	fs.StringVar(&req.To, "to", "", "a node (!id or the start of its name); empty sends to the channel")
	fs.Uint32Var(&req.Channel, "channel", 0, "channel index (0-7; must be enabled on the radio)")
	fs.BoolVar(&noWait, "no-wait", false, "do not wait for the ack")
	durationVar(fs, &req.Timeout, "timeout", time.Minute, "how long to wait for the ack")
	waitFlag(fs, &req.ConnectWait)
	return withOp(c, backend.OpSend)
}

func hexID(id uint32) string { return fmt.Sprintf("%#08x", id) }

func (r *runner) tracerouteCmd() *cobra.Command {
	var req backend.TraceRequest
	var history bool
	var limit int
	c := &cobra.Command{
		Use:   "traceroute [-r RADIO] NODE | traceroute --history [-r RADIO] [NODE]",
		Short: "trace the route to a node and back (queued: one per 30 s per radio); --history lists past ones",
		Args: func(cmd *cobra.Command, args []string) error {
			if history {
				if len(args) > 1 {
					return usagef("unexpected argument %q (want at most one node)", args[1])
				}
				return nil
			}
			return exactArgs(1, "exactly one node (!id or the start of its name)")(cmd, args)
		},
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			if history {
				node := ""
				if len(args) == 1 {
					node = args[0]
				}
				list, err := r.env.Backend.TraceHistory(r.ctx(), r.c(), req.Radio, node, limit)
				if err != nil {
					return err
				}
				if r.json {
					return r.writeJSON(list)
				}
				names := r.nameOf(list.Radio)
				now := r.env.Now()
				for _, t := range list.Traces {
					r.printf("%s ago  %s  by %s\n", format.Age(now, t.At), traceSummary(names, t), format.Clean(dash(t.RequestedBy)))
				}
				if len(list.Traces) == 0 {
					r.printf("no traceroutes yet\n")
				}
				return nil
			}
			req.Node = args[0]
			last := -1
			req.OnQueue = func(ahead int, eta time.Time) {
				if ahead != last && ahead > 0 && !r.json {
					r.note("traceroute queued, %d ahead, starts in about %s", ahead, format.Duration(time.Until(eta)))
				}
				last = ahead
			}
			t, err := r.env.Backend.Traceroute(r.ctx(), r.c(), req)
			if r.json && t.Target != "" {
				if werr := r.writeJSON(t); werr != nil {
					return werr
				}
				if err != nil {
					return errSilentOr(err)
				}
				return nil
			}
			if err != nil {
				return err
			}
			names := r.nameOf(t.Radio)
			r.printf("route to %s:\n  %s\n", names(t.TargetNum), routeLine(names, r.selfName(t.Radio), t.Towards))
			if t.Back != nil {
				r.printf("route back:\n  %s\n", routeLine(names, names(t.TargetNum), t.Back))
			}
			r.printf("took %s\n", format.Duration(time.Duration(t.RTTSeconds*float64(time.Second))))
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &req.Radio)
	fs.BoolVar(&history, "history", false, "list stored traceroutes (of NODE, or all) instead of running one")
	fs.IntVar(&limit, "limit", 20, "with --history: how many of the newest")
	waitFlag(fs, &req.ConnectWait)
	return withOp(c, backend.OpTraceroute)
}

// errSilentOr keeps the exit status of err without printing it again.
func errSilentOr(err error) error { return &silentError{err} }

type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }

// routeLine is "ME !a -> A !b (6.25 dB) -> B !c (? dB)": the start, then
// each hop to the endpoint with the SNR it heard the packet at.
func routeLine(names func(uint32) string, start string, hops []backend.Hop) string {
	var b strings.Builder
	b.WriteString(start)
	for _, h := range hops {
		b.WriteString(" -> ")
		if h.Num != nil {
			b.WriteString(names(*h.Num))
		} else {
			b.WriteString("?")
		}
		if h.SNR != nil {
			fmt.Fprintf(&b, " (%s dB)", format.Number(float64(*h.SNR)))
		} else {
			b.WriteString(" (? dB)")
		}
	}
	return b.String()
}

func traceSummary(names func(uint32) string, t backend.Trace) string {
	target := names(t.TargetNum)
	switch t.Outcome {
	case backend.TraceComplete:
		return fmt.Sprintf("%s: %s, %s", target, format.Plural(len(t.Towards), "hop", "hops"),
			format.Duration(time.Duration(t.RTTSeconds*float64(time.Second))))
	case backend.TraceTimeout:
		return target + ": no answer"
	}
	return target + ": " + format.Clean(t.Error)
}

func (r *runner) sweepCmd() *cobra.Command {
	var req backend.SweepRequest
	var dry bool
	c := &cobra.Command{
		Use:   "sweep [-r RADIO] [--plan]",
		Short: "traceroute every RF node and MQTT nodes within 2 hops, one after another",
		Long: "Traceroute every node heard over the air, and MQTT nodes at most two hops away, nearest first,\n" +
			"through the radio's shared queue (one traceroute per 30 s). Progress is one line per node\n" +
			"(one JSON object per line with --json). Disconnecting cancels the rest.",
		Args: noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			plan, err := r.env.Backend.PlanSweep(r.ctx(), r.c(), req.Radio)
			if err != nil {
				return err
			}
			if dry {
				if r.json {
					return r.writeJSON(plan)
				}
				r.printf("a sweep of %s would trace %s, about %s\n", plan.Radio, format.Count(len(plan.Targets), "node"),
					format.Duration(time.Duration(plan.Seconds*float64(time.Second))))
				return nil
			}
			if !r.json {
				r.note("sweeping %s on %s, about %s", format.Count(len(plan.Targets), "node"), plan.Radio,
					format.Duration(time.Duration(plan.Seconds*float64(time.Second))))
			}
			req.Targets = plan.Nums
			names := r.nameOf(plan.Radio)
			req.OnResult = func(done, total int, t backend.Trace) {
				if r.json {
					_ = r.writeLine(t)
					return
				}
				r.printf("[%d/%d] %s\n", done, total, traceSummary(names, t))
			}
			sum, err := r.env.Backend.Sweep(r.ctx(), r.c(), req)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeLine(sum)
			}
			r.printf("%d/%d done: %d complete, %d timeout, %s\n", sum.Done, sum.Total, sum.Complete, sum.Timeout,
				format.Plural(sum.Errors, "error", "errors"))
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &req.Radio)
	fs.BoolVar(&dry, "plan", false, "only say which nodes a sweep would trace and how long it would take")
	waitFlag(fs, &req.ConnectWait)
	return withOp(c, backend.OpSweep)
}

func (r *runner) requestCmd() *cobra.Command {
	var req backend.RequestRequest
	c := &cobra.Command{
		Use:   "request [-r RADIO] position|telemetry|nodeinfo NODE",
		Short: "ask a node for its position, telemetry or node info and wait for the answer",
		Args:  exactArgs(2, "what to ask for (position, telemetry or nodeinfo) and a node"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			req.Kind, req.Node = args[0], args[1]
			res, err := r.env.Backend.Request(r.ctx(), r.c(), req)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(res)
			}
			n := res.Node
			t := newTable(r.env.Out)
			t.row("node", strings.TrimSpace(n.ID+" "+format.Clean(n.ShortName)+" "+format.Clean(n.LongName)))
			switch res.Kind {
			case "position":
				if n.Latitude != nil && n.Longitude != nil {
					t.row("position", format.Number(*n.Latitude)+", "+format.Number(*n.Longitude))
				} else {
					t.row("position", "unknown")
				}
				if n.Altitude != nil {
					t.row("altitude", fmt.Sprintf("%d m", *n.Altitude))
				}
			case "telemetry":
				t.row("power", format.PowerLong(batteryOf(n)))
				if n.Voltage != nil {
					t.row("voltage", format.Number(float64(*n.Voltage))+" V")
				}
				if n.ChannelUtil != nil {
					t.row("channel utilization", format.Number(float64(*n.ChannelUtil))+" %")
				}
				if n.AirUtilTx != nil {
					t.row("air util tx", format.Number(float64(*n.AirUtilTx))+" %")
				}
				if n.Uptime != nil {
					t.row("uptime", format.Duration(time.Duration(*n.Uptime)*time.Second))
				}
			default:
				t.row("hardware", n.HWModel)
				t.row("role", n.Role)
			}
			t.flush()
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &req.Radio)
	durationVar(fs, &req.Timeout, "timeout", time.Minute, "how long to wait for the answer")
	return withOp(c, backend.OpRequest)
}

func batteryOf(n backend.Node) *uint32 {
	if n.Powered {
		v := uint32(101)
		return &v
	}
	return n.BatteryLevel
}

func (r *runner) reconnectCmd() *cobra.Command {
	var radioName string
	var wait time.Duration
	c := &cobra.Command{
		Use:   "reconnect [-r RADIO] [--wait 20s]",
		Short: "connect a radio now, even one the gateway stepped back from because another app had it",
		Long: "When another app keeps taking a radio, the gateway steps back and tries again only every\n" +
			"5 minutes (then 10, up to 30), since each try takes the radio from that app. Once the app\n" +
			"has gone, reconnect tries at once; if it is still there, it loses the radio. It also ends\n" +
			"the wait after a failed link, and connects a radio nobody is using. Audited, and the\n" +
			"radio's users are told.",
		Args: noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			st, err := r.env.Backend.Reconnect(r.ctx(), r.c(), radioName, wait)
			if err != nil {
				return err
			}
			if r.json {
				if err := r.writeJSON(st); err != nil {
					return err
				}
			} else if st.State == "connected" {
				r.printf("%s: connected to %s\n", st.Name, dash(format.Clean(strings.TrimSpace(st.NodeName+" "+st.NodeID))))
			}
			if st.State != "connected" {
				return &backend.Error{Kind: backend.ErrTimeout,
					Msg: fmt.Sprintf("%s is still not connected after %s: %s", st.Name, format.Duration(wait), stateWords(st, r.env.Now()))}
			}
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	waitFlag(c.Flags(), &wait)
	return withOp(c, backend.OpReconnect)
}
