package backend

import (
	"context"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/store"
)

// Message is a text message heard or sent on a radio: the one shape of
// `messages`, `history` and `send`.
type Message struct {
	Radio   string    `json:"radio"`
	At      time.Time `json:"time"`
	ID      uint32    `json:"id"`
	From    string    `json:"from"`
	FromNum uint32    `json:"from_num"`
	To      string    `json:"to"` // "!ffffffff" for the channel
	ToNum   uint32    `json:"to_num"`
	Channel uint32    `json:"channel"`
	Text    string    `json:"text"`
	ReplyID uint32    `json:"reply_id,omitempty"`
	ViaMQTT bool      `json:"via_mqtt"`
	Hops    *uint32   `json:"hops"`
	SNR     *float32  `json:"snr"`
	RSSI    *int32    `json:"rssi"`
	// Outgoing marks messages sent through the gateway; SentBy names the
	// user (or "responder", "beacon") who sent it.
	Outgoing bool   `json:"outgoing"`
	SentBy   string `json:"sent_by,omitempty"`
	// Delivery is received, pending, sent, acked or failed.
	Delivery string `json:"delivery"`
	Error    string `json:"error,omitempty"`
	// AckFrom is the node that acknowledged a direct message; a broadcast
	// is acked implicitly when a relay is heard repeating it (AckImplicit).
	AckFrom     string  `json:"ack_from,omitempty"`
	AckFromNum  *uint32 `json:"ack_from_num,omitempty"`
	AckImplicit bool    `json:"ack_implicit,omitempty"`
}

// Direct reports whether the message went to one node.
func (m Message) Direct() bool { return m.ToNum != meshtastic.Broadcast }

func snrPtr(v float32) *float32 {
	if v == 0 {
		return nil
	}
	return &v
}

func rssiPtr(v int32) *int32 {
	if v == 0 {
		return nil
	}
	return &v
}

// MessageOf converts a message (from a radio's live history or the
// database: they are one type) to its documented shape.
func MessageOf(radioName string, m *radio.Message) Message {
	out := Message{Radio: radioName, At: utc(m.At), ID: m.ID, From: meshtastic.NodeID(m.From), FromNum: m.From,
		To: meshtastic.NodeID(m.To), ToNum: m.To, Channel: m.Channel, Text: m.Text, ReplyID: m.ReplyID,
		ViaMQTT: m.ViaMQTT, Hops: m.Hops, SNR: snrPtr(m.SNR), RSSI: rssiPtr(m.RSSI), Outgoing: m.Outgoing,
		SentBy: m.SentBy, Delivery: m.Delivery.String(), Error: m.Error}
	switch {
	case m.AckFrom == "relay":
		out.AckImplicit = true
	case m.AckFrom != "":
		if num, err := ResolveNode(emptyView(), m.AckFrom); err == nil {
			out.AckFrom, out.AckFromNum = m.AckFrom, &num
		}
	}
	return out
}

// MessageList is a list of messages and how many the caller's filters hid.
type MessageList struct {
	Radio    string    `json:"radio"`
	Messages []Message `json:"messages"`
	Hidden   int       `json:"hidden"`
}

// Limits on list lengths.
const (
	DefaultLimit = 50
	MaxLimit     = 100_000
)

func checkLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, invalid("limit %d: want 1-%d", n, MaxLimit)
	}
	return n, nil
}

// Messages lists the newest text messages the radio heard or sent while
// the gateway ran (and what it loaded from history at start), oldest
// first, through the caller's personal filters.
func (b *Backend) Messages(ctx context.Context, c Caller, radioName string, limit int) (MessageList, error) {
	br, limit, personal, err := b.live(ctx, c, OpMessages, radioName, limit)
	if err != nil {
		return MessageList{}, err
	}
	out := MessageList{Radio: br.Name(), Messages: []Message{}}
	for _, m := range br.Messages(limit) {
		if ok, _ := personal.AllowsMessage(m.From, m.To, m.Channel, m.Text); !ok {
			out.Hidden++
			continue
		}
		out.Messages = append(out.Messages, MessageOf(br.Name(), m))
	}
	return out, nil
}

