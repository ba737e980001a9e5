package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// traceTab runs traceroutes and sweeps. Results live in the session
// record; the tab shows them.
type traceTab struct {
	job       *traceJob
	jobs      int // ids for jobs
	prompt    textinput.Model
	prompting bool
	results   []sessions.TraceResult // newest first
	cur, top  int
	showSweep bool
	sweep     sessions.SweepStatus
	sweepGen  int
	sweepStop context.CancelFunc
	progress  chan struct{} // the sweep published progress
	sweepDone chan struct{}
	tickGen   int
	ticking   bool
}

// traceJob is the traceroute this session is waiting for.
type traceJob struct {
	id      int
	target  uint32
	cancel  context.CancelFunc
	pos     radio.Position
	hasPos  bool
	queued  time.Time
	started time.Time // when it reached the front of the radio's queue
	updates chan radio.Position
	done    chan struct{}
}

func (t *traceTab) init() {
	t.prompt = newInput("trace node: ", 40)
}

func (t *traceTab) reset() {
	prompt, jobs, gen := t.prompt, t.jobs, t.sweepGen
	*t = traceTab{prompt: prompt, jobs: jobs, sweepGen: gen + 1}
	t.prompt.Reset()
	t.prompt.Blur()
}

func (t *traceTab) reload(rec Session) {
	t.results = rec.Traces()
	t.sweep = rec.Sweep()
	t.cur = max(0, min(t.cur, t.listLen()-1))
}

func (t *traceTab) listLen() int {
	if t.showSweep {
		return len(t.sweep.Results)
	}
	return len(t.results)
}

func (t *traceTab) move(n int) {
	t.cur = max(0, min(t.cur+n, t.listLen()-1))
}

func (t *traceTab) sweepRunning() bool { return t.sweepStop != nil }

func (t *traceTab) stopSweep() {
	if t.sweepStop != nil {
		t.sweepStop()
		t.sweepStop = nil
	}
}

func (t *traceTab) cancelJob() {
	if t.job != nil {
		t.job.cancel()
		t.job = nil
	}
}

// startTrace queues a traceroute to num and shows the Trace tab.
func (m *Model) startTrace(num uint32) tea.Cmd {
	t := &m.trace
	m.tab = tabTrace
	m.dirty = dAll
	t.reload(m.rec)
	if m.radio == nil {
		return nil
	}
	if t.job != nil {
		m.setFlash("a traceroute is already waiting (c cancels it)", true)
		return nil
	}
	if num == m.view().MyNodeNum {
		m.setFlash("that is this radio's own node", true)
		return nil
	}
	ctx, cancel := context.WithCancel(m.ctx)
	t.jobs++
	job := &traceJob{id: t.jobs, target: num, cancel: cancel, queued: m.now(),
		updates: make(chan radio.Position, 1), done: make(chan struct{})}
	t.job = job
	r := m.radio
	run := func() tea.Msg {
		defer close(job.done)
		defer cancel()
		route, err := r.Traceroute(ctx, num, meshtastic.TraceOptions{}, func(p radio.Position) { offer(job.updates, p) })
		return traceDoneMsg{job: job.id, target: num, route: route, err: err}
	}
	return tea.Batch(run, m.listenTrace(job), m.traceTick())
}

func (m *Model) listenTrace(job *traceJob) tea.Cmd {
	return listen(m.ctx, job.updates, job.done, func(p radio.Position) tea.Msg { return tracePosMsg{job: job.id, pos: p} })
}

// traceTick drives the countdown while the Trace tab shows something in
// progress, and stops by itself otherwise.
func (m *Model) traceTick() tea.Cmd {
	t := &m.trace
	if t.ticking || m.screen != screenMain || m.tab != tabTrace || (t.job == nil && !t.sweepRunning()) {
		return nil
	}
	t.ticking = true
	t.tickGen++
	return after(m.ctx, time.Second, traceTickMsg{gen: t.tickGen})
}

