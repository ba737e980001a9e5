package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// sweepTargets are the nodes a sweep traces: every node heard over the
// air, and MQTT nodes at most two hops away, nearest first.
func sweepTargets(v *radio.View) []uint32 {
	var ns []*meshtastic.Node
	for _, n := range v.Nodes {
		if n.Num == v.MyNodeNum {
			continue
		}
		if !n.ViaMQTT || (n.HopsAway != nil && *n.HopsAway <= 2) {
			ns = append(ns, n)
		}
	}
	l := nodeList{sortBy: colHops}
	slices.SortFunc(ns, func(a, b *meshtastic.Node) int { return l.compare(v, a, b) })
	out := make([]uint32, len(ns))
	for i, n := range ns {
		out[i] = n.Num
	}
	return out
}

// askSweep confirms a sweep, saying how long it will take.
func (m *Model) askSweep() tea.Cmd {
	t := &m.trace
	if t.sweepRunning() {
		m.setFlash("a sweep is already running (c cancels it)", true)
		return nil
	}
	if m.radio == nil {
		return nil
	}
	targets := sweepTargets(m.view())
	if len(targets) == 0 {
		m.setFlash("no nodes to sweep", true)
		return nil
	}
	m.confirm("Start a sweep?", []string{
		fmt.Sprintf("Traceroute %s one after another: every node heard over", format.Count(len(targets), "node")),
		"the air, and MQTT nodes at most two hops away.",
		fmt.Sprintf("The radio allows one traceroute per 30 s: about %s.", short(timeFor(len(targets)))),
		"Other users' traceroutes share the same queue.",
	}, func() tea.Cmd { return m.runSweep(targets) })
	return nil
}

// runSweep traces targets in turn, publishing progress in the session
// record after each node.
func (m *Model) runSweep(targets []uint32) tea.Cmd {
	t := &m.trace
	ctx, cancel := context.WithCancel(m.ctx)
	t.sweepGen++
	t.sweepStop = cancel
	t.showSweep, t.cur, t.top = true, 0, 0
	st := sessions.SweepStatus{Running: true, Total: len(targets), Started: m.now(),
		Results: make([]sessions.SweepResult, len(targets))}
	for i, n := range targets {
		st.Results[i].Node = n
	}
	m.rec.SetSweep(st)
	t.sweep = st
	t.progress, t.sweepDone = make(chan struct{}, 1), make(chan struct{})
	progress, done := t.progress, t.sweepDone
	r, rec, now, gen := m.radio, m.rec, m.now, t.sweepGen
	run := func() tea.Msg {
		defer close(done)
		defer cancel()
		sweep(ctx, r, rec, now, st, func() { offer(progress, struct{}{}) })
		return sweepMsg{gen: gen}
	}
	return tea.Batch(run, m.listenSweep(), m.traceTick())
}

func (m *Model) listenSweep() tea.Cmd {
	gen := m.trace.sweepGen
	return listen(m.ctx, m.trace.progress, m.trace.sweepDone, func(struct{}) tea.Msg { return sweepMsg{gen: gen} })
}

// sweep is the sweep's own goroutine.
func sweep(ctx context.Context, r Radio, rec Session, now func() time.Time, st sessions.SweepStatus, notify func()) {
	for i := range st.Results {
		res := &st.Results[i]
		route, err := r.Traceroute(ctx, res.Node, meshtastic.TraceOptions{}, nil)
		if ctx.Err() != nil {
			break // cancelled: this node stays pending
		}
		res.At, res.Route, res.Err = now(), route, err
		res.Outcome = outcome(err)
		st.Done++
		rec.AddTrace(sessions.TraceResult{Target: res.Node, At: res.At, Route: route, Err: err})
		rec.SetSweep(st)
		notify()
	}
	st.Running, st.Cancelled, st.Finished = false, ctx.Err() != nil, now()
	rec.SetSweep(st)
	notify()
}

func outcome(err error) sessions.SweepOutcome {
	var re *meshtastic.RoutingError
	switch {
	case err == nil:
		return sessions.SweepComplete
	case errors.Is(err, meshtastic.ErrNoResponse), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &re) && re.Reason == pb.Routing_MAX_RETRANSMIT:
		return sessions.SweepTimeout
	}
	return sessions.SweepError
}

func sweepSummary(s sessions.SweepStatus) string {
	var ok, to, bad int
	for _, r := range s.Results {
		switch r.Outcome {
		case sessions.SweepComplete:
			ok++
		case sessions.SweepTimeout:
			to++
		case sessions.SweepError:
			bad++
		}
	}
	out := fmt.Sprintf("%d/%d done: %d complete, %d timeout, %d error", s.Done, s.Total, ok, to, bad)
	if s.Cancelled {
		out += " · cancelled"
	}
	return out
}
