package backend

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Request kinds: what `request` asks a node for.
var RequestKinds = []string{"position", "telemetry", "nodeinfo"}

// requestPace keeps requests of one kind at least this far apart per
// radio: the firmware silently drops position and telemetry packets from
// its client sent within 10 s of the previous one.
const requestPace = 10*time.Second + 500*time.Millisecond

// pacer spaces requests per radio and port for every user of the gateway.
type pacer struct {
	mu   sync.Mutex
	next map[string]time.Time
}

// wait blocks until key may send, then reserves the next slot.
func (p *pacer) wait(ctx context.Context, key string, gap time.Duration, now func() time.Time) error {
	p.mu.Lock()
	if p.next == nil {
		p.next = map[string]time.Time{}
	}
	at := p.next[key]
	t := now()
	if at.Before(t) {
		at = t
	}
	p.next[key] = at.Add(gap)
	p.mu.Unlock()
	if d := at.Sub(t); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	return nil
}

// RequestRequest asks a node for something.
type RequestRequest struct {
	Radio string
	// Kind is position, telemetry or nodeinfo.
	Kind string
	Node string
	// Timeout bounds the wait for the answer (default 60 s).
	Timeout time.Duration
}

// RequestResult is the node as the radio knows it after the answer.
type RequestResult struct {
	Radio string `json:"radio"`
	Kind  string `json:"kind"`
	Node  Node   `json:"node"`
}

// Request asks a node for its position, telemetry or node info and waits
// for the answer; the radio's NodeDB takes the answer in, so the result is
// the node as now known.
func (b *Backend) Request(ctx context.Context, c Caller, r RequestRequest) (RequestResult, error) {
	if err := Allowed(c.Identity, OpRequest, "", ""); err != nil {
		return RequestResult{}, err
	}
	var port pb.PortNum
	switch r.Kind {
	case "position":
		port = pb.PortNum_POSITION_APP
	case "telemetry":
		port = pb.PortNum_TELEMETRY_APP
	case "nodeinfo":
		port = pb.PortNum_NODEINFO_APP
	default:
		return RequestResult{}, invalid("%q: want %s", r.Kind, orList(RequestKinds))
	}
	br, err := b.radio(c, r.Radio)
	if err != nil {
		return RequestResult{}, err
	}
	release, err := b.connected(ctx, c, br, 0)
	if err != nil {
		return RequestResult{}, err
	}
	defer release()
	v := br.View()
	dest, err := ResolveNode(v, r.Node)
	if err != nil {
		return RequestResult{}, err
	}
	switch {
	case dest == meshtastic.Broadcast:
		return RequestResult{}, invalid("ask one node, not every node (^all)")
	case dest == v.MyNodeNum:
		return RequestResult{}, invalid("%s is this radio's own node: it needs no request", nodeLabel(v, dest))
	}
	self, _ := v.Self()
	var payload proto.Message
	switch port {
	case pb.PortNum_POSITION_APP:
		payload = &pb.Position{} // an empty position asks without telling ours
	case pb.PortNum_TELEMETRY_APP:
		payload = &pb.Telemetry{Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: &pb.DeviceMetrics{}}}
	case pb.PortNum_NODEINFO_APP:
		payload = &pb.User{Id: self.ID(), LongName: self.LongName, ShortName: self.ShortName, HwModel: self.HWModel}
	}
	data, err := proto.Marshal(payload)
	if err != nil {
		return RequestResult{}, failed(err)
	}
	if err := b.requests.wait(ctx, br.Name()+"/"+port.String(), requestPace, b.now); err != nil {
		return RequestResult{}, failed(err)
	}
	cl, err := br.Client()
	if err != nil {
		return RequestResult{}, failed(err)
	}
	b.log.Info("radio action", "session", c.SessionID(), "user", c.Name, "radio", br.Name(), "action", "request",
		"kind", r.Kind, "to", meshtastic.NodeID(dest), "via", c.Via)
	id, err := cl.Send(&pb.MeshPacket{From: v.MyNodeNum, To: dest, WantAck: true,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: port, Payload: data, WantResponse: true}}}, port)
	if err != nil {
		return RequestResult{}, failed(err)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cl.Wait(wctx, id); err != nil {
		if wctx.Err() != nil {
			return RequestResult{}, &Error{Kind: ErrTimeout, Msg: "no answer from " + nodeLabel(v, dest) + " within " + timeout.String(), Err: err}
		}
		var re *meshtastic.RoutingError
		if errors.As(err, &re) && re.Reason == pb.Routing_NO_RESPONSE {
			return RequestResult{}, &Error{Kind: ErrFailed, Err: err,
				Msg: nodeLabel(v, dest) + " has no " + r.Kind + " to share (it answered NO_RESPONSE)"}
		}
		return RequestResult{}, failed(err)
	}
	// The client applies the answer to the NodeDB as it reads it; give
	// the broker's view a moment to publish it.
	time.Sleep(50 * time.Millisecond)
	nv := br.View()
	res := RequestResult{Radio: br.Name(), Kind: r.Kind, Node: Node{ID: meshtastic.NodeID(dest), Num: dest}}
	if n, ok := nv.Nodes[dest]; ok {
		res.Node = NodeOf(n, nv.MyNodeNum)
	}
	return res, nil
}
