package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// NodeClient is one app using a radio's client API through the gateway (a
// virtual node client; package vnode speaks the protocol). The app gets
// the radio's handshake and live traffic; what it may send is decided here
// by the caller's role, like every other operation:
//
//   - viewer: nothing. Every packet is answered as a firmware refusal is:
//     a ROUTING_APP packet with error_reason NOT_AUTHORIZED (33) and
//     request_id the packet's id, after a client notification saying why.
//   - operator: texts (paced with every other text sent through the
//     radio), position, telemetry and node info packets and requests
//     (paced per port like the request command), traceroutes (through the
//     radio's shared traceroute queue), and other application packets
//     (paced per port).
//   - admin: admin messages too, to our own radio or to remote nodes; each
//     one is audited, and those that change something are announced to
//     the radio's other users first. Admins also get the keys and
//     passwords in the handshake; everyone else gets them blanked.
type NodeClient struct {
	b       *Backend
	c       Caller
	br      *radio.Broker
	tap     *radio.Tap
	sub     *radio.Subscription
	secrets bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// OpenNode starts a virtual node client of radioName for c. The radio is
// kept connected while the client is open (it counts as one of the radio's
// users). Close it when the app goes.
func (b *Backend) OpenNode(ctx context.Context, c Caller, radioName string) (*NodeClient, error) {
	if err := Allowed(c.Identity, OpNode, "", ""); err != nil {
		return nil, err
	}
	br, err := b.radio(c, radioName)
	if err != nil {
		return nil, err
	}
	bind(c, br)
	name := c.SessionID()
	if name == "" {
		name = c.Name
	}
	nctx, cancel := context.WithCancel(ctx)
	n := &NodeClient{b: b, c: c, br: br, ctx: nctx, cancel: cancel,
		secrets: Allowed(c.Identity, OpNodeSecrets, "", "") == nil}
	n.tap = br.OpenTap(name)
	n.sub = br.Subscribe(name)
	n.wg.Add(1)
	go n.announcements()
	b.log.Info("virtual node client", "session", c.SessionID(), "user", c.Name, "radio", br.Name(), "via", c.Via)
	return n, nil
}

// NodeTarget checks a forward's target host (ssh -L PORT:HOST:4403): it
// must be the name of a configured radio the caller may use as a virtual
// node. Addresses are never targets, not even for admins who may dial
// them: a forward reaches a radio by name only. It returns the radio's
// name, or why not (ErrDenied, ErrNotFound) in words fit for the client.
func (b *Backend) NodeTarget(c Caller, host string) (string, error) {
	if err := Allowed(c.Identity, OpNode, "", ""); err != nil {
		return "", err
	}
	allowed := b.allowedRadios(c.Identity)
	if !slices.Contains(b.radios.Names(), host) {
		return "", notFound("no radio named %q; forward to RADIO:4403 with one of: %s", host, strings.Join(allowed, ", "))
	}
	if !c.MayUse(host) {
		return "", denied("your key may not use radio %q", host)
	}
	return host, nil
}

// Radio is the radio's name.
func (n *NodeClient) Radio() string { return n.br.Name() }

// Frames delivers encoded FromRadio messages for the app: the radio's live
// traffic and the answers to its own packets. Never closed.
func (n *NodeClient) Frames() <-chan []byte { return n.tap.Frames() }

// Drops counts frames the app lost because it did not read fast enough.
func (n *NodeClient) Drops() uint64 { return n.tap.Drops() }

// QueueStatus answers the app's heartbeat.
func (n *NodeClient) QueueStatus() *pb.QueueStatus { return n.br.QueueStatus() }

// Close ends the client. The radio's upstream link is not touched; it
// stays up for the broker's grace period if nobody else uses it.
func (n *NodeClient) Close() {
	n.once.Do(func() {
		n.cancel()
		n.wg.Wait()
		n.tap.Close()
		n.sub.Close()
	})
}

// announcements passes what every user of the radio is told (an admin is
// about to reboot it...) to the app as notifications, and keeps the
// subscription drained.
func (n *NodeClient) announcements() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.sub.Events():
			if ev.Kind == radio.EvAnnounce {
				n.tap.Notify(pb.LogRecord_INFO, ev.Text)
			}
		}
	}
}

