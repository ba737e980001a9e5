package radio

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Virtual node clients are apps (the phone app, the python CLI, Home
// Assistant, scripts) that use a radio's client API through the gateway
// (package vnode) while the broker keeps the only real connection. The
// broker gives each what the firmware would give its one client: a
// handshake in firmware order built from the shared state, the radio's
// live FromRadio traffic, and the answers to its own requests with its own
// packet ids. What a client may send is decided above (backend); the Tap
// methods only carry it out.

// routeTTL is how long answers to a client's packet are routed back to it.
// Traceroute and admin answers come within a minute; acks of a DM after
// the radio's retransmissions, well within this.
const routeTTL = 10 * time.Minute

// maxRoutes bounds the routing table; the oldest entries go first.
const maxRoutes = 4096

// recentIDs is how many upstream ids are remembered to keep new ones
// unique: the firmware silently drops a packet whose id it saw among the
// last 20 from its client.
const recentIDs = 64

// vnodeHub is a broker's virtual node side: the raw handshake the radio
// last sent, the raw live stream's subscribers, and the routing of
// answers. Its zero value is ready.
type vnodeHub struct {
	taps   atomic.Pointer[[]*Tap] // copy-on-write, read on every frame
	tapsMu sync.Mutex

	mu      sync.Mutex
	staging *capture // a handshake the radio is sending
	hs      *capture // the last complete one
	routes  map[uint32]*route
	recent  [recentIDs]uint32
	next    int
	free    uint32 // the radio's last reported transmit queue room
	maxlen  uint32
	queueOK bool

	framesOut, answered, refused, packetsIn, drops atomic.Uint64
}

// capture is the raw handshake: what the broker's parsed state does not
// keep (the device UI config, region presets, file manifest, and each
// NodeInfo as sent, unknown fields and all).
type capture struct {
	myNum   uint32
	ui      *pb.DeviceUIConfig
	presets *pb.FromRadio
	nodes   map[uint32]*pb.NodeInfo
	order   []uint32 // other nodes in the order the radio sent them
	files   []*pb.FileInfo
	// Config and module config sections in the order sent, those newer
	// than our schema included (they arrive without a known variant).
	config []*pb.Config
	module []*pb.ModuleConfig
}

// route sends the answers to one upstream packet to the client that sent
// it, with the client's own id.
type route struct {
	tap  *Tap
	id   uint32
	at   time.Time
	text bool // a paced text: the pacer handles rate-limit refusals
}

// Tap is one virtual node client's feed: raw FromRadio frames, encoded,
// ready to write. Open it with Broker.OpenTap and Close it when the client
// goes.
type Tap struct {
	b     *Broker
	name  string
	ch    chan []byte
	drops atomic.Uint64
	gone  atomic.Bool
	in    atomic.Uint64 // packets the client sent upstream
}

// OpenTap adds a virtual node client (name shows in logs). It does not by
// itself keep the radio connected: hold a Subscription for that.
func (b *Broker) OpenTap(name string) *Tap {
	t := &Tap{b: b, name: name, ch: make(chan []byte, b.cfg.QueueLen)}
	h := &b.vn
	h.tapsMu.Lock()
	old := h.loadTaps()
	next := make([]*Tap, len(old), len(old)+1)
	copy(next, old)
	next = append(next, t)
	h.taps.Store(&next)
	h.tapsMu.Unlock()
	return t
}

func (h *vnodeHub) loadTaps() []*Tap {
	if p := h.taps.Load(); p != nil {
		return *p
	}
	return nil
}

// VirtualClients is the number of virtual node clients on the radio.
func (b *Broker) VirtualClients() int { return len(b.vn.loadTaps()) }

// VirtualStats counts the virtual node side's traffic: frames handed to
// clients, answers routed to the client that asked, packets refused.
type VirtualStats struct {
	Clients   int    `json:"clients"`
	FramesOut uint64 `json:"frames_out"`
	Answers   uint64 `json:"answers"`
	Refused   uint64 `json:"refused"`
	PacketsIn uint64 `json:"packets_in"` // clients' packets sent on to the radio
	Drops     uint64 `json:"drops"`      // frames lost by clients that read too slowly
}

// VirtualStats returns the counters.
func (b *Broker) VirtualStats() VirtualStats {
	h := &b.vn
	return VirtualStats{Clients: len(h.loadTaps()), FramesOut: h.framesOut.Load(), Answers: h.answered.Load(), Refused: h.refused.Load(),
		PacketsIn: h.packetsIn.Load(), Drops: h.drops.Load()}
}

// Frames delivers encoded FromRadio messages for the client. It is never
// closed.
func (t *Tap) Frames() <-chan []byte { return t.ch }

// Drops counts frames the client lost because it fell behind.
func (t *Tap) Drops() uint64 { return t.drops.Load() }

// Close removes the client and forgets its routes. Its packets already
// sent stay sent; the upstream link does not notice.
func (t *Tap) Close() {
	if t.gone.Swap(true) {
		return
	}
	h := &t.b.vn
	h.tapsMu.Lock()
	old := h.loadTaps()
	next := make([]*Tap, 0, len(old))
	for _, o := range old {
		if o != t {
			next = append(next, o)
		}
	}
	h.taps.Store(&next)
	h.tapsMu.Unlock()
	h.mu.Lock()
	for id, r := range h.routes {
		if r.tap == t {
			delete(h.routes, id)
		}
	}
	h.mu.Unlock()
}

// offer queues an encoded frame without blocking: a full queue loses its
// oldest frame instead.
func (t *Tap) offer(b []byte) {
	if t.gone.Load() {
		return
	}
	t.b.vn.framesOut.Add(1)
	select {
	case t.ch <- b:
		return
	default:
	}
	select {
	case <-t.ch:
		t.drops.Add(1)
		t.b.vn.drops.Add(1)
	default:
	}
	select {
	case t.ch <- b:
	default:
		t.drops.Add(1)
		t.b.vn.drops.Add(1)
	}
}

// Deliver sends msg to this client only (an answer made by the gateway,
// such as a refusal).
func (t *Tap) Deliver(msg *pb.FromRadio) {
	b, err := proto.Marshal(msg)
	if err != nil {
		return
	}
	t.offer(b)
}

// Refuse answers the client's packet p as the firmware answers one it
// will not send: a routing error from our own node with request_id p's id.
// A non-empty why also goes to the client as a notification about p.
func (t *Tap) Refuse(p *pb.MeshPacket, reason pb.Routing_Error, why string) {
	t.b.vn.refused.Add(1)
	now := t.b.cfg.Now()
	if why != "" {
		id := p.GetId()
		t.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_ClientNotification{ClientNotification: &pb.ClientNotification{
			ReplyId: &id, Time: uint32(now.Unix()), Level: pb.LogRecord_WARNING, Message: why}}})
	}
	if p.GetId() == 0 {
		return // nothing to answer to
	}
	my := t.b.View().MyNodeNum
	payload, _ := proto.Marshal(&pb.Routing{Variant: &pb.Routing_ErrorReason{ErrorReason: reason}})
	rx := uint32(now.Unix())
	t.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_Packet{Packet: &pb.MeshPacket{
		From: my, To: my, Channel: p.GetChannel(), Id: rand.Uint32() | 1, RxTime: &rx, Priority: pb.MeshPacket_ACK,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_ROUTING_APP, Payload: payload, RequestId: p.GetId()}},
	}}})
}

