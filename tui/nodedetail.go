package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

// nodeDetail is the details pane for n.
func (m *Model) nodeDetail(v *radio.View, n *meshtastic.Node, w, h int) []string {
	st := m.st
	now := m.now()
	out := []string{cut(" "+st.title.Render(clean(n.Name()))+" "+st.dim.Render("("+clean(n.ShortName)+") "+n.ID()), w)}
	// kv adds a labelled value, wrapped under itself when it is long.
	kv := func(k, val string) {
		for i, l := range wrap(val, max(10, w-12)) {
			if i > 0 {
				k = ""
			}
			out = append(out, cut(st.dim.Render(fmt.Sprintf(" %-10s", k))+" "+l, w))
		}
	}
	kv("hardware", n.HWModel.String()+" · "+n.Role.String())
	heard := "never"
	if !n.LastHeard.IsZero() {
		age := "just now"
		if now.Sub(n.LastHeard) >= 5*time.Second {
			age = format.Age(now, n.LastHeard) + " ago"
		}
		heard = clock(n.LastHeard, now, m.loc) + " (" + age + ")"
	}
	path := "RF"
	if n.ViaMQTT {
		path = "MQTT"
	}
	hops := "hops ?"
	if n.HopsAway != nil {
		hops = "hops " + fmt.Sprint(*n.HopsAway)
	}
	kv("heard", heard+" · "+hops+" · "+path)
	sig := fmt.Sprintf("SNR %.2f dB", n.SNR)
	if n.RSSI != 0 {
		sig += fmt.Sprintf(" · RSSI %d dBm", n.RSSI)
	}
	kv("signal", sig)
	pos := "unknown"
	if n.Latitude != nil && n.Longitude != nil {
		pos = fmt.Sprintf("%.5f, %.5f", *n.Latitude, *n.Longitude)
		if n.Altitude != nil {
			pos += fmt.Sprintf(" · %d m", *n.Altitude)
		}
		if !n.PositionTime.IsZero() {
			pos += " · " + clock(n.PositionTime, now, m.loc)
		}
	}
	kv("position", pos)
	tel := []string{format.PowerLong(n.BatteryLevel)}
	if n.Voltage != nil {
		tel = append(tel, fmt.Sprintf("%.2f V", *n.Voltage))
	}
	if n.ChannelUtil != nil {
		tel = append(tel, fmt.Sprintf("chutil %.1f%%", *n.ChannelUtil))
	}
	if n.AirUtilTx != nil {
		tel = append(tel, fmt.Sprintf("airtx %.1f%%", *n.AirUtilTx))
	}
	if n.Uptime != nil {
		tel = append(tel, "up "+short(secs(*n.Uptime)))
	}
	kv("telemetry", strings.Join(tel, " · "))
	keyInfo := "no public key (DMs use the channel key)"
	if len(n.PublicKey) > 0 {
		keyInfo = "public key known (DMs are end-to-end encrypted)"
	}
	kv("key", keyInfo)
	trace := "none yet (t to trace)"
	for _, tr := range m.rec.Traces() {
		if tr.Target != n.Num {
			continue
		}
		if tr.Err != nil {
			trace = clock(tr.At, now, m.loc) + " failed: " + tr.Err.Error()
		} else {
			trace = clock(tr.At, now, m.loc) + " " + routeLine(v, tr.Route.From, tr.Route.Towards)
			if tr.Route.BackKnown {
				trace += " · back " + routeLine(v, tr.Route.To, tr.Route.Back)
			}
		}
		break
	}
	kv("traceroute", trace)
	var acts []string
	if backend.Can(m.id, backend.OpSend) {
		acts = append(acts, "d direct message")
	}
	if backend.Can(m.id, backend.OpTraceroute) {
		acts = append(acts, "t traceroute")
	}
	if len(acts) > 0 {
		kv("actions", strings.Join(acts, " · "))
	}
	for i, l := range m.historyLines(n) {
		kv(pick(i == 0, "history", ""), l)
	}
	return padLines(out, h)
}

// historyLines are the radio's stored traceroutes to n, newest first:
// everyone's, kept across restarts. Nothing when the gateway keeps none.
func (m *Model) historyLines(n *meshtastic.Node) []string {
	h := &m.nodes.hist
	switch {
	case h.none || h.node != n.Num || h.radio != m.name:
		return nil
	case !h.loaded:
		return []string{"loading…"}
	case h.err != "":
		return []string{clean(h.err)}
	case len(h.list) == 0:
		return []string{"none stored"}
	}
	now := m.now()
	var out []string
	for i := len(h.list) - 1; i >= 0; i-- {
		tr := h.list[i]
		line := clock(tr.At, now, m.loc) + " " + tr.Outcome
		if tr.Outcome == backend.TraceComplete {
			back := "?"
			if tr.Back != nil {
				back = itoa(max(0, len(tr.Back)-1))
			}
			line += fmt.Sprintf(" · %s there, %s back", format.Count(max(0, len(tr.Towards)-1), "hop"), back)
		}
		if tr.RequestedBy != "" {
			line += " · " + clean(tr.RequestedBy)
		}
		out = append(out, line)
	}
	return out
}
