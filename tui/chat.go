package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// convKey names a conversation: a channel slot, or a direct conversation
// with one node.
type convKey struct {
	dm  bool
	num uint32 // channel index, or the other node
}

// conv is one conversation. Its messages are the broker's shared ones:
// received messages never change; a sent one is replaced by the copy each
// delivery update carries.
type conv struct {
	key    convKey
	msgs   []*radio.Message
	unread int
	hidden int // messages the user's filters hide
	last   time.Time
}

// convLimit bounds what a session keeps per conversation; the broker's
// history is the long memory.
const convLimit = 500

type chatTab struct {
	convs     map[convKey]*conv
	order     []convKey
	cur       convKey
	sel       int // selected message in the current conversation; -1: none
	input     textinput.Model
	composing bool
	to        nodePrompt // who a new direct message goes to
	replyTo   *radio.Message
	// sending: the core has the last text and the radio has not taken it
	// yet (the text rate limit is shared by everyone on the radio).
	sending   bool
	sendSeq   int                         // numbers the sends, so a late answer is told apart
	sentText  string                      // the text being sent, recognised when it comes back
	rendered  map[*radio.Message][]string // message blocks on screen
	spare     map[*radio.Message][]string // the previous frame's, emptied: the next frame fills it
	renderedW int
	// allow, when set, is the user's filters: what it refuses is counted
	// in its conversation, not shown.
	allow      func(*radio.Message) bool
	hiddenSeen map[[2]uint32]struct{} // hidden messages (from, id), counted once
}

func (c *chatTab) init() {
	c.input = newInput("> ", 400)
	c.to = newNodePrompt("DM to: ")
	c.to.input.Placeholder = "a node's name, the start of one, or !id"
	c.reset()
}

func (c *chatTab) reset() {
	c.convs = map[convKey]*conv{}
	c.order = nil
	c.cur = convKey{}
	c.sel = -1
	c.composing, c.replyTo, c.sending, c.sentText = false, nil, false, ""
	c.input.Reset()
	c.input.Blur()
	c.rendered = nil
	c.hiddenSeen = nil
}

// load fills the conversations from the broker's history. Received
// messages are shared as they are; sent ones may still change delivery
// state under the broker's lock, so they are copied through Message.
func (c *chatTab) load(r Radio, my uint32) {
	for _, msg := range r.Messages(0) {
		if msg.Outgoing {
			cp, ok := r.Message(msg.ID)
			if !ok {
				continue
			}
			msg = &cp
		}
		c.add(msg, my, false)
	}
}

// convFor files a message under its conversation.
func convFor(msg *radio.Message, my uint32) convKey {
	if !msg.Direct() {
		return convKey{num: msg.Channel}
	}
	if msg.Outgoing || msg.From == my {
		return convKey{dm: true, num: msg.To}
	}
	return convKey{dm: true, num: msg.From}
}

// add files a message and reports whether it is new and unread.
func (c *chatTab) add(msg *radio.Message, my uint32, counts bool) (unread bool) {
	k := convFor(msg, my)
	cv := c.get(k)
	if c.allow != nil && !c.allow(msg) {
		// A message can arrive both in the history and as an event.
		id := [2]uint32{msg.From, msg.ID}
		if _, dup := c.hiddenSeen[id]; !dup {
			if c.hiddenSeen == nil || len(c.hiddenSeen) > 4*convLimit {
				c.hiddenSeen = map[[2]uint32]struct{}{} // only recent ones can come twice
			}
			c.hiddenSeen[id] = struct{}{}
			cv.hidden++
		}
		return false
	}
	// A sent message comes back with each delivery update; a received one
	// can arrive both in the history and as an event.
	for i := len(cv.msgs) - 1; i >= 0 && i >= len(cv.msgs)-64; i-- {
		if o := cv.msgs[i]; o.ID == msg.ID && o.From == msg.From && o.Outgoing == msg.Outgoing && sameSend(o.At, msg.At) {
			cv.msgs[i] = msg
			delete(c.rendered, o)
			return false
		}
	}
	cv.msgs = append(cv.msgs, msg)
	if len(cv.msgs) > convLimit {
		cv.msgs = slices.Delete(cv.msgs, 0, len(cv.msgs)-convLimit)
	}
	if msg.At.After(cv.last) {
		cv.last = msg.At
	}
	if counts && !msg.Outgoing && msg.From != my {
		cv.unread++
		return true
	}
	return false
}

// sameSend reports whether two sightings of one sender's packet id, at a
// and b, can be one message. Copies of a message carry the time it was
// sent or heard, so they match; packet ids repeat over longer spans (a
// radio counts them from a new start after a reboot, and a seeded
// simulated radio replays its own on every start), and an old message must
// not be replaced by a new one that reuses its id. The slack allows for a
// radio handing over again what it had queued.
func sameSend(a, b time.Time) bool {
	d := a.Sub(b)
	return d < sameSendSlack && d > -sameSendSlack
}