// Notify sends the client a notification not tied to any packet of its
// own (an announcement to every user of the radio).
func (t *Tap) Notify(level pb.LogRecord_Level, text string) {
	t.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_ClientNotification{ClientNotification: &pb.ClientNotification{
		Time: uint32(t.b.cfg.Now().Unix()), Level: level, Message: text}}})
}

// QueueStatus is what a client's heartbeat is answered with: the radio's
// last reported transmit queue room (16 of 16 until it reports one).
func (b *Broker) QueueStatus() *pb.QueueStatus {
	h := &b.vn
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.queueOK {
		return &pb.QueueStatus{Free: 16, Maxlen: 16}
	}
	return &pb.QueueStatus{Free: h.free, Maxlen: h.maxlen}
}

// onFrame sees every FromRadio of the upstream link, on its reader
// goroutine, before the client applies it: it keeps the handshake, routes
// answers to the client that asked, and hands the rest of the live
// traffic to every client.
func (b *Broker) onFrame(msg *pb.FromRadio) {
	h := &b.vn
	switch v := msg.GetPayloadVariant().(type) {
	case *pb.FromRadio_MyInfo:
		h.mu.Lock()
		h.staging = &capture{myNum: v.MyInfo.GetMyNodeNum(), nodes: map[uint32]*pb.NodeInfo{}}
		h.mu.Unlock()
		return
	case *pb.FromRadio_ConfigCompleteId:
		h.mu.Lock()
		if h.staging != nil {
			h.hs, h.staging = h.staging, nil
		}
		h.mu.Unlock()
		return
	case *pb.FromRadio_QueueStatus:
		h.mu.Lock()
		q := v.QueueStatus
		h.free, h.maxlen, h.queueOK = q.GetFree(), q.GetMaxlen(), q.GetMaxlen() > 0
		r := h.routes[q.GetMeshPacketId()]
		h.mu.Unlock()
		if r != nil {
			cp := proto.Clone(q).(*pb.QueueStatus)
			cp.MeshPacketId = r.id
			h.answered.Add(1)
			r.tap.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_QueueStatus{QueueStatus: cp}})
		}
		// Others answer the broker's own packets and heartbeats.
		return
	}
	h.mu.Lock()
	if st := h.staging; st != nil {
		st.add(msg)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	taps := h.loadTaps()
	if len(taps) == 0 {
		return
	}
	switch v := msg.GetPayloadVariant().(type) {
	case *pb.FromRadio_Packet:
		if rid := v.Packet.GetDecoded().GetRequestId(); rid != 0 {
			if b.routeAnswer(v.Packet, rid) {
				return
			}
		}
	case *pb.FromRadio_ClientNotification:
		if n := v.ClientNotification; n.ReplyId != nil {
			h.mu.Lock()
			r := h.routes[n.GetReplyId()]
			h.mu.Unlock()
			if r != nil {
				cp := proto.Clone(n).(*pb.ClientNotification)
				id := r.id
				cp.ReplyId = &id
				h.answered.Add(1)
				r.tap.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_ClientNotification{ClientNotification: cp}})
				return
			}
			if b.ownRequest(n.GetReplyId()) {
				return
			}
		}
	case *pb.FromRadio_MqttClientProxyMessage, *pb.FromRadio_XmodemPacket:
		// The radio's MQTT proxy would have every app publish the same
		// message, and a file transfer belongs to whoever started it:
		// neither goes to virtual clients.
		return
	case *pb.FromRadio_Metadata, *pb.FromRadio_Channel, *pb.FromRadio_Config, *pb.FromRadio_ModuleConfig,
		*pb.FromRadio_NodeInfo, *pb.FromRadio_FileInfo, *pb.FromRadio_DeviceuiConfig, *pb.FromRadio_RegionPresets:
		return // handshake parts outside a handshake: nothing to tell
	}
	enc, err := proto.Marshal(msg)
	if err != nil {
		return
	}
	for _, t := range taps {
		t.offer(enc)
	}
}

