package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
)

func (m *Model) chatView(w, h int) []string {
	c, st := &m.chat, m.st
	v := m.view()
	c.sortConvs(v) // a handful of conversations; recent ones move up
	listW := 0
	if w >= 70 {
		listW = min(24, w/4)
	}
	mainW := w - listW
	if listW > 0 {
		mainW--
	}
	if mainW != c.renderedW {
		c.rendered, c.renderedW = nil, mainW
	}
	body := m.convView(v, mainW, h)
	if listW == 0 {
		return body
	}
	var list []string
	for _, k := range c.order {
		cv := c.convs[k]
		name := "# " + channelName(v, k.num)
		if k.dm {
			name = "@ " + longName(v, k.num)
		}
		count := ""
		if cv.unread > 0 {
			count = fmt.Sprintf(" %d", cv.unread)
		}
		line := fit(" "+name, listW-width(count)) + st.warn.Render(count)
		if k == c.cur {
			line = st.sel.Render(fit(">"+name+count, listW))
		}
		list = append(list, line)
	}
	return sideBySide(list, listW, st.dim.Render("│"), body, h)
}

// convView is the current conversation: a title, the messages newest at
// the bottom, and the compose line.
func (m *Model) convView(v *radio.View, w, h int) []string {
	c, st := &m.chat, m.st
	k := c.cur
	// What the user's filters hide comes first: it must not be cut off.
	hidden := ""
	if cv := c.convs[k]; cv != nil && cv.hidden > 0 {
		hidden = st.warn.Render(hiddenNote(cv.hidden))
	}
	title := "# " + channelName(v, k.num) + hidden + st.dim.Render(fmt.Sprintf(" · channel %d, everyone on it", k.num))
	if k.dm {
		title = "@ " + longName(v, k.num) + hidden + st.dim.Render(" · "+meshtastic.NodeID(k.num)+" · direct")
		if n, ok := v.Nodes[k.num]; ok && len(n.PublicKey) > 0 {
			title += st.dim.Render(", end-to-end encrypted")
		}
	}
	foot := m.composeLines(w)
	avail := h - 1 - len(foot)
	var msgs []*radio.Message
	if cv := c.convs[k]; cv != nil {
		msgs = cv.msgs
	}
	last := len(msgs) - 1
	if c.sel >= 0 && c.sel < len(msgs) {
		last = c.sel
	}
	// Walk back from the newest message shown until the pane is full,
	// reusing each message's rendered lines. Two maps take turns, so a
	// frame allocates no map of its own.
	seen := c.spare
	if seen == nil {
		seen = make(map[*radio.Message][]string, len(c.rendered))
	}
	blocks := make([][]string, 0, max(avail, 0))
	n := 0
	for i := last; i >= 0 && n < avail; i-- {
		ls := c.rendered[msgs[i]]
		if ls == nil {
			ls = m.messageLines(v, msgs, i, w)
		}
		seen[msgs[i]] = ls
		if i == c.sel {
			sel := make([]string, len(ls))
			for j, l := range ls {
				mark := " "
				if j == 0 {
					mark = ">"
				}
				sel[j] = st.sel.Render(fit(mark+ansi.Strip(l)[1:], w))
			}
			ls = sel
		}
		blocks = append(blocks, ls)
		n += len(ls)
	}
	clear(c.rendered)
	c.spare, c.rendered = c.rendered, seen
	block := make([]string, 0, n)
	for i := len(blocks) - 1; i >= 0; i-- {
		block = append(block, blocks[i]...)
	}
	if len(block) > avail {
		block = block[len(block)-avail:]
	}
	if len(msgs) == 0 {
		block = []string{"", st.dim.Render("  no messages yet")}
	}
	out := []string{cut(" "+st.bold.Render(title), w)}
	out = append(out, padLines(padTop(block, avail), avail)...)
	return append(out, foot...)
}

// padTop pushes short conversations to the bottom, next to the input.
func padTop(ls []string, h int) []string {
	if len(ls) >= h {
		return ls
	}
	return append(make([]string, h-len(ls)), ls...)
}

