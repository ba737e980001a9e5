package tui

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/sessions"
)

// askSweep asks the core which nodes a sweep would trace and confirms it,
// saying how long it will take.
func (m *Model) askSweep() tea.Cmd {
	t := &m.trace
	if t.sweepRunning() {
		m.setFlash("a sweep is already running (c cancels it)", true)
		return nil
	}
	if m.radio == nil {
		return nil
	}
	plan, err := m.core.PlanSweep(m.ctx, m.caller, m.name)
	if err != nil {
		m.setFlash(err.Error(), true)
		return nil
	}
	if len(plan.Nums) == 0 {
		m.setFlash("no nodes to sweep", true)
		return nil
	}
	m.confirm("Start a sweep?", []string{
		fmt.Sprintf("Traceroute %s one after another: every node heard over", format.Count(len(plan.Nums), "node")),
		"the air, and MQTT nodes at most two hops away.",
		fmt.Sprintf("The radio allows one traceroute per 30 s: about %s.", short(time.Duration(plan.Seconds*float64(time.Second)))),
		"Other users' traceroutes share the same queue.",
	}, func() tea.Cmd { return m.runSweep(plan) })
	return nil
}

// runSweep has the core trace targets in turn. The core publishes the
// progress in the session record after each node and says so through
// OnResult; the tab reads the record again then.
func (m *Model) runSweep(plan backend.SweepPlan) tea.Cmd {
	t := &m.trace
	targets := plan.Nums
	t.pace = time.Duration(plan.Seconds * float64(time.Second) / float64(len(targets)))
	ctx, cancel := context.WithCancel(m.ctx)
	t.sweepGen++
	t.sweepStop = cancel
	t.showSweep, t.cur, t.top = true, 0, 0
	// Shown until the core's first report: the sweep as it starts.
	st := sessions.SweepStatus{Running: true, Total: len(targets), Started: m.now(),
		Results: make([]sessions.SweepResult, len(targets))}
	for i, n := range targets {
		st.Results[i].Node = n
	}
	t.sweep = st
	t.progress, t.sweepDone = make(chan struct{}, 1), make(chan struct{})
	progress, done := t.progress, t.sweepDone
	core, c, gen := m.core, m.caller, t.sweepGen
	req := backend.SweepRequest{Radio: m.name, Targets: targets,
		OnResult: func(int, int, backend.Trace) { offer(progress, struct{}{}) }}
	run := func() tea.Msg {
		defer close(done)
		defer cancel()
		sum, err := core.Sweep(ctx, c, req)
		return sweepDoneMsg{gen: gen, sum: sum, err: err}
	}
	return tea.Batch(run, m.listenSweep(), m.traceTick())
}

func (m *Model) listenSweep() tea.Cmd {
	gen := m.trace.sweepGen
	return listen(m.ctx, m.trace.progress, m.trace.sweepDone, func(struct{}) tea.Msg { return sweepMsg{gen: gen} })
}

// sweepSummary counts a sweep's outcomes as the session record holds them.
func sweepSummary(s sessions.SweepStatus) string {
	var sum backend.SweepSummary
	sum.Total, sum.Done, sum.Cancelled = s.Total, s.Done, s.Cancelled
	for _, r := range s.Results {
		switch r.Outcome {
		case sessions.SweepComplete:
			sum.Complete++
		case sessions.SweepTimeout:
			sum.Timeout++
		case sessions.SweepError:
			sum.Errors++
		}
	}
	return summaryText(sum)
}

// summaryText is a sweep's counts in a line.
func summaryText(s backend.SweepSummary) string {
	out := fmt.Sprintf("%d/%d done: %d complete, %d timeout, %d error", s.Done, s.Total, s.Complete, s.Timeout, s.Errors)
	if s.Cancelled {
		out += " · cancelled"
	}
	return out
}
