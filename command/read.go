package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

func (r *runner) tuiCmd() *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:   "tui [-r RADIO]",
		Short: "the terminal UI (needs ssh -t), optionally bound to a radio",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			return usagef("the terminal UI needs a terminal: use ssh -t GATEWAY tui")
		}),
	}
	radioFlag(c.Flags(), &radioName)
	return withOp(c, backend.OpNodes)
}

func (r *runner) whoamiCmd() *cobra.Command {
	return withOp(&cobra.Command{
		Use:   "whoami",
		Short: "your identity, role and allowed radios",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			id, err := r.env.Backend.Whoami(r.c())
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(id)
			}
			t := newTable(r.env.Out)
			t.row("name", format.Clean(id.Name))
			t.row("fingerprint", id.Fingerprint)
			t.row("role", id.Role)
			t.row("radios", dash(strings.Join(id.Radios, ", ")))
			t.row("session", dash(id.Session))
			t.row("from", dash(id.RemoteAddr))
			t.flush()
			return nil
		}),
	}, backend.OpWhoami)
}

func (r *runner) radiosCmd() *cobra.Command {
	return withOp(&cobra.Command{
		Use:   "radios",
		Short: "the radios you may use and their link state",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.Radios(r.c())
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(list)
			}
			now := r.env.Now()
			t := newTable(r.env.Out, "RADIO", "STATE", "NODE", "USERS", "LAST PACKET", "ADDRESS")
			for _, st := range list {
				t.row(st.Name, stateWords(st, now), dash(format.Clean(strings.TrimSpace(st.NodeName+" "+st.NodeID))),
					fmt.Sprint(st.Users), format.Age(now, st.LastPacket), st.Address)
			}
			t.flush()
			for _, st := range list {
				for _, w := range st.Warnings {
					r.printf("warning: %s: %s\n", st.Name, format.Clean(w))
				}
			}
			return nil
		}),
	}, backend.OpRadios)
}