const sameSendSlack = 10 * time.Minute

func (c *chatTab) get(k convKey) *conv {
	cv := c.convs[k]
	if cv == nil {
		cv = &conv{key: k}
		c.convs[k] = cv
		c.order = nil // sort again
	}
	return cv
}

// sortConvs orders the list: the radio's channels by slot, then direct
// conversations, most recent first.
func (c *chatTab) sortConvs(v *radio.View) {
	for _, ch := range v.Radio.Channels {
		if ch.GetRole() != pb.Channel_DISABLED {
			c.get(convKey{num: uint32(ch.GetIndex())})
		}
	}
	if len(c.convs) == 0 {
		c.get(convKey{})
	}
	c.order = c.order[:0]
	for k := range c.convs {
		c.order = append(c.order, k)
	}
	slices.SortFunc(c.order, func(a, b convKey) int {
		switch {
		case a.dm != b.dm:
			if a.dm {
				return 1
			}
			return -1
		case !a.dm:
			return int(a.num) - int(b.num)
		}
		if d := c.convs[b].last.Compare(c.convs[a].last); d != 0 {
			return d
		}
		return int(int64(a.num) - int64(b.num))
	})
}

func (c *chatTab) unreadTotal() int {
	n := 0
	for _, cv := range c.convs {
		n += cv.unread
	}
	return n
}

func (c *chatTab) markRead() {
	if cv := c.convs[c.cur]; cv != nil {
		cv.unread = 0
	}
}

func (c *chatTab) move(n int) {
	cv := c.convs[c.cur]
	if cv == nil || len(cv.msgs) == 0 {
		return
	}
	if c.sel < 0 {
		if n >= 0 {
			return
		}
		c.sel = len(cv.msgs)
	}
	c.sel += n
	if c.sel >= len(cv.msgs) {
		c.sel = -1 // past the newest: follow new messages again
		return
	}
	c.sel = max(0, c.sel)
}

// switchConv moves to the conversation n places away in the list.
func (m *Model) switchConv(n int) {
	c := &m.chat
	if c.order == nil {
		c.sortConvs(m.view())
	}
	i := slices.Index(c.order, c.cur)
	i = max(0, min(i+n, len(c.order)-1))
	c.cur, c.sel, c.replyTo = c.order[i], -1, nil
	c.markRead()
	m.dirty |= dAll
}

// openConv shows conversation k.
func (m *Model) openConv(k convKey) {
	c := &m.chat
	c.get(k)
	c.cur, c.sel, c.replyTo = k, -1, nil
	c.markRead()
	m.show(&m.chat)
}

// startDM opens the direct conversation with num, ready to type.
func (m *Model) startDM(num uint32) tea.Cmd {
	m.openConv(convKey{dm: true, num: num})
	return m.startCompose()
}

func (m *Model) startCompose() tea.Cmd {
	if !m.allowed(backend.OpSend) {
		return nil
	}
	m.chat.composing = true
	m.dirty |= dBody | dStatus
	return m.chat.input.Focus()
}

func (m *Model) chatKey(msg tea.KeyPressMsg) tea.Cmd {
	k, c := m.keys, &m.chat
	m.dirty |= dBody
	switch {
	case key.Matches(msg, k.prevConv):
		m.switchConv(-1)
	case key.Matches(msg, k.nextConv):
		m.switchConv(1)
	case key.Matches(msg, k.up):
		c.move(-1)
	case key.Matches(msg, k.down):
		c.move(1)
	case key.Matches(msg, k.pgUp):
		c.move(-10)
	case key.Matches(msg, k.pgDown):
		c.move(10)
	case key.Matches(msg, k.end):
		c.sel = -1
	case key.Matches(msg, k.compose):
		return m.startCompose()
	case key.Matches(msg, k.newDM):
		if !m.allowed(backend.OpSend) {
			return nil
		}
		m.dirty |= dStatus
		return c.to.start("")
	case key.Matches(msg, k.reply):
		cv := c.convs[c.cur]
		if cv == nil || len(cv.msgs) == 0 {
			m.setFlash("no message to reply to", true)
			return nil
		}
		i := c.sel
		if i < 0 {
			i = len(cv.msgs) - 1 // the newest
		}
		if !m.allowed(backend.OpSend) {
			return nil
		}
		c.replyTo = cv.msgs[i]
		return m.startCompose()
	case key.Matches(msg, k.back):
		if c.sel >= 0 {
			c.sel = -1
		} else {
			m.clearNotice()
		}
	}
	return nil
}

