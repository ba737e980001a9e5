package radio

import (
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// How long a sender waits for the radio's word on a packet it wrote. The
// firmware answers every packet it reads from its client with a
// QueueStatus carrying the packet id, and refuses a text over its rate
// limit with that QueueStatus (res 0) followed by a ROUTING_APP
// RATE_LIMIT_EXCEEDED answer (PhoneAPI::handleToRadioPacket,
// MeshService::sendRoutingErrorResponse). So after the QueueStatus we
// wait a little for a refusal; with no QueueStatus at all we give up
// after answerTimeout and assume the packet went (the answer may have
// gone to another client draining the same queue, see Warnings).
const (
	answerGrace   = 300 * time.Millisecond
	answerTimeout = 2 * time.Second
	answerKeep    = time.Minute
)

// answers remembers what the radio said about packets we sent, by id.
// The broker's event loop fills it; senders wait on it. Answers may beat
// the sender's wait, so they are kept for a while rather than matched to
// registered waiters.
type answers struct {
	mu      sync.Mutex
	byID    map[uint32]answer
	changed chan struct{} // closed and replaced on every record
}

type answer struct {
	at      time.Time // when the first answer arrived
	queued  bool      // a QueueStatus came
	res     int32     // its result (0: accepted into the TX queue)
	limited bool      // refused for the rate limit
}

func newAnswers() *answers {
	return &answers{byID: map[uint32]answer{}, changed: make(chan struct{})}
}

// observe records an answer in ev, if it is one.
func (a *answers) observe(ev meshtastic.Event) {
	var id uint32
	var f func(*answer)
	switch ev.Kind {
	case meshtastic.EventQueueStatus:
		q := ev.Queue
		if id = q.GetMeshPacketId(); id == 0 {
			return // a heartbeat's answer
		}
		f = func(an *answer) { an.queued, an.res = true, q.GetRes() }
	case meshtastic.EventPacket:
		d := ev.Packet.GetDecoded()
		if d.GetPortnum() != pb.PortNum_ROUTING_APP || d.GetRequestId() == 0 {
			return
		}
		r := &pb.Routing{}
		if proto.Unmarshal(d.GetPayload(), r) != nil || r.GetErrorReason() != pb.Routing_RATE_LIMIT_EXCEEDED {
			return
		}
		id = d.GetRequestId()
		f = func(an *answer) { an.limited = true }
	default:
		return
	}
	now := time.Now()
	a.mu.Lock()
	for k, v := range a.byID {
		if now.Sub(v.at) > answerKeep {
			delete(a.byID, k)
		}
	}
	an, ok := a.byID[id]
	if !ok {
		an.at = now
	}
	f(&an)
	a.byID[id] = an
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}

// verdict is the radio's word on one packet.
type verdict int

const (
	verdictNone     verdict = iota // no answer in time
	verdictAccepted                // queued, and no refusal followed
	verdictLimited                 // refused: rate limit
	verdictRefused                 // refused with a queue error (res)
)

// wait waits for the radio's word on packet id, or ctx (counted as no
// answer).
func (a *answers) wait(ctx context.Context, id uint32) (verdict, int32) {
	start := time.Now()
	for {
		a.mu.Lock()
		an, ok := a.byID[id]
		ch := a.changed
		a.mu.Unlock()
		until := start.Add(answerTimeout)
		switch {
		case ok && an.limited:
			return verdictLimited, an.res
		case ok && an.queued && an.res != 0:
			return verdictRefused, an.res
		case ok && an.queued:
			until = an.at.Add(answerGrace)
		}
		d := time.Until(until)
		if d <= 0 {
			if ok && an.queued {
				return verdictAccepted, 0
			}
			return verdictNone, 0
		}
		t := time.NewTimer(d)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return verdictNone, 0
		}
		t.Stop()
	}
}