// messageLines renders message i of msgs, wrapped to w.
func (m *Model) messageLines(v *radio.View, msgs []*radio.Message, i, w int) []string {
	st := m.st
	msg := msgs[i]
	// The name column: the short name and as much of the long name as
	// fits; our own messages in the accent colour.
	nw := min(20, max(8, w/6))
	name, paint := senderName(v, msg.From), st.bold
	var label string // who sent one of ours, when it needs more room
	if msg.Outgoing {
		name, paint = "me", st.title
		if by := clean(msg.SentBy); by != "" && msg.SentBy != m.id.Name {
			name = by
			if strings.Contains(by, " ") || width(by) > nw {
				// A responder or beacon ("responder rule 3 (alice)"):
				// labelled in full above, our node in the column.
				name, label = senderName(v, msg.From), "⚙ "+by
			}
		}
	}
	ts, nm := " "+clock(msg.At, m.now(), m.loc)+" ", fit(name, nw)
	pw := width(ts) + width(nm) + 1
	var out []string
	if label != "" {
		out = append(out, st.dim.Render(cut(strings.Repeat(" ", pw)+label, w)))
	}
	if msg.ReplyID != 0 {
		re := "an earlier message"
		for j := i - 1; j >= 0 && j >= i-200; j-- {
			if msgs[j].ID == msg.ReplyID {
				re = shortName(v, msgs[j].From) + ": " + clean(msgs[j].Text)
				if msgs[j].Outgoing {
					re = "me: " + clean(msgs[j].Text)
				}
				break
			}
		}
		out = append(out, st.dim.Render(cut(strings.Repeat(" ", pw)+"↳ re "+re, w)))
	}
	text := wrap(clean(msg.Text), max(10, w-pw))
	for j, l := range text {
		p := strings.Repeat(" ", pw)
		if j == 0 {
			p = st.dim.Render(ts) + paint.Render(nm) + " "
		}
		out = append(out, cut(p+l, w))
	}
	meta := m.messageMeta(v, msg)
	lastLine := out[len(out)-1]
	if width(lastLine)+2+width(meta) <= w {
		out[len(out)-1] = lastLine + "  " + meta
	} else {
		out = append(out, cut(strings.Repeat(" ", pw)+meta, w))
	}
	return out
}

// senderName is a node's short name and long name, or its id before its
// node info came.
func senderName(v *radio.View, num uint32) string {
	if v != nil {
		if n, ok := v.Nodes[num]; ok && (n.ShortName != "" || n.LongName != "") {
			if n.ShortName == "" || n.LongName == "" {
				return clean(n.Name())
			}
			return clean(n.ShortName) + " " + clean(n.LongName)
		}
	}
	return meshtastic.NodeID(num)
}

// messageMeta says how a message travelled, or how delivery of ours went.
func (m *Model) messageMeta(v *radio.View, msg *radio.Message) string {
	st := m.st
	if msg.Outgoing {
		switch msg.Delivery {
		case radio.Pending:
			return st.warn.Render("… waiting for ack")
		case radio.Acked:
			by := msg.AckFrom
			if by == "relay" {
				return st.ok.Render("✓ relayed")
			}
			if num, err := meshtastic.ParseNodeID(by); err == nil {
				by = shortName(v, num)
			}
			return st.ok.Render("✓ acked by " + by)
		case radio.Failed:
			return st.bad.Render("✗ failed: " + clean(msg.Error))
		}
		return st.dim.Render("→ sent")
	}
	var parts []string
	if msg.ViaMQTT {
		parts = append(parts, "MQTT")
	} else {
		parts = append(parts, "RF")
	}
	if msg.Hops != nil {
		parts = append(parts, format.Count(int(*msg.Hops), "hop"))
	}
	if !msg.ViaMQTT && msg.SNR != 0 {
		parts = append(parts, fmt.Sprintf("%.1f dB", msg.SNR))
	}
	return st.dim.Render("[" + strings.Join(parts, " · ") + "]")
}

// composeLines is the input line with its byte counter, and the message
// being answered. Viewers see why they cannot write.
func (m *Model) composeLines(w int) []string {
	c, st := &m.chat, m.st
	if d := backend.Denial(m.id, backend.OpSend); d != "" {
		return []string{st.dim.Render(cut(" "+d, w))}
	}
	var out []string
	if c.replyTo != nil {
		out = append(out, st.dim.Render(cut(" ↳ replying to "+shortName(m.view(), c.replyTo.From)+": "+clean(c.replyTo.Text)+" (esc: no reply)", w)))
	}
	n, limit := len(c.input.Value()), m.textLimit()
	counter := fmt.Sprintf("%d/%d B", n, limit)
	switch {
	case n > limit:
		counter = st.bad.Render(counter + " too long")
	case n > limit-20:
		counter = st.warn.Render(counter)
	default:
		counter = st.dim.Render(counter)
	}
	if c.sending {
		counter = st.warn.Render("sending… ") + counter
	}
	line := st.dim.Render(" press i to write a message")
	switch {
	case c.to.open:
		c.to.input.SetWidth(max(10, w-12))
		return append(out, cut(" "+c.to.input.View(), w))
	case c.composing:
		c.input.SetWidth(max(10, w-width(counter)-6))
		line = " " + c.input.View()
	}
	return append(out, spread(line, counter+" ", w))
}