// Handshake answers the app's want_config_id: the radio's configuration
// and NodeDB in firmware order, ending with config_complete_id = nonce. It
// waits (bounded) for the radio's link when it is not up yet.
func (n *NodeClient) Handshake(ctx context.Context, nonce uint32) ([]*pb.FromRadio, error) {
	if _, err := n.br.Client(); err != nil {
		wctx, cancel := context.WithTimeout(ctx, n.b.wait)
		err := n.br.WaitConnected(wctx)
		cancel()
		if err != nil {
			return nil, failed(err)
		}
	}
	out, err := n.br.Handshake(nonce)
	if err != nil {
		return nil, failed(err)
	}
	if !n.secrets {
		for i, m := range out {
			out[i] = redact(m)
		}
	}
	return out, nil
}

// redact blanks the secrets in one handshake message: the private key,
// the Wi-Fi password, the Bluetooth PIN, the MQTT password and channel
// keys (zeroed, see below). Shared messages are cloned, never changed.
func redact(m *pb.FromRadio) *pb.FromRadio {
	switch v := m.GetPayloadVariant().(type) {
	case *pb.FromRadio_Config:
		c := v.Config
		switch {
		case len(c.GetSecurity().GetPrivateKey()) > 0:
			c = proto.Clone(c).(*pb.Config)
			c.GetSecurity().PrivateKey = nil
		case c.GetNetwork().GetWifiPsk() != "":
			c = proto.Clone(c).(*pb.Config)
			c.GetNetwork().WifiPsk = ""
		case c.GetBluetooth().GetFixedPin() != 0:
			c = proto.Clone(c).(*pb.Config)
			c.GetBluetooth().FixedPin = 0
		default:
			return m
		}
		return &pb.FromRadio{PayloadVariant: &pb.FromRadio_Config{Config: c}}
	case *pb.FromRadio_ModuleConfig:
		if v.ModuleConfig.GetMqtt().GetPassword() == "" {
			return m
		}
		mc := proto.Clone(v.ModuleConfig).(*pb.ModuleConfig)
		mc.GetMqtt().Password = ""
		return &pb.FromRadio{PayloadVariant: &pb.FromRadio_ModuleConfig{ModuleConfig: mc}}
	case *pb.FromRadio_Channel:
		// A one-byte key is an index into the firmware's well-known
		// default keys, not a secret. A real 16- or 32-byte key is
		// replaced by zeros of the same length rather than removed: an
		// empty key means "no encryption", and apps would show the
		// channel as open (and share it so in a channel URL).
		if len(v.Channel.GetSettings().GetPsk()) <= 1 {
			return m
		}
		ch := proto.Clone(v.Channel).(*pb.Channel)
		ch.GetSettings().Psk = make([]byte, len(ch.GetSettings().GetPsk()))
		return &pb.FromRadio{PayloadVariant: &pb.FromRadio_Channel{Channel: ch}}
	}
	return m
}

// nodeOp is the operation a client's packet is.
func nodeOp(p *pb.MeshPacket) Op {
	d := p.GetDecoded()
	if d == nil {
		// Already encrypted: we cannot tell what it is, so it may be
		// anything, an admin message included.
		return OpNodeAdmin
	}
	switch d.GetPortnum() {
	case pb.PortNum_TEXT_MESSAGE_APP, pb.PortNum_TEXT_MESSAGE_COMPRESSED_APP:
		return OpSend
	case pb.PortNum_TRACEROUTE_APP:
		return OpTraceroute
	case pb.PortNum_POSITION_APP, pb.PortNum_TELEMETRY_APP, pb.PortNum_NODEINFO_APP:
		return OpRequest
	case pb.PortNum_ADMIN_APP:
		return OpNodeAdmin
	}
	return OpNodePacket
}