// routeAnswer delivers a packet that answers request rid to the client
// that sent the request, with its own id, and reports whether the packet
// was an answer to someone (a virtual client or the broker itself).
func (b *Broker) routeAnswer(p *pb.MeshPacket, rid uint32) bool {
	h := &b.vn
	h.mu.Lock()
	r := h.routes[rid]
	h.mu.Unlock()
	if r == nil {
		return b.ownRequest(rid)
	}
	d := p.GetDecoded()
	if r.text && d.GetPortnum() == pb.PortNum_ROUTING_APP {
		rt := &pb.Routing{}
		if pb.Unmarshal(d.GetPayload(), rt) == nil && rt.GetErrorReason() == pb.Routing_RATE_LIMIT_EXCEEDED {
			return true // the pacer sends it again, or tells the client
		}
	}
	cp := proto.Clone(p).(*pb.MeshPacket)
	cp.GetDecoded().RequestId = r.id
	h.answered.Add(1)
	r.tap.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_Packet{Packet: cp}})
	return true
}

// ownRequest reports whether id is a request the broker's own users sent
// (a text or traceroute from the TUI or exec): its answers are theirs.
func (b *Broker) ownRequest(id uint32) bool {
	b.mu.Lock()
	c := b.client
	b.mu.Unlock()
	return c != nil && c.InFlight(id)
}