// History lists stored text messages, from before the gateway restarted
// too, oldest first, through the caller's personal filters.
func (b *Backend) History(ctx context.Context, c Caller, radioName string, limit int) (MessageList, error) {
	db, br, limit, err := b.stored(c, OpHistory, radioName, limit)
	if err != nil {
		return MessageList{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	msgs, err := db.Messages(dctx, br.Name(), store.Page{Limit: limit})
	if err != nil {
		return MessageList{}, failed(err)
	}
	personal := b.personalFilters(ctx, c, br.Name(), nil)
	out := MessageList{Radio: br.Name(), Messages: []Message{}}
	for i, m := range msgs {
		// Filtering a long history costs; stop when the caller is gone.
		if i%1024 == 1023 && ctx.Err() != nil {
			return MessageList{}, failed(ctx.Err())
		}
		if ok, _ := personal.AllowsMessage(m.From, m.To, m.Channel, m.Text); !ok {
			out.Hidden++
			continue
		}
		out.Messages = append(out.Messages, MessageOf(br.Name(), &m))
	}
	return out, nil
}

// SendRequest is a text to send.
type SendRequest struct {
	Radio string
	// To is a node (!id or a unique start of its name); "" or "^all"
	// sends to the channel.
	To string
	// Channel is the radio's channel index; it must exist and be enabled.
	Channel uint32
	Text    string
	ReplyID uint32
	// WantAck asks the radio for an ack; the message's delivery follows
	// it (pending, then acked or failed) in the radio's messages.
	WantAck bool
	// Wait also waits for that ack (up to Timeout, default 60 s); it
	// implies WantAck.
	Wait    bool
	Timeout time.Duration
	// ConnectWait bounds the wait for the radio's link (default 20 s).
	ConnectWait time.Duration
}

// Send sends a text, paced with every other sender on the radio. Without
// Wait it returns once the radio took it (delivery "pending" or "sent");
// with Wait it returns the message once acked, or an error once it failed
// (ErrFailed) or no ack came in time (ErrTimeout, with the message).
func (b *Backend) Send(ctx context.Context, c Caller, r SendRequest) (Message, error) {
	if err := Allowed(c.Identity, OpSend, "", ""); err != nil {
		return Message{}, err
	}
	if r.Text == "" || isBlank(r.Text) {
		return Message{}, invalid("nothing to send (give the text after the flags)")
	}
	if r.Channel > 7 {
		return Message{}, invalid("channel %d: want 0-7", r.Channel)
	}
	br, err := b.radio(c, r.Radio)
	if err != nil {
		return Message{}, err
	}
	release, err := b.connected(ctx, c, br, r.ConnectWait)
	if err != nil {
		return Message{}, err
	}
	defer release()
	v := br.View()
	dest := meshtastic.Broadcast
	if r.To != "" {
		if dest, err = ResolveNode(v, r.To); err != nil {
			return Message{}, err
		}
		if dest == v.MyNodeNum {
			return Message{}, invalid("%s is this radio's own node", nodeLabel(v, dest))
		}
	}
	if err := checkChannel(v, r.Channel); err != nil {
		return Message{}, err
	}
	// A direct message to a node whose public key we know is encrypted
	// to it (PKI), which costs 12 bytes of the packet.
	pki := false
	if n, ok := v.Nodes[dest]; ok && dest != meshtastic.Broadcast && len(n.PublicKey) > 0 {
		pki = true
	}
	if limit := meshtastic.MaxTextBytes(pki, r.ReplyID != 0); len(r.Text) > limit {
		return Message{}, invalid("text is %d bytes; at most %d fit in one packet", len(r.Text), limit)
	}
	sent, err := br.SendText(ctx, c.Name, meshtastic.Text{To: dest, Channel: r.Channel, Text: r.Text, ReplyID: r.ReplyID,
		WantAck: r.Wait || r.WantAck})
	if err != nil {
		return Message{}, failed(err)
	}
	b.log.Info("radio action", "session", c.SessionID(), "user", c.Name, "radio", br.Name(), "action", "send",
		"to", meshtastic.NodeID(dest), "id", sent.ID, "via", c.Via)
	msg := MessageOf(br.Name(), &sent)
	if !r.Wait {
		return msg, nil
	}
	return b.awaitDelivery(ctx, br, msg, r.Timeout)
}

// awaitDelivery follows a sent message's delivery state in the broker's
// history until it is acked or failed, or timeout passes.
func (b *Backend) awaitDelivery(ctx context.Context, br *radio.Broker, msg Message, timeout time.Duration) (Message, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, ok := br.Message(msg.ID); ok {
			msg = MessageOf(br.Name(), &m)
			switch m.Delivery {
			case radio.Acked:
				return msg, nil
			case radio.Failed:
				return msg, &Error{Kind: ErrFailed, Msg: "message " + hexID(msg.ID) + " not delivered: " + m.Error}
			}
		}
		select {
		case <-ctx.Done():
			return msg, failed(ctx.Err())
		case <-deadline.C:
			return msg, &Error{Kind: ErrTimeout, Msg: "message " + hexID(msg.ID) + " sent, no ack within " + timeout.String()}
		case <-tick.C:
		}
	}
}

func hexID(id uint32) string { return "0x" + leftPad(uint64(id)) }

func leftPad(v uint64) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

func isBlank(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// checkChannel refuses a channel index the radio does not have enabled.
func checkChannel(v *radio.View, idx uint32) error {
	chans := v.Radio.Channels
	if len(chans) == 0 {
		return nil // the radio did not report its channels; let it decide
	}
	var enabled []string
	found := false
	for _, ch := range chans {
		if ch.GetRole() == pb.Channel_DISABLED {
			continue
		}
		enabled = append(enabled, itoa(int(ch.GetIndex())))
		if ch.GetIndex() == int32(idx) {
			found = true
		}
	}
	if !found {
		return invalid("channel %d is not enabled on this radio (enabled: %s)", idx, orList(enabled))
	}
	return nil
}