// composeKey edits the message being written.
func (m *Model) composeKey(msg tea.KeyPressMsg) tea.Cmd {
	c := &m.chat
	m.dirty |= dBody
	switch msg.String() {
	case "esc":
		if c.replyTo != nil {
			c.replyTo = nil
			return nil
		}
		c.composing = false
		c.input.Blur()
		m.dirty |= dStatus
		return nil
	case "enter":
		return m.sendText()
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(msg)
	return cmd
}

// textLimit is how many bytes the current message may have: a direct
// message to a node with a public key is encrypted end to end, which
// costs 12 bytes, and a reply id 5 more.
func (m *Model) textLimit() int {
	c := &m.chat
	pki := false
	if c.cur.dm {
		if n, ok := m.view().Nodes[c.cur.num]; ok && len(n.PublicKey) > 0 {
			pki = true
		}
	}
	return meshtastic.MaxTextBytes(pki, c.replyTo != nil)
}

func (m *Model) sendText() tea.Cmd {
	c := &m.chat
	text := strings.TrimSpace(c.input.Value())
	switch {
	case text == "":
		return nil
	case len(text) > m.textLimit():
		m.setFlash(fmt.Sprintf("too long: %d bytes, at most %d fit in one packet", len(text), m.textLimit()), true)
		return nil
	case c.sending:
		m.setFlash("still sending the previous message", true)
		return nil
	case m.radio == nil:
		return nil
	}
	// The radio is asked for an ack, whose outcome the chat shows as the
	// broker reports it; the call returns once the radio took the text.
	req := backend.SendRequest{Radio: m.name, Text: text, WantAck: true}
	if c.cur.dm {
		req.To = meshtastic.NodeID(c.cur.num)
		if n, ok := m.view().Nodes[c.cur.num]; ok {
			req.Channel = n.Channel
		}
	} else {
		req.Channel = c.cur.num
	}
	if c.replyTo != nil {
		req.ReplyID = c.replyTo.ID
	}
	c.sendSeq++
	c.sending, c.sentText, c.replyTo = true, text, nil
	c.input.Reset()
	c.sel = -1
	m.dirty |= dBody | dStatus
	core, ctx, caller, seq := m.core, m.ctx, m.caller, c.sendSeq
	return func() tea.Msg {
		msg, err := core.Send(ctx, caller, req)
		return sentMsg{seq: seq, text: text, msg: msg, err: err}
	}
}

// sentSeen notes that the text being sent reached the radio: it came back
// from the broker as the user's outgoing message.
func (c *chatTab) sentSeen(msg *radio.Message, who string) bool {
	if c.sending && msg.Outgoing && msg.SentBy == who && msg.Text == c.sentText {
		c.sending = false
		return true
	}
	return false
}

// onSent takes the core's answer. A text the radio took shows in the
// conversation with its delivery state, failed or not; a text that never
// got that far goes back into the input with the core's reason.
func (m *Model) onSent(msg sentMsg) tea.Cmd {
	if msg.seq == m.chat.sendSeq {
		m.chat.sending = false
	}
	m.dirty |= dBody
	if msg.err != nil && msg.msg.ID == 0 {
		if m.chat.input.Value() == "" {
			m.chat.input.SetValue(msg.text)
			m.chat.input.CursorEnd()
		}
		m.setFlash("not sent: "+msg.err.Error(), true)
	}
	return nil
}

// The Chat tab as a pane.

func (c *chatTab) name() string { return "Chat" }

func (c *chatTab) help(k *keys) []paneKey {
	return append(keysOf(k.prevConv, k.nextConv, k.up, k.down, k.end),
		paneKey{k.compose, backend.OpSend}, paneKey{k.reply, backend.OpSend}, paneKey{k.newDM, backend.OpSend},
		paneKey{k.send, backend.OpSend})
}

// dmTo refuses what a direct message cannot go to.
func (m *Model) dmTo(num uint32) error {
	switch v := m.view(); {
	case num == meshtastic.Broadcast:
		return errors.New("a direct message goes to one node (the channels are for everyone)")
	case v != nil && num == v.MyNodeNum:
		return errors.New("that is this radio's own node")
	}
	return nil
}

func (c *chatTab) hints(m *Model) string {
	if c.to.open {
		return "enter open the conversation · esc cancel"
	}
	if c.composing {
		return "enter send · esc stop writing"
	}
	return "←→ conversation · ↑↓ message · i write · r reply · n new DM · ? help"
}

func (c *chatTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if c.to.open {
		return m.promptKey(&c.to, msg, m.dmTo, m.startDM)
	}
	if c.composing {
		return m.composeKey(msg)
	}
	return m.chatKey(msg)
}

func (c *chatTab) view(m *Model, w, h int) []string { return m.chatView(w, h) }

func (c *chatTab) typing() bool { return c.composing || c.to.open }

func (c *chatTab) textField() *textinput.Model {
	if c.to.open {
		return &c.to.input
	}
	return &c.input
}
func (c *chatTab) edited(*Model) {}

func (c *chatTab) scroll(_ *Model, n int) tea.Cmd {
	c.move(n)
	return nil
}

func (c *chatTab) shown(*Model) tea.Cmd {
	c.markRead()
	return nil
}

func (c *chatTab) badge(*Model) string {
	if n := c.unreadTotal(); n > 0 {
		return fmt.Sprintf(" (%d)", n)
	}
	return ""
}