// Packet handles one MeshPacket the app sent (ToRadio.packet): it checks
// the caller may send it, then sends it the way its kind is sent for
// everyone. Answers — the radio's and refusals — reach the app on Frames
// with the packet's own id. It returns when the packet is handled, which
// for a text or traceroute waiting its turn may be a while; call it from
// a goroutine of its own.
func (n *NodeClient) Packet(ctx context.Context, p *pb.MeshPacket) {
	op := nodeOp(p)
	c := n.c
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		n.b.log.Info("virtual node packet refused", "session", c.SessionID(), "user", c.Name, "radio", n.br.Name(),
			"port", p.GetDecoded().GetPortnum(), "to", meshtastic.NodeID(p.GetTo()), "why", err)
		n.tap.Refuse(p, pb.Routing_NOT_AUTHORIZED, err.Error())
		return
	}
	d := p.GetDecoded()
	var err error
	switch op {
	case OpSend:
		err = n.tap.SendText(ctx, c.Name, p)
	case OpTraceroute:
		rctx := radio.WithRequester(ctx, radio.Requester{Name: c.Name, Fingerprint: c.Fingerprint})
		err = n.tap.Traceroute(rctx, p)
		if err != nil && ctx.Err() == nil {
			n.b.log.Info("virtual node traceroute", "session", c.SessionID(), "radio", n.br.Name(), "to", meshtastic.NodeID(p.GetTo()), "err", err)
		}
		return // its answers, refusals included, went to the app
	case OpNodeAdmin:
		err = n.admin(ctx, p)
	default: // OpRequest, OpNodePacket
		if err = n.b.requests.wait(ctx, n.br.Name()+"/"+d.GetPortnum().String(), requestPace, n.b.now); err != nil {
			return
		}
		reply := pb.PortNum_ROUTING_APP
		if d.GetWantResponse() {
			reply = d.GetPortnum()
		}
		err = n.tap.Send(p, reply)
	}
	if err == nil || ctx.Err() != nil {
		return
	}
	n.b.log.Info("virtual node packet failed", "session", c.SessionID(), "radio", n.br.Name(),
		"port", d.GetPortnum(), "err", err)
	if errors.Is(err, radio.ErrNotConnected) {
		n.tap.Refuse(p, pb.Routing_NO_INTERFACE, "not sent: "+err.Error())
	}
}

// admin sends an admin message: announced first when it changes
// something, audited with its outcome. To our own radio it waits its turn
// with every other admin operation on the radio.
func (n *NodeClient) admin(ctx context.Context, p *pb.MeshPacket) error {
	c := n.c
	my := n.br.View().MyNodeNum
	local := p.GetTo() == 0 || p.GetTo() == my
	what, getter := "an encrypted packet", false
	if d := p.GetDecoded(); d != nil {
		am := &pb.AdminMessage{}
		if err := pb.Unmarshal(d.GetPayload(), am); err != nil {
			what = "an admin message that does not decode"
		} else {
			what, getter = adminWhat(am), radio.IsAdminGetter(am)
		}
	}
	target := "this radio"
	if !local {
		target = "node " + meshtastic.NodeID(p.GetTo())
	}
	if !getter {
		n.br.Announce(fmt.Sprintf("%s is changing %s from an app: %s", c.Name, target, what))
	}
	var err error
	if local && p.GetDecoded() != nil {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = n.tap.Admin(actx, p)
		cancel()
	} else {
		reply := pb.PortNum_ROUTING_APP
		if getter {
			reply = pb.PortNum_ADMIN_APP
		}
		err = n.tap.Send(p, reply)
	}
	outcome := "accepted by the radio"
	switch {
	case err != nil:
		outcome = "failed: " + err.Error()
	case !local:
		outcome = "sent"
	}
	n.b.audit(c, n.br.Name(), string(OpNodeAdmin), fmt.Sprintf("%s to %s; %s", what, target, outcome))
	return err
}

// adminWhat names an admin message for the audit log and announcements:
// its variant ("set_config lora", "reboot_seconds 5", "set_channel 1").
func adminWhat(am *pb.AdminMessage) string {
	r := am.ProtoReflect()
	od := r.Descriptor().Oneofs().ByName("payload_variant")
	fd := r.WhichOneof(od)
	if fd == nil {
		return "an empty admin message"
	}
	name := string(fd.Name())
	v := r.Get(fd)
	switch fd.Kind() {
	case protoreflect.MessageKind:
		m := v.Message()
		if inner := m.Descriptor().Oneofs().ByName("payload_variant"); inner != nil {
			if f := m.WhichOneof(inner); f != nil {
				return name + " " + string(f.Name())
			}
		}
		if idx := m.Descriptor().Fields().ByName("index"); idx != nil {
			return fmt.Sprintf("%s %d", name, m.Get(idx).Int())
		}
		return name
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return name + " " + strings.ToLower(string(ev.Name()))
		}
	case protoreflect.BoolKind:
		return name
	}
	return fmt.Sprintf("%s %v", name, v.Interface())
}
