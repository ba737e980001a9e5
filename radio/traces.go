package radio

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/store"
)

// Requester says who asked the broker for an operation, for the history.
type Requester struct {
	Name        string // as shown: the user's name
	Fingerprint string // their key fingerprint; "" for the gateway itself
	Sweep       string // a label shared by the traceroutes of one sweep; "" for one on its own
}

type requesterKey struct{}

// WithRequester returns a copy of ctx saying who is asking. Traceroute
// records it with the result in the radio's traceroute history; a
// traceroute asked for without one is recorded with no name.
func WithRequester(ctx context.Context, r Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, r)
}

func requesterOf(ctx context.Context) Requester {
	r, _ := ctx.Value(requesterKey{}).(Requester)
	return r
}

// TraceHistory returns up to limit (0: 100) of the radio's newest stored
// traceroutes to node (0: to any node), whoever asked, from before this
// process started too, oldest first. It includes the traceroutes that
// finished a moment ago.
func (b *Broker) TraceHistory(ctx context.Context, node uint32, limit int) ([]store.Trace, error) {
	if b.cfg.Store == nil {
		return nil, ErrNoStore
	}
	if err := b.cfg.Store.Flush(ctx); err != nil {
		return nil, err
	}
	return b.cfg.Store.Traces(ctx, store.TraceQuery{Page: store.Page{Limit: limit}, Radio: b.cfg.Name, Target: node})
}

// recordTrace queues a traceroute the broker sent, and how it ended, for
// the store's history.
func (b *Broker) recordTrace(r *traceReq, sent *meshtastic.Route, err error) {
	st := b.cfg.Store
	if st == nil {
		return
	}
	t := store.Trace{Radio: b.cfg.Name, User: r.who.Fingerprint, RequestedBy: r.who.Name, Sweep: r.who.Sweep,
		Target: r.dest, At: r.sentAt}
	switch {
	case err == nil && sent != nil:
		t.Outcome = store.TraceComplete
		raw, merr := json.Marshal(traceRoute(sent))
		if merr != nil { // cannot happen with these types; keep the outcome
			b.log.Warn("traceroute route not recorded", "err", merr)
		}
		t.Route = raw
	case errors.Is(err, meshtastic.ErrNoResponse):
		t.Outcome, t.Error = store.TraceTimeout, err.Error()
	case err == nil:
		t.Outcome, t.Error = store.TraceError, "no route in the answer"
	default:
		t.Outcome, t.Error = store.TraceError, err.Error()
	}
	if !st.AddTrace(t) {
		b.log.Warn("traceroute not recorded: history queue full", "target", meshtastic.NodeID(r.dest))
	}
}

// traceRoute is a route in the store's documented shape.
func traceRoute(r *meshtastic.Route) store.TraceRoute {
	return store.TraceRoute{Towards: traceHops(r.Towards), Back: traceHops(r.Back), BackKnown: r.BackKnown, RTT: r.RTT.Seconds()}
}

func traceHops(hops []meshtastic.Hop) []store.TraceHop {
	out := make([]store.TraceHop, len(hops))
	for i, h := range hops {
		out[i] = store.TraceHop{Num: h.Num, Known: h.Known}
		if h.Known {
			out[i].ID = meshtastic.NodeID(h.Num)
		}
		if h.SNRKnown {
			snr := h.SNR
			out[i].SNR = &snr
		}
	}
	return out
}

// TelemetryHistory reads one node's stored metrics from since on, oldest
// first, at most limit rows (the newest), after flushing the history
// writer so that what just arrived is there.
func (b *Broker) TelemetryHistory(ctx context.Context, node uint32, since time.Time, limit int) ([]store.Telemetry, error) {
	if b.cfg.Store == nil {
		return nil, ErrNoStore
	}
	if err := b.cfg.Store.Flush(ctx); err != nil {
		return nil, err
	}
	return b.cfg.Store.TelemetryOf(ctx, b.cfg.Name, node, since, limit)
}
