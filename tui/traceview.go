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

func (m *Model) traceView(w, h int) []string {
	t, st := &m.trace, m.st
	v := m.view()
	now := m.now()
	queue := 0
	if m.radio != nil {
		queue = m.radio.QueueLen()
	}
	// The queue counts the traceroute running as well as those waiting.
	q := "empty"
	if queue > 0 {
		q = format.Count(queue, "traceroute")
	}
	out := []string{cut(st.dim.Render(fmt.Sprintf(" queue: %s, shared by everyone on %s · one per 30 s (radio limit)", q, m.name)), w)}

	// The traceroute in progress.
	cur := st.dim.Render("none (t traces a node)")
	if j := t.job; j != nil {
		target := longName(v, j.target)
		switch {
		case !j.hasPos:
			cur = target + " · queued"
		case j.pos.Ahead > 0 || j.pos.ETA.After(now):
			cur = target + " · " + st.warn.Render(fmt.Sprintf("queued: %s ahead, starts ≈%s (in %s)",
				format.Count(j.pos.Ahead, "request"), clock(j.pos.ETA, now, m.loc), short(max(0, j.pos.ETA.Sub(now)))))
		default:
			started := j.started
			if started.IsZero() {
				started = j.queued
			}
			cur = target + " · " + st.ok.Render("waiting for the reply, "+short(now.Sub(started)))
		}
	}
	if t.prompt.open {
		cur = t.prompt.input.View()
	}
	out = append(out, cut(" "+st.bold.Render("now   ")+" "+cur, w))

	// The sweep.
	sw := st.dim.Render("none (w sweeps every nearby node)")
	if s := t.sweep; s.Total > 0 {
		sw = sweepSummary(s)
		if s.Running && s.Done < len(s.Results) {
			sw += " · tracing " + shortName(v, s.Results[s.Done].Node)
			if left := s.Total - s.Done; t.pace > 0 {
				sw += " · ≈" + short(time.Duration(left)*t.pace) + " left"
			}
		} else if !s.Finished.IsZero() {
			sw += " · took " + short(s.Finished.Sub(s.Started))
		}
	}
	out = append(out, cut(" "+st.bold.Render("sweep ")+" "+sw, w))
	out = append(out, "")

	detailH := 0
	if t.listLen() > 0 {
		detailH = 3
	}
	rows := h - len(out) - 1 - detailH
	if t.showSweep {
		out = append(out, st.colHead.Render(fit("  "+fit("SWEEP RESULTS (v: history)", 28)+" "+fit("RESULT", 10)+" "+right("HOPS→", 5)+" "+right("HOPS←", 5)+"  AT", w)))
	} else {
		out = append(out, st.colHead.Render(fit("  "+fit("TIME", 8)+"  "+fit("TARGET (v: sweep)", 19)+" "+fit("RESULT", 10)+" "+right("HOPS→", 5)+" "+right("HOPS←", 5)+"  RTT", w)))
	}
	t.top = scrollWindow(t.top, t.cur, rows, t.listLen())
	var route *meshtastic.Route
	var routeErr error
	for i := t.top; i < t.listLen() && i < t.top+rows; i++ {
		var line string
		var r *meshtastic.Route
		var err error
		if t.showSweep {
			res := t.sweep.Results[i]
			r, err = res.Route, res.Err
			at := ""
			if !res.At.IsZero() {
				at = clock(res.At, now, m.loc)
			}
			line = "  " + fit(longName(v, res.Node), 28) + " " + fit(res.Outcome.String(), 10) + " " + hopCounts(r) + "  " + at
		} else {
			res := t.results[i]
			r, err = res.Route, res.Err
			result, rtt := "complete", ""
			if err != nil {
				result = backend.TraceOf(m.name, res.Target, res.At, r, err).Outcome
			} else if r != nil {
				rtt = fmt.Sprintf("%.1fs", r.RTT.Seconds())
			}
			line = "  " + fit(clock(res.At, now, m.loc), 8) + "  " + fit(longName(v, res.Target), 19) + " " +
				fit(result, 10) + " " + hopCounts(r) + "  " + rtt
		}
		if i == t.cur {
			route, routeErr = r, err
			out = append(out, st.sel.Render(fit(">"+line[1:], w)))
			continue
		}
		out = append(out, cut(line, w))
	}
	if t.listLen() == 0 {
		out = append(out, st.dim.Render("  no traceroutes yet in this session"))
	}
	out = padLines(out, h-detailH)
	if detailH > 0 {
		out = append(out, st.dim.Render(strings.Repeat("─", w)))
		switch {
		case routeErr != nil:
			out = append(out, cut(" "+st.bad.Render(routeErr.Error()), w))
		case route != nil:
			out = append(out, cut(" towards: "+routeLine(v, route.From, route.Towards), w))
			if route.BackKnown {
				out = append(out, cut(" back:    "+routeLine(v, route.To, route.Back), w))
			} else {
				out = append(out, st.dim.Render(" back:    unknown (the reply did not carry the return path)"))
			}
		default:
			out = append(out, st.dim.Render(" pending"))
		}
	}
	return out
}

func hopCounts(r *meshtastic.Route) string {
	if r == nil {
		return fit("", 5) + " " + fit("", 5)
	}
	back := "?"
	if r.BackKnown {
		back = fmt.Sprint(len(r.Back) - 1)
	}
	return right(fmt.Sprint(len(r.Towards)-1), 5) + " " + right(back, 5)
}

// routeLine renders hops with their SNR: "me → RLY1 (5.0 dB) → ALIC (3.2 dB)".
func routeLine(v *radio.View, start uint32, hops []meshtastic.Hop) string {
	var b strings.Builder
	if start == v.MyNodeNum {
		b.WriteString("me")
	} else {
		b.WriteString(shortName(v, start))
	}
	for _, h := range hops {
		b.WriteString(" → ")
		switch {
		case !h.Known:
			b.WriteString("?")
		case h.Num == v.MyNodeNum:
			b.WriteString("me")
		default:
			b.WriteString(shortName(v, h.Num))
		}
		if h.SNRKnown {
			fmt.Fprintf(&b, " (%.1f dB)", h.SNR)
		} else {
			b.WriteString(" (? dB)")
		}
	}
	return b.String()
}
