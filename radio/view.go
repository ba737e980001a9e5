package radio

import (
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/store"
)

// View is the shared picture of a radio: its NodeDB and configuration. A
// View is immutable once published; changes publish a new one (copying
// the node map's pointers, not the nodes), so a thousand sessions can read
// the same View without locks or copies of their own.
type View struct {
	// Version increases with every change; renderers cache by it.
	Version   uint64
	MyNodeNum uint32
	// Radio is the snapshot taken at connect (config, channels, metadata);
	// its Nodes map is not used, see Nodes.
	Radio *meshtastic.Snapshot
	Nodes map[uint32]*meshtastic.Node
}

func emptyView() *View {
	return &View{Radio: &meshtastic.Snapshot{}, Nodes: map[uint32]*meshtastic.Node{}}
}

func newView(s *meshtastic.Snapshot) *View {
	v := &View{MyNodeNum: s.MyNodeNum, Nodes: make(map[uint32]*meshtastic.Node, len(s.Nodes))}
	for k, n := range s.Nodes {
		v.Nodes[k] = &n
	}
	cp := *s
	cp.Nodes = nil
	v.Radio = &cp
	return v
}

// Self returns our own node, if known.
func (v *View) Self() (meshtastic.Node, bool) {
	n, ok := v.Nodes[v.MyNodeNum]
	if !ok {
		return meshtastic.Node{Num: v.MyNodeNum}, false
	}
	return *n, true
}

// withNode returns a copy of v with one node replaced.
func (v *View) withNode(n *meshtastic.Node) *View {
	nv := *v
	nv.Version++
	nv.Nodes = make(map[uint32]*meshtastic.Node, len(v.Nodes)+1)
	for k, p := range v.Nodes {
		nv.Nodes[k] = p
	}
	nv.Nodes[n.Num] = n
	return &nv
}

// withRadio returns a copy of v with new config (nodes kept).
func (v *View) withRadio(s *meshtastic.Snapshot) *View {
	nv := *v
	nv.Version++
	cp := *s
	cp.Nodes = nil
	nv.Radio = &cp
	return &nv
}

// Packet is one packet the radio heard, shared read-only by every
// subscriber.
type Packet struct {
	At time.Time
	P  *pb.MeshPacket
}

// Delivery is the state of a message we sent; Message is a text message
// heard or sent on the radio. Both are the store's types, so a message is
// one thing from the radio to the database and back.
type (
	Delivery = store.Delivery
	Message  = store.Message
)

// Delivery states.
const (
	Received = store.DeliveryReceived // not ours
	Pending  = store.DeliveryPending  // sent, waiting for the ack
	Sent     = store.DeliverySent     // sent without asking for an ack
	Acked    = store.DeliveryAcked
	Failed   = store.DeliveryFailed
)

func messageFromPacket(radio string, at time.Time, p *pb.MeshPacket) *Message {
	d := p.GetDecoded()
	m := &Message{
		Radio: radio, At: at, Delivery: Received, ID: p.GetId(), From: p.GetFrom(), To: p.GetTo(), Channel: p.GetChannel(),
		Text: string(d.GetPayload()), ReplyID: d.GetReplyId(), ViaMQTT: p.GetViaMqtt() || p.GetTransportMechanism() == pb.MeshPacket_TRANSPORT_MQTT,
		SNR: p.GetRxSnr(), RSSI: p.GetRxRssi(),
	}
	if h, ok := meshtastic.HopsOf(p); ok {
		m.Hops = &h
	}
	return m
}

// ring is a fixed-size buffer of the newest items.
type ring[T any] struct {
	buf   []T
	next  int
	count int
}

func newRing[T any](n int) *ring[T] { return &ring[T]{buf: make([]T, n)} }

func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	r.count = min(r.count+1, len(r.buf))
}

// last returns up to n newest items, oldest first (n <= 0: all).
func (r *ring[T]) last(n int) []T {
	if n <= 0 || n > r.count {
		n = r.count
	}
	out := make([]T, n)
	start := (r.next - n + len(r.buf)) % len(r.buf)
	for i := range n {
		out[i] = r.buf[(start+i)%len(r.buf)]
	}
	return out
}

// each visits items newest first until f returns false.
func (r *ring[T]) each(f func(T) bool) {
	for i := 1; i <= r.count; i++ {
		if !f(r.buf[(r.next-i+len(r.buf))%len(r.buf)]) {
			return
		}
	}
}