// add keeps one frame of a handshake.
func (st *capture) add(msg *pb.FromRadio) {
	switch v := msg.GetPayloadVariant().(type) {
	case *pb.FromRadio_DeviceuiConfig:
		st.ui = v.DeviceuiConfig
	case *pb.FromRadio_RegionPresets:
		st.presets = msg
	case *pb.FromRadio_NodeInfo:
		n := v.NodeInfo.GetNum()
		if _, seen := st.nodes[n]; !seen && n != st.myNum {
			st.order = append(st.order, n)
		}
		st.nodes[n] = v.NodeInfo
	case *pb.FromRadio_FileInfo:
		st.files = append(st.files, v.FileInfo)
	case *pb.FromRadio_Config:
		st.config = append(st.config, v.Config)
	case *pb.FromRadio_ModuleConfig:
		st.module = append(st.module, v.ModuleConfig)
	}
}

// sections merges the sections the radio sent (raw, in its order) with
// the current ones (changed by admin writes since, keyed by type; the
// oneof tag is type+1): a known section is sent as it is now, an unknown
// one as the radio sent it, and a section the radio did not send is
// added at the end.
func sections[T proto.Message, K ~int32](raw []T, now map[K]T) []T {
	out := make([]T, 0, max(len(raw), len(now)))
	used := make(map[K]bool, len(now))
	for _, m := range raw {
		tag, ok := meshtastic.OneofTag(m)
		if cur, have := now[K(tag-1)]; ok && have {
			used[K(tag-1)] = true
			out = append(out, cur)
			continue
		}
		out = append(out, m)
	}
	for _, k := range slices.Sorted(mapKeys(now)) {
		if !used[k] {
			out = append(out, now[k])
		}
	}
	return out
}

// Special want_config_id nonces (see meshtastic.NonceOnlyConfig).
const (
	nonceOnlyConfig = meshtastic.NonceOnlyConfig
	nonceOnlyNodes  = meshtastic.NonceOnlyNodes
)

// Handshake is the answer to a client's want_config_id, in the firmware's
// order (PhoneAPI::getFromRadio): my_info, device UI config, own NodeInfo,
// metadata, region presets, the 8 channels, each config and module config
// section, the other NodeInfos, the file manifest and config_complete_id
// with the client's nonce. Nonce 69420 leaves out the other nodes, 69421
// everything but the NodeInfos. It is built from the radio's current
// state: the config as changed since, NodeInfos of nodes heard since the
// radio's handshake, updated with what was heard. The messages are shared:
// a caller that changes one must clone it first.
func (b *Broker) Handshake(nonce uint32) ([]*pb.FromRadio, error) {
	h := &b.vn
	h.mu.Lock()
	hs := h.hs
	h.mu.Unlock()
	v := b.View()
	if hs == nil || v.Radio.MyInfo == nil {
		return nil, fmt.Errorf("%w: %s has not completed a handshake yet", ErrNotConnected, b.cfg.Name)
	}
	onlyNodes, onlyConfig := nonce == nonceOnlyNodes, nonce == nonceOnlyConfig
	out := make([]*pb.FromRadio, 0, 40+len(v.Nodes))
	add := func(m *pb.FromRadio) { out = append(out, m) }
	if !onlyNodes {
		mi := proto.Clone(v.Radio.MyInfo).(*pb.MyNodeInfo)
		mi.NodedbCount = uint32(len(v.Nodes))
		add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_MyInfo{MyInfo: mi}})
		if hs.ui != nil {
			add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_DeviceuiConfig{DeviceuiConfig: hs.ui}})
		}
	}
	if own, ok := v.Nodes[v.MyNodeNum]; ok {
		add(nodeFrame(nodeInfoFor(hs.nodes[v.MyNodeNum], own)))
	}
	if !onlyNodes {
		if v.Radio.Metadata != nil {
			add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_Metadata{Metadata: v.Radio.Metadata}})
		}
		if hs.presets != nil {
			add(hs.presets)
		}
		for _, ch := range v.Radio.Channels {
			add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_Channel{Channel: ch}})
		}
		for _, c := range sections(hs.config, v.Radio.Config) {
			add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_Config{Config: c}})
		}
		for _, m := range sections(hs.module, v.Radio.Module) {
			add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_ModuleConfig{ModuleConfig: m}})
		}
	}
	if !onlyConfig {
		seen := make(map[uint32]bool, len(hs.order))
		for _, num := range hs.order {
			if n, ok := v.Nodes[num]; ok {
				seen[num] = true
				add(nodeFrame(nodeInfoFor(hs.nodes[num], n)))
			}
		}
		var later []*meshtastic.Node
		for num, n := range v.Nodes {
			if !seen[num] && num != v.MyNodeNum {
				later = append(later, n)
			}
		}
		slices.SortFunc(later, func(a, b *meshtastic.Node) int {
			if c := b.LastHeard.Compare(a.LastHeard); c != 0 {
				return c
			}
			return cmp.Compare(a.Num, b.Num)
		})
		for _, n := range later {
			add(nodeFrame(nodeInfoFor(nil, n)))
		}
	}
	if !onlyNodes {
		for _, f := range hs.files {
			add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_FileInfo{FileInfo: f}})
		}
	}
	add(&pb.FromRadio{PayloadVariant: &pb.FromRadio_ConfigCompleteId{ConfigCompleteId: nonce}})
	return out, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func nodeFrame(ni *pb.NodeInfo) *pb.FromRadio {
	return &pb.FromRadio{PayloadVariant: &pb.FromRadio_NodeInfo{NodeInfo: ni}}
}

