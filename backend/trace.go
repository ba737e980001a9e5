package backend

import (
	"context"
	"errors"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
	"github.com/meshgate/meshgate/store"
)

// Hop is one relay of a traced route.
type Hop struct {
	// ID is the relay's node id, or "unknown" for a relay that did not
	// identify itself (Num is then null).
	ID  string   `json:"id"`
	Num *uint32  `json:"num"`
	SNR *float32 `json:"snr"` // dB; null when unknown
}

// Trace is the result of one traceroute.
type Trace struct {
	Radio     string    `json:"radio"`
	Target    string    `json:"target"`
	TargetNum uint32    `json:"target_num"`
	At        time.Time `json:"time"`
	// Outcome is complete, timeout or error.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// Towards runs from the first relay to the target; Back from the
	// first relay on the way back (null when the reply had no return path).
	Towards     []Hop   `json:"towards"`
	Back        []Hop   `json:"back"`
	RTTSeconds  float64 `json:"rtt_seconds"`
	RequestedBy string  `json:"requested_by,omitempty"`
}

// Trace outcomes.
const (
	TraceComplete = "complete"
	TraceTimeout  = "timeout"
	TraceError    = "error"
)

func hopsOf(hs []meshtastic.Hop) []Hop {
	out := make([]Hop, len(hs))
	for i, h := range hs {
		out[i].ID = "unknown"
		if h.Known {
			n := h.Num
			out[i].ID, out[i].Num = meshtastic.NodeID(n), &n
		}
		if h.SNRKnown {
			s := h.SNR
			out[i].SNR = &s
		}
	}
	return out
}

// TraceOf describes a traceroute's result.
func TraceOf(radioName string, dest uint32, at time.Time, route *meshtastic.Route, err error) Trace {
	t := Trace{Radio: radioName, Target: meshtastic.NodeID(dest), TargetNum: dest, At: utc(at), Outcome: TraceComplete, Towards: []Hop{}}
	if err != nil {
		t.Outcome, t.Error = TraceError, err.Error()
		if errors.Is(err, meshtastic.ErrNoResponse) || errors.Is(err, context.DeadlineExceeded) {
			t.Outcome = TraceTimeout
		}
		return t
	}
	if route == nil {
		return t
	}
	t.Towards = hopsOf(route.Towards)
	if route.BackKnown {
		t.Back = hopsOf(route.Back)
	}
	t.RTTSeconds = route.RTT.Seconds()
	return t
}

// TraceRequest is a traceroute to run.
type TraceRequest struct {
	Radio string
	// Node is !id or a unique start of a node's name.
	Node string
	// OnQueue (may be nil) is told the request's place in the radio's
	// shared queue whenever it changes; it must not block.
	OnQueue     func(ahead int, eta time.Time)
	ConnectWait time.Duration
}

// Traceroute traces the route to a node and back through the radio's
// shared queue (one traceroute per 30 s for all its users). The result is
// kept in the caller's session and in the radio's history. A route that
// can only fail (our own node, the broadcast address) is refused at once.
func (b *Backend) Traceroute(ctx context.Context, c Caller, r TraceRequest) (Trace, error) {
	if err := Allowed(c.Identity, OpTraceroute, "", ""); err != nil {
		return Trace{}, err
	}
	if r.Node == "" {
		return Trace{}, invalid("want exactly one node (!id or the start of its name)")
	}
	br, err := b.radio(c, r.Radio)
	if err != nil {
		return Trace{}, err
	}
	release, err := b.connected(ctx, c, br, r.ConnectWait)
	if err != nil {
		return Trace{}, err
	}
	defer release()
	dest, err := b.traceTarget(br.View(), r.Node)
	if err != nil {
		return Trace{}, err
	}
	b.log.Info("radio action", "session", c.SessionID(), "user", c.Name, "radio", br.Name(), "action", "traceroute",
		"to", meshtastic.NodeID(dest), "via", c.Via)
	var onPos func(radio.Position)
	if r.OnQueue != nil {
		onPos = func(p radio.Position) { r.OnQueue(p.Ahead, p.ETA) }
	}
	rctx := radio.WithRequester(ctx, radio.Requester{Name: c.Name, Fingerprint: c.Fingerprint})
	at := b.now() // the time of the request, as the radio's history keeps it
	route, terr := br.Traceroute(rctx, dest, meshtastic.TraceOptions{}, onPos)
	if c.Session != nil && ctx.Err() == nil { // a cancelled wait is no result
		c.Session.AddTrace(sessions.TraceResult{Target: dest, At: at, Route: route, Err: terr})
	}
	res := TraceOf(br.Name(), dest, at, route, terr)
	res.RequestedBy = c.Name
	if terr != nil {
		if res.Outcome == TraceTimeout {
			return res, &Error{Kind: ErrTimeout, Msg: "no answer from " + nodeLabel(br.View(), dest) + ": " + terr.Error(), Err: terr}
		}
		return res, failed(terr)
	}
	return res, nil
}

// traceTarget resolves and checks a traceroute's destination.
func (b *Backend) traceTarget(v *radio.View, node string) (uint32, error) {
	dest, err := ResolveNode(v, node)
	if err != nil {
		return 0, err
	}
	switch {
	case dest == meshtastic.Broadcast:
		return 0, invalid("cannot trace the route to every node (^all); name one node")
	case dest == v.MyNodeNum && dest != 0:
		return 0, invalid("%s is this radio's own node: there is no route to trace", nodeLabel(v, dest))
	}
	return dest, nil
}

// TraceList is a radio's stored traceroutes, oldest first.
type TraceList struct {
	Radio  string  `json:"radio"`
	Traces []Trace `json:"traces"`
}

// TraceHistory lists the radio's stored traceroutes (of one node when
// node is set), whoever ran them, kept across restarts.
func (b *Backend) TraceHistory(ctx context.Context, c Caller, radioName, node string, limit int) (TraceList, error) {
	_, br, limit, err := b.stored(c, OpTraceHistory, radioName, limit)
	if err != nil {
		return TraceList{}, err
	}
	var target uint32
	if node != "" {
		if target, err = ResolveNode(br.View(), node); err != nil {
			return TraceList{}, err
		}
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	// The broker's read flushes the history writer first, so a traceroute
	// that just finished is there.
	rows, err := br.TraceHistory(dctx, target, limit)
	if err != nil {
		return TraceList{}, failed(err)
	}
	out := TraceList{Radio: br.Name(), Traces: []Trace{}}
	for _, row := range rows {
		out.Traces = append(out.Traces, storedTrace(row))
	}
	return out, nil
}

func storedTrace(row store.Trace) Trace {
	t := Trace{Radio: row.Radio, Target: meshtastic.NodeID(row.Target), TargetNum: row.Target, At: utc(row.At),
		Outcome: string(row.Outcome), Error: row.Error, Towards: []Hop{}, RequestedBy: row.RequestedBy}
	route, err := row.DecodeRoute()
	if err != nil || route == nil {
		return t
	}
	conv := func(hs []store.TraceHop) []Hop {
		out := make([]Hop, len(hs))
		for i, h := range hs {
			out[i] = Hop{ID: "unknown", SNR: h.SNR}
			if h.Known {
				n := h.Num
				out[i].ID, out[i].Num = meshtastic.NodeID(n), &n
			}
		}
		return out
	}
	t.Towards = conv(route.Towards)
	if route.BackKnown {
		t.Back = conv(route.Back)
	}
	t.RTTSeconds = route.RTT
	return t
}