func (m *Model) onTrace(msg tea.Msg) tea.Cmd {
	t := &m.trace
	visible := m.screen == screenMain && m.tab == tabTrace
	if visible {
		m.dirty |= dBody
	}
	switch msg := msg.(type) {
	case traceTickMsg:
		if msg.gen == t.tickGen {
			t.ticking = false
			return m.traceTick()
		}
	case tracePosMsg:
		if t.job == nil || msg.job != t.job.id {
			return nil
		}
		t.job.pos, t.job.hasPos = msg.pos, true
		if msg.pos.Ahead == 0 && t.job.started.IsZero() {
			t.job.started = m.now()
		}
		return m.listenTrace(t.job)
	case traceDoneMsg:
		if t.job == nil || msg.job != t.job.id {
			return nil
		}
		t.job = nil
		if errors.Is(msg.err, context.Canceled) {
			m.setFlash("traceroute cancelled", false)
			return nil
		}
		m.rec.AddTrace(sessions.TraceResult{Target: msg.target, At: m.now(), Route: msg.route, Err: msg.err})
		t.showSweep, t.cur = false, 0
		t.reload(m.rec)
		v := m.view()
		if msg.err != nil {
			m.setFlash("traceroute to "+shortName(v, msg.target)+" failed: "+msg.err.Error(), true)
		} else {
			m.setFlash(fmt.Sprintf("traceroute to %s: %s there, %s back", shortName(v, msg.target),
				format.Count(len(msg.route.Towards)-1, "hop"), backHops(msg.route)), false)
		}
		m.dirty |= dBody
	case sweepMsg:
		if msg.gen != t.sweepGen {
			return nil
		}
		t.reload(m.rec)
		if t.sweep.Running {
			return m.listenSweep()
		}
		if t.sweepStop != nil {
			t.sweepStop()
			t.sweepStop = nil
			m.setFlash("sweep finished: "+sweepSummary(t.sweep), false)
		}
	}
	return nil
}

func backHops(r *meshtastic.Route) string {
	if !r.BackKnown {
		return "? hops"
	}
	return format.Count(len(r.Back)-1, "hop")
}

func (m *Model) traceKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.trace
	m.dirty |= dBody
	switch {
	case key.Matches(msg, k.up):
		t.move(-1)
	case key.Matches(msg, k.down):
		t.move(1)
	case key.Matches(msg, k.pgUp):
		t.move(-10)
	case key.Matches(msg, k.pgDown):
		t.move(10)
	case key.Matches(msg, k.home):
		t.cur = 0
	case key.Matches(msg, k.end):
		t.move(t.listLen())
	case key.Matches(msg, k.traceNode):
		if !m.can(auth.Traceroute, "traceroutes") {
			return nil
		}
		t.prompting = true
		t.prompt.Reset()
		if n := m.nodes.selected(); n != nil && n.Num != m.view().MyNodeNum {
			t.prompt.SetValue(n.ID())
			t.prompt.CursorEnd()
		}
		m.dirty |= dStatus
		return t.prompt.Focus()
	case key.Matches(msg, k.sweep):
		if !m.can(auth.Sweep, "sweeps") {
			return nil
		}
		return m.askSweep()
	case key.Matches(msg, k.cancel):
		switch {
		case t.job != nil:
			t.cancelJob()
			m.setFlash("traceroute cancelled", false)
		case t.sweepRunning():
			t.stopSweep()
			m.setFlash("sweep cancelled", false)
		default:
			m.setFlash("nothing to cancel", false)
		}
	case key.Matches(msg, k.toggleList):
		t.showSweep = !t.showSweep
		t.cur, t.top = 0, 0
	case key.Matches(msg, k.back):
		m.clearNotice()
	}
	return nil
}

// promptKey reads the node to trace: an id, or a short or long name.
func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.trace
	m.dirty |= dBody
	switch msg.String() {
	case "esc":
		t.prompting = false
		t.prompt.Blur()
		m.dirty |= dStatus
		return nil
	case "enter":
		num, ok := findNode(m.view(), t.prompt.Value())
		if !ok {
			m.setFlash("no node matches "+clean(t.prompt.Value()), true)
			return nil
		}
		t.prompting = false
		t.prompt.Blur()
		return m.startTrace(num)
	}
	var cmd tea.Cmd
	t.prompt, cmd = t.prompt.Update(msg)
	return cmd
}

// findNode resolves what a user typed to a node of the view.
func findNode(v *radio.View, s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if num, err := meshtastic.ParseNodeID(s); err == nil && num != meshtastic.Broadcast {
		return num, true
	}
	var found uint32
	n := 0
	for _, node := range v.Nodes {
		if strings.EqualFold(node.ShortName, s) || strings.EqualFold(node.LongName, s) {
			found = node.Num
			n++
		}
	}
	return found, n == 1
}
