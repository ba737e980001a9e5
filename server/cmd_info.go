package server

import (
	"cmp"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

func (e *execEnv) cmdWhoami(fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	radios := e.allowedRadios()
	if *asJSON {
		return e.writeJSON(map[string]any{
			"name": e.id.Name, "fingerprint": e.id.Fingerprint, "role": e.id.Role.String(), "radios": radios,
			"session": e.rec.ID(), "remote_addr": e.sess.RemoteAddr().String(),
		})
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\nfingerprint\t%s\nrole\t%s\nradios\t%s\nsession\t%s\nfrom\t%s\n", e.id.Name, e.id.Fingerprint,
		e.id.Role, strings.Join(radios, ", "), e.rec.ID(), e.sess.RemoteAddr())
	_ = tw.Flush()
	return exitOK
}

func (e *execEnv) cmdRadios(fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	var list []radio.Status
	for _, name := range e.allowedRadios() {
		b, err := e.s.radios.Get(name)
		if err != nil {
			continue
		}
		st := b.Status()
		st.Subscribers = e.s.sessions.CountOnRadio(name)
		list = append(list, st)
	}
	if *asJSON {
		return e.writeJSON(list)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RADIO\tSTATE\tNODE\tUSERS\tLAST PACKET\tADDRESS")
	now := time.Now()
	for _, st := range list {
		state := st.State.String()
		if st.LastError != "" && st.State != radio.Connected {
			state += " (" + shorten(st.LastError, 40) + ")"
		}
		node := st.NodeName
		if st.NodeID != "" {
			node += " " + st.NodeID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", st.Name, state, dash(node), st.Subscribers, ago(now, st.LastPacket), st.Address)
	}
	_ = tw.Flush()
	return exitOK
}

func (e *execEnv) cmdNodes(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	filter := fs.String("filter", "all", "all, rf (heard directly over LoRa), mqtt (heard via MQTT) or nearby (≤ 2 hops, not MQTT)")
	sortBy := fs.String("sort", "heard", "heard, name, hops or snr")
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	keep, err := nodeFilter(*filter)
	if err != nil {
		return e.usage("nodes", err.Error())
	}
	if !slices.Contains([]string{"heard", "name", "hops", "snr"}, *sortBy) {
		return e.usage("nodes", fmt.Sprintf("--sort %q: want heard, name, hops or snr", *sortBy))
	}
	b, _, detach, code, ok := e.open("nodes", *rname, *wait)
	if !ok {
		return code
	}
	defer detach()
	v := b.View()
	personal := e.personalNodeFilters(b.Name())
	nodes := make([]meshtastic.Node, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		if n.Num == v.MyNodeNum || keep(n) {
			if ok, _ := personal.Allows(&pb.MeshPacket{From: n.Num, To: meshtastic.Broadcast}, ""); ok || n.Num == v.MyNodeNum {
				nodes = append(nodes, *n)
			}
		}
	}
	sortNodes(nodes, *sortBy, v.MyNodeNum)
	if *asJSON {
		return e.writeJSON(nodes)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSHORT\tNAME\tHARDWARE\tHOPS\tSNR\tBATT\tHEARD\tVIA")
	now := time.Now()
	for _, n := range nodes {
		hops, via := "-", "RF"
		if n.HopsAway != nil {
			hops = fmt.Sprint(*n.HopsAway)
		}
		if n.ViaMQTT {
			via = "MQTT"
		}
		if n.Num == v.MyNodeNum {
			via = "self"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID(), dash(n.ShortName), dash(shorten(n.LongName, 24)),
			n.HWModel, hops, snr(n.SNR), battery(n.BatteryLevel), ago(now, n.LastHeard), via)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.out, "%d nodes\n", len(nodes))
	return exitOK
}

// nodeFilter implements the dashboard's node filters.
func nodeFilter(name string) (func(*meshtastic.Node) bool, error) {
	switch name {
	case "all":
		return func(*meshtastic.Node) bool { return true }, nil
	case "rf":
		return func(n *meshtastic.Node) bool { return !n.ViaMQTT }, nil
	case "mqtt":
		return func(n *meshtastic.Node) bool { return n.ViaMQTT }, nil
	case "nearby":
		return func(n *meshtastic.Node) bool { return !n.ViaMQTT && n.HopsAway != nil && *n.HopsAway <= 2 }, nil
	}
	return nil, fmt.Errorf("--filter %q: want all, rf, mqtt or nearby", name)
}

func sortNodes(nodes []meshtastic.Node, by string, self uint32) {
	slices.SortStableFunc(nodes, func(a, b meshtastic.Node) int {
		if a.Num == self {
			return -1
		}
		if b.Num == self {
			return 1
		}
		switch by {
		case "name":
			return cmp.Or(cmp.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name())), cmp.Compare(a.Num, b.Num))
		case "hops":
			return cmp.Or(cmp.Compare(hopsKey(a), hopsKey(b)), b.LastHeard.Compare(a.LastHeard))
		case "snr":
			return cmp.Or(cmp.Compare(b.SNR, a.SNR), cmp.Compare(a.Num, b.Num))
		}
		return cmp.Or(b.LastHeard.Compare(a.LastHeard), cmp.Compare(a.Num, b.Num))
	})
}

func hopsKey(n meshtastic.Node) uint32 {
	if n.HopsAway == nil {
		return 99
	}
	return *n.HopsAway
}

func (e *execEnv) cmdMessages(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	limit := fs.Int("limit", 50, "how many of the newest messages")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *limit < 1 {
		return e.usage("messages", "--limit must be at least 1")
	}
	b, code, ok := e.pickRadio("messages", *rname)
	if !ok {
		return code
	}
	e.rec.Bind(b.Name())
	personal := e.personalFilters(b.Name())
	var msgs []*radio.Message
	for _, m := range b.Messages(*limit) {
		if ok, _ := personal.AllowsMessage(m.From, m.To, m.Channel, m.Text); ok {
			msgs = append(msgs, m)
		}
	}
	if *asJSON {
		out := make([]radio.Message, len(msgs))
		for i, m := range msgs {
			out[i] = *m
		}
		return e.writeJSON(out)
	}
	v := b.View()
	for _, m := range msgs {
		to := "all"
		if m.Direct() {
			to = nodeName(v, m.To)
		}
		state := ""
		if m.Outgoing {
			state = " [" + m.Delivery.String() + "]"
		}
		fmt.Fprintf(e.out, "%s ch%d %s -> %s: %s%s\n", m.At.Local().Format("01-02 15:04:05"), m.Channel,
			nodeName(v, m.From), to, m.Text, state)
	}
	if len(msgs) == 0 {
		fmt.Fprintln(e.out, "no messages yet")
	}
	return exitOK
}

func nodeName(v *radio.View, num uint32) string {
	if n, ok := v.Nodes[num]; ok && n.ShortName != "" {
		return n.ShortName + " " + n.ID()
	}
	return meshtastic.NodeID(num)
}

func dash(s string) string {
	if s == "" || s == " " {
		return "-"
	}
	return s
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func snr(v float32) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func battery(b *uint32) string {
	switch {
	case b == nil:
		return "-"
	case *b > 100:
		return "ext"
	}
	return fmt.Sprintf("%d%%", *b)
}

// ago renders how long ago t was ("12s", "5m", "3h", "2d"; "-" if never).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
