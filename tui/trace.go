package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
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
	prompt    nodePrompt
	results   []sessions.TraceResult // newest first
	cur, top  int
	showSweep bool
	sweep     sessions.SweepStatus
	sweepGen  int
	sweepStop context.CancelFunc
	pace      time.Duration // per node of the running sweep, as the core planned it
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
	t.prompt = newNodePrompt("trace node: ")
}

func (t *traceTab) reset() {
	prompt, jobs, gen := t.prompt, t.jobs, t.sweepGen
	*t = traceTab{prompt: prompt, jobs: jobs, sweepGen: gen + 1}
	t.prompt.close()
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

// startTrace asks the core for a traceroute to num, which waits in the
// radio's shared queue, and shows the Trace tab.
func (m *Model) startTrace(num uint32) tea.Cmd {
	t := &m.trace
	m.show(&m.trace)
	t.reload(m.rec)
	if m.radio == nil {
		return nil
	}
	if t.job != nil {
		m.setFlash("a traceroute is already waiting (c cancels it)", true)
		return nil
	}
	ctx, cancel := context.WithCancel(m.ctx)
	t.jobs++
	job := &traceJob{id: t.jobs, target: num, cancel: cancel, queued: m.now(),
		updates: make(chan radio.Position, 1), done: make(chan struct{})}
	t.job = job
	core, c, req := m.core, m.caller, backend.TraceRequest{Radio: m.name, Node: meshtastic.NodeID(num),
		OnQueue: func(ahead int, eta time.Time) { offer(job.updates, radio.Position{Ahead: ahead, ETA: eta}) }}
	run := func() tea.Msg {
		defer close(job.done)
		defer cancel()
		res, err := core.Traceroute(ctx, c, req)
		return traceDoneMsg{job: job.id, target: num, trace: res, err: err}
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
	if t.ticking || !m.on(&m.trace) || (t.job == nil && !t.sweepRunning()) {
		return nil
	}
	t.ticking = true
	t.tickGen++
	return after(m.ctx, time.Second, traceTickMsg{gen: t.tickGen})
}

func (m *Model) onTrace(msg tea.Msg) tea.Cmd {
	t := &m.trace
	visible := m.on(&m.trace)
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
		// The core kept the result in the session record.
		t.showSweep, t.cur = false, 0
		t.reload(m.rec)
		v := m.view()
		switch {
		case errors.Is(msg.err, backend.ErrInvalid), errors.Is(msg.err, backend.ErrDenied), errors.Is(msg.err, backend.ErrNotFound):
			m.setFlash(msg.err.Error(), true) // refused: nothing was sent
		case msg.err != nil:
			m.setFlash("traceroute to "+shortName(v, msg.target)+" failed: "+msg.err.Error(), true)
		default:
			m.setFlash(fmt.Sprintf("traceroute to %s: %s there, %s back", shortName(v, msg.target),
				format.Count(max(0, len(msg.trace.Towards)-1), "hop"), backHops(msg.trace)), false)
		}
		m.dirty |= dBody
		return m.reloadHistory(msg.target)
	case sweepMsg:
		if msg.gen != t.sweepGen {
			return nil
		}
		t.reload(m.rec)
		return m.listenSweep()
	case sweepDoneMsg:
		if msg.gen != t.sweepGen {
			return nil
		}
		t.reload(m.rec)
		if t.sweepStop == nil {
			return nil // cancelled: the user was told
		}
		t.sweepStop()
		t.sweepStop = nil
		if msg.err != nil {
			m.setFlash("sweep: "+msg.err.Error(), true)
			return nil
		}
		m.setFlash("sweep finished: "+summaryText(msg.sum), false)
	}
	return nil
}

func backHops(t backend.Trace) string {
	if t.Back == nil {
		return "? hops"
	}
	return format.Count(max(0, len(t.Back)-1), "hop")
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
		if !m.allowed(backend.OpTraceroute) {
			return nil
		}
		var id string
		if n := m.nodes.selected(); n != nil && n.Num != m.view().MyNodeNum {
			id = n.ID()
		}
		m.dirty |= dStatus
		return t.prompt.start(id)
	case key.Matches(msg, k.sweep):
		if !m.allowed(backend.OpSweep) {
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

// The Trace tab as a pane.

func (t *traceTab) name() string { return "Trace" }

func (t *traceTab) help(k *keys) []paneKey {
	return append(keysOf(k.up, k.down, k.pgUp, k.pgDown, k.home, k.end),
		paneKey{k.traceNode, backend.OpTraceroute}, paneKey{k.sweep, backend.OpSweep},
		paneKey{b: k.cancel}, paneKey{b: k.toggleList})
}

func (t *traceTab) hints(m *Model) string {
	if t.prompt.open {
		return "node id or name · enter trace · esc cancel"
	}
	return "t trace · w sweep · c cancel · v history/sweep · ? help"
}

func (t *traceTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if t.prompt.open {
		return m.promptKey(&t.prompt, msg, nil, m.startTrace)
	}
	return m.traceKey(msg)
}

func (t *traceTab) view(m *Model, w, h int) []string { return m.traceView(w, h) }

func (t *traceTab) typing() bool                { return t.prompt.open }
func (t *traceTab) textField() *textinput.Model { return &t.prompt.input }
func (t *traceTab) edited(*Model)               {}

func (t *traceTab) scroll(_ *Model, n int) tea.Cmd {
	t.move(n)
	return nil
}

func (t *traceTab) shown(m *Model) tea.Cmd {
	t.reload(m.rec)
	return m.traceTick()
}