// stateWords is a radio's state for a table: the state, when it retries,
// and a short reason.
func stateWords(st backend.RadioStatus, now time.Time) string {
	s := st.State
	var extra []string
	if !st.RetryAt.IsZero() {
		extra = append(extra, "retry in "+format.Duration(st.RetryAt.Sub(now)))
	}
	if st.Reason != "" {
		extra = append(extra, st.Reason)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func (r *runner) nodesCmd() *cobra.Command {
	var q backend.NodesQuery
	c := &cobra.Command{
		Use:   "nodes [-r RADIO] [--filter all|rf|mqtt|nearby] [--sort heard|name|hops|snr]",
		Short: "the radio's node list",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.Nodes(r.ctx(), r.c(), q)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(list)
			}
			now := r.env.Now()
			t := newTable(r.env.Out, "ID", "SHORT", "NAME", "HARDWARE", "HOPS", "SNR", "BATT", "HEARD", "VIA")
			for _, n := range list.Nodes {
				hops, via := "-", "RF"
				if n.HopsAway != nil {
					hops = fmt.Sprint(*n.HopsAway)
				}
				if n.ViaMQTT {
					via = "MQTT"
				}
				if n.Self {
					via = "self"
				}
				t.row(n.ID, dash(format.Clean(n.ShortName)), dash(shorten(format.Clean(n.LongName), 24)), n.HWModel, hops,
					snr(n.SNR), power(n), format.Age(now, deref(n.LastHeard)), via)
			}
			t.flush()
			r.printf("%s", format.Count(len(list.Nodes), "node"))
			if list.Hidden > 0 {
				r.printf(" (%d hidden by your filters)", list.Hidden)
			}
			r.printf("\n")
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &q.Radio)
	fs.StringVar(&q.Filter, "filter", "all", "all, rf (heard over LoRa), mqtt (heard via MQTT) or nearby (at most 2 hops, not MQTT)")
	fs.StringVar(&q.Sort, "sort", "heard", "heard, name, hops or snr")
	waitFlag(fs, &q.Wait)
	return withOp(c, backend.OpNodes)
}

func power(n backend.Node) string {
	if n.Powered {
		v := uint32(101)
		return format.Power(&v)
	}
	return format.Power(n.BatteryLevel)
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func snr(v *float32) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func shorten(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}

func (r *runner) messagesCmd() *cobra.Command {
	var radioName string
	var limit int
	c := &cobra.Command{
		Use:   "messages [-r RADIO] [--limit N]",
		Short: "recent text messages",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.Messages(r.ctx(), r.c(), radioName, limit)
			if err != nil {
				return err
			}
			return r.messages(list, "01-02 15:04:05")
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.Flags().IntVar(&limit, "limit", backend.DefaultLimit, "how many of the newest messages")
	return withOp(c, backend.OpMessages)
}

func (r *runner) historyCmd() *cobra.Command {
	var radioName string
	var limit int
	c := &cobra.Command{
		Use:   "history [-r RADIO] [--limit N]",
		Short: "stored text messages, from before the gateway restarted too",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			list, err := r.env.Backend.History(r.ctx(), r.c(), radioName, limit)
			if err != nil {
				return err
			}
			return r.messages(list, "2006-01-02 15:04:05")
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.Flags().IntVar(&limit, "limit", backend.DefaultLimit, "how many of the newest messages")
	return withOp(c, backend.OpHistory)
}

// messages prints a message list; text from the mesh is sanitised.
func (r *runner) messages(list backend.MessageList, layout string) error {
	if r.json {
		return r.writeJSON(list)
	}
	names := r.nameOf(list.Radio)
	for _, m := range list.Messages {
		to := "all"
		if m.Direct() {
			to = names(m.ToNum)
		}
		state := ""
		if m.Outgoing {
			state = " [" + m.Delivery + "]"
		}
		r.printf("%s ch%d %s -> %s: %s%s\n", m.At.Local().Format(layout), m.Channel, names(m.FromNum), to,
			format.Clean(m.Text), state)
	}
	if len(list.Messages) == 0 {
		r.printf("no messages yet\n")
	}
	if list.Hidden > 0 {
		r.note("%s hidden by your filters", format.Count(list.Hidden, "message"))
	}
	return nil
}

// nameOf names nodes of a radio as "SHRT !a1b2c3d4", sanitised.
func (r *runner) nameOf(radioName string) func(uint32) string {
	var v *radio.View
	if br, err := r.env.Backend.Broker(r.c(), radioName); err == nil {
		v = br.View()
	}
	return func(num uint32) string { return nodeName(v, num) }
}

// selfName names the radio's own node.
func (r *runner) selfName(radioName string) string {
	if br, err := r.env.Backend.Broker(r.c(), radioName); err == nil {
		v := br.View()
		return nodeName(v, v.MyNodeNum)
	}
	return radioName
}

func nodeName(v *radio.View, num uint32) string {
	if num == meshtastic.Broadcast {
		return "all"
	}
	if v != nil {
		if n, ok := v.Nodes[num]; ok && n.ShortName != "" {
			return format.Clean(n.ShortName) + " " + n.ID()
		}
	}
	return meshtastic.NodeID(num)
}

func (r *runner) packetsCmd() *cobra.Command {
	var radioName string
	var limit int
	var follow, history bool
	var wait time.Duration
	c := &cobra.Command{
		Use:   "packets [-r RADIO] [--limit N] [--follow | --history]",
		Short: "recent packets; --follow streams new ones until you disconnect, --history reads stored ones",
		Args:  noArgs,
		RunE: r.run(func(*cobra.Command, []string) error {
			if follow && history {
				return usagef("--follow and --history do not go together")
			}
			if follow {
				return r.follow(radioName, limit, wait)
			}
			list, err := r.env.Backend.Packets(r.ctx(), r.c(), radioName, limit)
			if history {
				list, err = r.env.Backend.PacketHistory(r.ctx(), r.c(), radioName, limit)
			}
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(list)
			}
			names := r.nameOf(list.Radio)
			for _, p := range list.Packets {
				r.printf("%s\n", packetLine(names, p))
			}
			return nil
		}),
	}
	fs := c.Flags()
	radioFlag(fs, &radioName)
	fs.IntVar(&limit, "limit", backend.DefaultLimit, "how many of the newest packets to show first")
	fs.BoolVar(&follow, "follow", false, "keep streaming new packets until you disconnect")
	fs.BoolVar(&history, "history", false, "stored packet summaries, from before the gateway restarted too")
	waitFlag(fs, &wait)
	return withOp(c, backend.OpPackets)
}

// follow streams packets (one JSON object per line with --json).
func (r *runner) follow(radioName string, limit int, wait time.Duration) error {
	if limit > 0 {
		list, err := r.env.Backend.Packets(r.ctx(), r.c(), radioName, limit)
		if err != nil {
			return err
		}
		radioName = list.Radio
		names := r.nameOf(list.Radio)
		for _, p := range list.Packets {
			if err := r.emitPacket(names, p); err != nil {
				return err
			}
		}
	}
	f, err := r.env.Backend.Follow(r.ctx(), r.c(), radioName, wait)
	if err != nil {
		return err
	}
	defer f.Close()
	names := func(num uint32) string { return nodeName(f.View(), num) }
	for {
		select {
		case <-r.ctx().Done():
			return nil
		case ev := <-f.Events():
			switch ev.Kind {
			case radio.EvPacket:
				if s := r.c().Session; s != nil {
					s.Observe(ev.Packet.P, ev.Packet.At)
				}
				if f.Visible(ev.Packet.P) {
					if err := r.emitPacket(names, backend.PacketOf(f.Radio(), ev.Packet)); err != nil {
						return errSilent
					}
				}
			case radio.EvStatus:
				r.note("radio %s is %s", f.Radio(), ev.Status.State)
			case radio.EvAnnounce:
				r.note("%s", format.Clean(ev.Text))
			}
		}
	}
}

func (r *runner) emitPacket(names func(uint32) string, p backend.Packet) error {
	if r.json {
		return r.writeLine(p)
	}
	_, err := fmt.Fprintln(r.env.Out, packetLine(names, p))
	return err
}

// packetLine is one line of the packet log.
func packetLine(names func(uint32) string, p backend.Packet) string {
	var meta []string
	if p.SNR != nil {
		meta = append(meta, fmt.Sprintf("snr %.1f", *p.SNR))
	}
	if p.RSSI != nil {
		meta = append(meta, fmt.Sprintf("rssi %d", *p.RSSI))
	}
	if p.Hops != nil {
		meta = append(meta, fmt.Sprintf("hops %d", *p.Hops))
	}
	via := "RF"
	if p.ViaMQTT {
		via = "MQTT"
	}
	meta = append(meta, via)
	return fmt.Sprintf("%s %s -> %s %s %s [%s]", p.At.Local().Format("15:04:05"), names(p.FromNum), names(p.ToNum),
		p.Port, format.Clean(p.Summary), strings.Join(meta, " "))
}

func (r *runner) telemetryCmd() *cobra.Command {
	var q backend.TelemetryQuery
	c := &cobra.Command{
		Use:   "telemetry [-r RADIO] NODE [--since 24h]",
		Short: "a node's stored battery, voltage, airtime and environment readings over time",
		Args:  exactArgs(1, "exactly one node (!id or the start of its name)"),
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			q.Node = args[0]
			s, err := r.env.Backend.Telemetry(r.ctx(), r.c(), q)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(s)
			}
			// The node named first: a name's start may have matched
			// another node than the one meant.
			name := s.Node
			switch {
			case s.LongName != "":
				name = format.Clean(s.LongName) + " (" + format.Clean(s.ShortName) + ", " + s.Node + ")"
			case s.ShortName != "":
				name = format.Clean(s.ShortName) + " (" + s.Node + ")"
			}
			now, span := r.env.Now(), format.Typed(q.Since)
			if len(s.Points) == 0 {
				r.printf("no telemetry from %s in the last %s\n", name, span)
				return nil
			}
			r.printf("%s: %s in the last %s\n", name, format.Count(len(s.Points), "reading"), span)
			r.printf("%-6s %8s %7s %8s %8s %8s %8s %9s\n", "AGE", "BATTERY", "VOLTAGE", "CH UTIL", "AIR TX", "TEMP", "HUMIDITY", "PRESSURE")
			for _, p := range s.Points {
				r.printf("%-6s %8s %7s %8s %8s %8s %8s %9s\n", format.Age(now, p.Time), format.Power(p.BatteryLevel), metric(p.Voltage, "%.2fV"),
					metric(p.ChannelUtilization, "%.1f%%"), metric(p.AirUtilTx, "%.1f%%"), metric(p.Temperature, "%.1f°C"),
					metric(p.RelativeHumidity, "%.0f%%"), metric(p.BarometricPressure, "%.1fhPa"))
			}
			return nil
		}),
	}
	radioFlag(c.Flags(), &q.Radio)
	durationVar(c.Flags(), &q.Since, "since", backend.DefaultTelemetrySince, "how far back (up to 720h)")
	return withOp(c, backend.OpHistory)
}

// metric writes an optional reading, or "-".
func metric(v *float64, layout string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(layout, *v)
}
