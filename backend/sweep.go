package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// SweepPlan is what a sweep would trace and roughly how long it takes.
type SweepPlan struct {
	Radio   string    `json:"radio"`
	Targets []NodeRef `json:"targets"`
	Nums    []uint32  `json:"-"`
	// Seconds estimates the sweep's length at the radio's traceroute pace.
	Seconds float64 `json:"estimated_seconds"`
}

// tracePace is the firmware's traceroute limit with margin (one per 30 s).
const tracePace = 32 * time.Second

// PlanSweep lists the nodes a sweep traces: every node heard over the
// air, and MQTT nodes at most two hops away, nearest first.
func (b *Backend) PlanSweep(ctx context.Context, c Caller, radioName string) (SweepPlan, error) {
	if err := Allowed(c.Identity, OpSweep, "", ""); err != nil {
		return SweepPlan{}, err
	}
	br, err := b.radio(c, radioName)
	if err != nil {
		return SweepPlan{}, err
	}
	return planSweep(br.Name(), br.View()), nil
}

func planSweep(name string, v *radio.View) SweepPlan {
	var ns []*meshtastic.Node
	for _, n := range v.Nodes {
		if n.Num == v.MyNodeNum {
			continue
		}
		if !n.ViaMQTT || (n.HopsAway != nil && *n.HopsAway <= 2) {
			ns = append(ns, n)
		}
	}
	sortNodes(ns, "hops", v.MyNodeNum)
	p := SweepPlan{Radio: name, Targets: []NodeRef{}}
	for _, n := range ns {
		p.Targets = append(p.Targets, nodeRef(n.Num))
		p.Nums = append(p.Nums, n.Num)
	}
	p.Seconds = (time.Duration(len(ns)) * tracePace).Seconds()
	return p
}

// SweepRequest is a sweep to run.
type SweepRequest struct {
	Radio string
	// Targets, when set, is the plan to run (from PlanSweep); nil plans
	// afresh.
	Targets []uint32
	// OnResult (may be nil) is told each node's result as it comes.
	OnResult func(done, total int, t Trace)
	// OnQueue (may be nil) is told where the current traceroute waits.
	OnQueue     func(ahead int, eta time.Time)
	ConnectWait time.Duration
}

// SweepSummary counts a sweep's outcomes.
type SweepSummary struct {
	Radio     string  `json:"radio"`
	Total     int     `json:"total"`
	Done      int     `json:"done"`
	Complete  int     `json:"complete"`
	Timeout   int     `json:"timeout"`
	Errors    int     `json:"errors"`
	Cancelled bool    `json:"cancelled"`
	Seconds   float64 `json:"seconds"`
}

// Sweep traces many nodes one after another through the radio's shared
// traceroute queue, publishing progress in the caller's session (the UI
// shows it) and to OnResult. Cancelling ctx stops it; what finished stays.
func (b *Backend) Sweep(ctx context.Context, c Caller, r SweepRequest) (SweepSummary, error) {
	if err := Allowed(c.Identity, OpSweep, "", ""); err != nil {
		return SweepSummary{}, err
	}
	br, err := b.radio(c, r.Radio)
	if err != nil {
		return SweepSummary{}, err
	}
	if c.Session != nil && c.Session.Sweep().Running {
		return SweepSummary{}, invalid("a sweep is already running in this session")
	}
	release, err := b.connected(ctx, c, br, r.ConnectWait)
	if err != nil {
		return SweepSummary{}, err
	}
	defer release()
	targets := r.Targets
	if targets == nil {
		targets = planSweep(br.Name(), br.View()).Nums
	}
	sum := SweepSummary{Radio: br.Name(), Total: len(targets)}
	if len(targets) == 0 {
		return sum, invalid("no nodes to sweep on %s", br.Name())
	}
	start := b.now()
	st := sessions.SweepStatus{Running: true, Total: len(targets), Started: start, Results: make([]sessions.SweepResult, len(targets))}
	for i, n := range targets {
		st.Results[i].Node = n
	}
	publish := func() {
		if c.Session != nil {
			c.Session.SetSweep(st)
		}
	}
	publish()
	b.log.Info("radio action", "session", c.SessionID(), "user", c.Name, "radio", br.Name(), "action", "sweep",
		"nodes", len(targets), "via", c.Via)
	var onPos func(radio.Position)
	if r.OnQueue != nil {
		onPos = func(p radio.Position) { r.OnQueue(p.Ahead, p.ETA) }
	}
	// The radio's history groups a sweep's results under one label.
	rctx := radio.WithRequester(ctx, radio.Requester{Name: c.Name, Fingerprint: c.Fingerprint,
		Sweep: fmt.Sprintf("%s-%d", c.SessionID(), start.UnixMilli())})
	for i := range st.Results {
		res := &st.Results[i]
		asked := b.now()
		route, terr := br.Traceroute(rctx, res.Node, meshtastic.TraceOptions{}, onPos)
		if ctx.Err() != nil {
			break // cancelled: this node and the rest are marked below
		}
		res.At, res.Route, res.Err = b.now(), route, terr
		t := TraceOf(br.Name(), res.Node, asked, route, terr)
		t.RequestedBy = c.Name
		switch t.Outcome {
		case TraceComplete:
			res.Outcome = sessions.SweepComplete
			sum.Complete++
		case TraceTimeout:
			res.Outcome = sessions.SweepTimeout
			sum.Timeout++
		default:
			res.Outcome = sessions.SweepError
			sum.Errors++
		}
		st.Done++
		sum.Done++
		if c.Session != nil {
			c.Session.AddTrace(sessions.TraceResult{Target: res.Node, At: res.At, Route: route, Err: terr})
		}
		publish()
		if r.OnResult != nil {
			r.OnResult(st.Done, st.Total, t)
		}
	}
	st.Running, st.Cancelled, st.Finished = false, ctx.Err() != nil, b.now()
	if st.Cancelled {
		for i := st.Done; i < len(st.Results); i++ {
			st.Results[i].Outcome = sessions.SweepCancelled
		}
	}
	publish()
	sum.Cancelled = st.Cancelled
	sum.Seconds = st.Finished.Sub(start).Seconds()
	return sum, nil
}