// nodeInfoFor is the NodeInfo to send for n: the radio's own, as it sent
// it, while nothing was heard from the node since; otherwise that one
// (or a new one) updated with what the broker knows now.
func nodeInfoFor(raw *pb.NodeInfo, n *meshtastic.Node) *pb.NodeInfo {
	if raw != nil {
		was := meshtastic.NodeFromInfo(raw)
		now := *n
		was.RSSI, now.RSSI = 0, 0 // not part of a NodeInfo
		if reflect.DeepEqual(was, now) {
			return raw
		}
	}
	ni := &pb.NodeInfo{Num: n.Num}
	if raw != nil {
		ni = proto.Clone(raw).(*pb.NodeInfo)
	}
	if ni.User != nil || n.LongName != "" || n.ShortName != "" || len(n.PublicKey) > 0 {
		u := ni.User
		if u == nil {
			u = &pb.User{}
		}
		u.Id = meshtastic.NodeID(n.Num)
		u.LongName, u.ShortName, u.HwModel, u.Role, u.IsLicensed = n.LongName, n.ShortName, n.HWModel, n.Role, n.Licensed
		if len(n.PublicKey) > 0 {
			u.PublicKey = append([]byte(nil), n.PublicKey...)
		}
		ni.User = u
	}
	if !n.LastHeard.IsZero() {
		ni.LastHeard = uint32(n.LastHeard.Unix())
	}
	ni.Snr = n.SNR
	ni.HopsAway = clonePtr(n.HopsAway)
	ni.ViaMqtt, ni.Channel, ni.IsFavorite, ni.IsIgnored = n.ViaMQTT, n.Channel, n.Favorite, n.Ignored
	if n.Latitude != nil || n.Altitude != nil || !n.PositionTime.IsZero() {
		pos := ni.Position
		if pos == nil {
			pos = &pb.Position{}
		}
		if n.Latitude != nil && n.Longitude != nil {
			lat, lon := int32(math.Round(*n.Latitude*1e7)), int32(math.Round(*n.Longitude*1e7))
			pos.LatitudeI, pos.LongitudeI = &lat, &lon
		}
		pos.Altitude = clonePtr(n.Altitude)
		if !n.PositionTime.IsZero() {
			pos.Time = uint32(n.PositionTime.Unix())
		}
		ni.Position = pos
	}
	if n.BatteryLevel != nil || n.Voltage != nil || n.ChannelUtil != nil || n.AirUtilTx != nil || n.Uptime != nil {
		dm := ni.DeviceMetrics
		if dm == nil {
			dm = &pb.DeviceMetrics{}
		}
		dm.BatteryLevel, dm.Voltage = clonePtr(n.BatteryLevel), clonePtr(n.Voltage)
		dm.ChannelUtilization, dm.AirUtilTx, dm.UptimeSeconds = clonePtr(n.ChannelUtil), clonePtr(n.AirUtilTx), clonePtr(n.Uptime)
		ni.DeviceMetrics = dm
	}
	return ni
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// upstreamID picks the id a client's packet goes to the radio with: the
// client's own when no other packet in flight has it (so a reply_id to it
// from elsewhere on the mesh still means something to the client), else a
// fresh one; and routes the answers to it back to the client.
func (t *Tap) upstreamID(c *meshtastic.Client, clientID uint32, text bool) uint32 {
	h := &t.b.vn
	now := t.b.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.routes == nil {
		h.routes = map[uint32]*route{}
	}
	if len(h.routes) >= maxRoutes {
		h.pruneLocked(now)
	}
	taken := func(id uint32) bool {
		if id == 0 || h.routes[id] != nil || slices.Contains(h.recent[:], id) {
			return true
		}
		return c != nil && c.InFlight(id)
	}
	id := clientID
	for taken(id) {
		id = (rand.Uint32() &^ 0x3FF) | (rand.Uint32() & 0x3FF)
	}
	h.routes[id] = &route{tap: t, id: clientID, at: now, text: text}
	h.recent[h.next] = id
	h.next = (h.next + 1) % len(h.recent)
	return id
}

// pruneLocked drops expired routes, and the oldest ones while the table
// is still full.
func (h *vnodeHub) pruneLocked(now time.Time) {
	for id, r := range h.routes {
		if now.Sub(r.at) > routeTTL {
			delete(h.routes, id)
		}
	}
	for len(h.routes) >= maxRoutes {
		var oldest uint32
		var at time.Time
		for id, r := range h.routes {
			if at.IsZero() || r.at.Before(at) {
				oldest, at = id, r.at
			}
		}
		delete(h.routes, oldest)
	}
}

// forget stops routing answers for an upstream id.
func (t *Tap) forget(id uint32) {
	h := &t.b.vn
	h.mu.Lock()
	if r := h.routes[id]; r != nil && r.tap == t {
		delete(h.routes, id)
	}
	h.mu.Unlock()
}

// Send writes the client's packet p to the radio under an id unique
// among everyone's packets in flight; answers (queue status, acks,
// replies, refusals) come back on the tap with p's own id. reply is the
// port whose packet answers it (ROUTING_APP when only an ack will). It
// returns once the packet is written.
func (t *Tap) Send(p *pb.MeshPacket, reply pb.PortNum) error {
	c, err := t.b.Client()
	if err != nil {
		return err
	}
	_, err = t.send(c, p, reply, false)
	return err
}

func (t *Tap) send(c *meshtastic.Client, p *pb.MeshPacket, reply pb.PortNum, text bool) (uint32, error) {
	up := proto.Clone(p).(*pb.MeshPacket)
	up.Id = t.upstreamID(c, p.GetId(), text)
	if _, err := c.Send(up, reply); err != nil {
		t.forget(up.Id)
		return 0, err
	}
	t.in.Add(1)
	t.b.vn.packetsIn.Add(1)
	t.b.packetsOut.Add(1)
	return up.Id, nil
}

// SendText sends the client's text packet p, spaced with every other text
// sent through the radio (see Config.TextPace), and records it in the
// radio's history as sent by who. A text the radio refuses for its rate
// limit is sent again once, a pace later; a second refusal reaches the
// client as the radio's RATE_LIMIT_EXCEEDED answer to its own id.
func (t *Tap) SendText(ctx context.Context, who string, p *pb.MeshPacket) error {
	b := t.b
	b.textMu.Lock()
	c, id, err := t.b.sendPacedText(ctx, "a virtual client's text", func(c *meshtastic.Client) (uint32, error) {
		return t.send(c, p, pb.PortNum_ROUTING_APP, true)
	})
	b.textMu.Unlock()
	if errors.Is(err, meshtastic.ErrRateLimited) {
		t.Refuse(p, pb.Routing_RATE_LIMIT_EXCEEDED, "")
	}
	if err != nil {
		return err
	}
	d := p.GetDecoded()
	to := p.GetTo()
	if to == 0 {
		to = meshtastic.Broadcast
	}
	m := &Message{
		Radio: b.cfg.Name, At: b.cfg.Now(), ID: id, From: c.MyNodeNum(), To: to, Channel: p.GetChannel(),
		Text: string(d.GetPayload()), ReplyID: d.GetReplyId(), Outgoing: true, SentBy: who, Delivery: Sent,
	}
	if d.GetEmoji() != 0 {
		return nil // a reaction, not a message
	}
	if p.GetWantAck() {
		m.Delivery = Pending
	}
	b.mu.Lock()
	b.messages.push(m)
	cp := *m
	b.mu.Unlock()
	if b.cfg.Store != nil {
		b.cfg.Store.AddMessage(cp)
	}
	b.publish(&Event{Kind: EvMessage, At: m.At, Message: &cp})
	if p.GetWantAck() {
		go b.trackAck(c, m)
	}
	return nil
}

// Traceroute sends the client's traceroute packet p through the radio's
// shared traceroute queue (one per TracePace for every user). The reply,
// or the radio's refusal, reaches the client with p's id; so does a
// refusal of the queue's own (full, link down), as the firmware's client
// notification about p.
func (t *Tap) Traceroute(ctx context.Context, p *pb.MeshPacket) error {
	c, _ := t.b.Client()
	id := t.upstreamID(c, p.GetId(), false)
	t.in.Add(1)
	t.b.vn.packetsIn.Add(1)
	_, err := t.b.Traceroute(ctx, p.GetTo(), meshtastic.TraceOptions{Channel: p.GetChannel(), HopLimit: p.GetHopLimit(), ID: id}, nil)
	if err == nil || ctx.Err() != nil {
		return err
	}
	var ne *meshtastic.NotificationError
	var re *meshtastic.RoutingError
	if errors.As(err, &ne) || errors.As(err, &re) || errors.Is(err, meshtastic.ErrNoResponse) {
		return err // the radio's own answer, routed to the client already
	}
	id2 := p.GetId()
	t.Deliver(&pb.FromRadio{PayloadVariant: &pb.FromRadio_ClientNotification{ClientNotification: &pb.ClientNotification{
		ReplyId: &id2, Time: uint32(t.b.cfg.Now().Unix()), Level: pb.LogRecord_WARNING,
		Message: "traceroute not sent: " + err.Error()}}})
	return err
}

// Admin sends the client's admin packet p to our own radio, one admin
// operation at a time with every other user's (Broker.Admin), and waits
// (bounded by ctx) for the radio's answer, which also reaches the client
// with p's id.
func (t *Tap) Admin(ctx context.Context, p *pb.MeshPacket) error {
	reply := pb.PortNum_ROUTING_APP
	if p.GetDecoded().GetWantResponse() {
		am := &pb.AdminMessage{}
		if pb.Unmarshal(p.GetDecoded().GetPayload(), am) == nil && IsAdminGetter(am) {
			reply = pb.PortNum_ADMIN_APP
		}
	}
	return t.b.Admin(ctx, func(ctx context.Context, c *meshtastic.Client) error {
		id, err := t.send(c, p, reply, false)
		if err != nil {
			return err
		}
		if !p.GetDecoded().GetWantResponse() && !p.GetWantAck() {
			return nil // nothing will answer
		}
		_, err = c.Wait(ctx, id)
		return err
	})
}

// IsAdminGetter reports whether m only reads (a get_*_request): the
// firmware answers those with the matching *_response.
func IsAdminGetter(m *pb.AdminMessage) bool {
	switch m.GetPayloadVariant().(type) {
	case *pb.AdminMessage_GetChannelRequest, *pb.AdminMessage_GetOwnerRequest, *pb.AdminMessage_GetConfigRequest,
		*pb.AdminMessage_GetModuleConfigRequest, *pb.AdminMessage_GetCannedMessageModuleMessagesRequest,
		*pb.AdminMessage_GetDeviceMetadataRequest, *pb.AdminMessage_GetRingtoneRequest,
		*pb.AdminMessage_GetDeviceConnectionStatusRequest, *pb.AdminMessage_GetNodeRemoteHardwarePinsRequest,
		*pb.AdminMessage_GetUiConfigRequest:
		return true
	}
	return false
}
