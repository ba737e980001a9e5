package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/chart"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

// nodeDetail is the details pane for n.
func (m *Model) nodeDetail(v *radio.View, n *meshtastic.Node, w, h int) []string {
	st := m.st
	now := m.now()
	title, sub := clean(n.Name()), n.ID()
	switch {
	case n.ShortName == "" && n.LongName == "":
		title = "unknown node" // no node info yet: the id is all there is
	case n.ShortName != "" && n.LongName != "":
		sub = "(" + clean(n.ShortName) + ") " + sub
	}
	out := []string{cut(" "+st.title.Render(title)+" "+st.dim.Render(sub), w)}
	// kv adds a labelled value, wrapped under itself when it is long.
	kv := func(k, val string) {
		for i, l := range wrap(val, max(10, w-12)) {
			if i > 0 {
				k = ""
			}
			out = append(out, cut(st.dim.Render(fmt.Sprintf(" %-10s", k))+" "+l, w))
		}
	}
	kv("hardware", hardware(n)+" · "+n.Role.String())
	heard := "never"
	if !n.LastHeard.IsZero() {
		age := "just now"
		if now.Sub(n.LastHeard) >= 5*time.Second {
			age = format.Age(now, n.LastHeard) + " ago"
		}
		// The table shows the age; here the exact time.
		heard = exactTime(n.LastHeard, now, m.loc) + " (" + age + ")"
	}
	path := "RF"
	if n.ViaMQTT {
		path = "MQTT"
	}
	hops := "hops unknown"
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
		tel = append(tel, "up "+format.Duration(secs(*n.Uptime)))
	}
	kv("telemetry", strings.Join(tel, " · "))
	for _, l := range m.sparkLines(n, w-12) {
		kv("", l)
	}
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

// sparkWindow is the span of the details pane's sparklines.
const sparkWindow = 24 * time.Hour

// sparkMetric is one sparkline of the details pane.
type sparkMetric struct {
	label  string
	get    func(p backend.TelemetryPoint) (float64, bool)
	format string // the last value
}

var sparkMetrics = []sparkMetric{
	{"battery", func(p backend.TelemetryPoint) (float64, bool) {
		if p.BatteryLevel == nil || *p.BatteryLevel > 100 { // 101: powered, no level
			return 0, false
		}
		return float64(*p.BatteryLevel), true
	}, "%.0f%%"},
	{"voltage", func(p backend.TelemetryPoint) (float64, bool) { return val(p.Voltage) }, "%.2f V"},
	{"ch util", func(p backend.TelemetryPoint) (float64, bool) { return val(p.ChannelUtilization) }, "%.1f%%"},
	{"air tx", func(p backend.TelemetryPoint) (float64, bool) { return val(p.AirUtilTx) }, "%.1f%%"},
	{"temp", func(p backend.TelemetryPoint) (float64, bool) { return val(p.Temperature) }, "%.1f °C"},
	{"humidity", func(p backend.TelemetryPoint) (float64, bool) { return val(p.RelativeHumidity) }, "%.0f%%"},
	{"pressure", func(p backend.TelemetryPoint) (float64, bool) { return val(p.BarometricPressure) }, "%.1f hPa"},
}

func val(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// sparkLines are the node's stored metrics over the last day, one
// sparkline each with its range and last value; empty until loaded, and
// for metrics the node never sent.
func (m *Model) sparkLines(n *meshtastic.Node, w int) []string {
	tl := &m.nodes.tel
	if !tl.loaded || tl.node != n.Num || tl.radio != m.name || len(tl.series.Points) == 0 {
		return nil
	}
	st, now := m.st, m.now()
	out := []string{st.dim.Render("last 24 h, oldest left:")}
	const labelW = 9
	sw := max(8, min(48, w-labelW-26))
	for _, sm := range sparkMetrics {
		var samples []chart.Sample
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range tl.series.Points {
			if v, ok := sm.get(p); ok {
				samples = append(samples, chart.Sample{At: p.Time, Value: v})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(samples) == 0 {
			continue
		}
		line := chart.Sparkline(chart.Slots(samples, sw, now, sparkWindow), sw, 0, 0)
		last := fmt.Sprintf(sm.format, samples[len(samples)-1].Value)
		rng := ""
		if hi > lo {
			rng = st.dim.Render(" (" + trimNum(lo) + "–" + trimNum(hi) + ")")
		}
		out = append(out, fit(sm.label, labelW)+st.title.Render(line)+" "+last+rng)
	}
	if len(out) == 1 {
		return nil
	}
	return out
}

// trimNum writes a range end briefly.
func trimNum(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
