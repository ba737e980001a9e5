package tui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/radio"
)

// View returns the screen. It renders only the parts marked dirty and
// otherwise hands back the previous frame unchanged: Bubble Tea calls View
// after every message, and the renderer writes nothing for a frame whose
// content is the very same string.
func (m *Model) View() tea.View {
	if m.storeStale() {
		m.dirty |= dBody // the rules or filters changed: load them again
	}
	if m.dirty != 0 || m.out.Content == "" {
		m.render()
	}
	return m.out
}

func (m *Model) render() {
	m.renders++
	m.frameView = m.view()
	defer func() { m.frameView = nil }()
	m.syncStore()
	w, h := m.w, m.h
	title := "meshgate"
	if m.radio != nil {
		title += " · " + m.name
	}
	if w < minWidth || h < minHeight {
		msg := fmt.Sprintf("meshgate needs a window of at least %d×%d (this one is %d×%d)", minWidth, minHeight, w, h)
		m.out = m.frame(lines(wrap(msg, max(w, 1)), max(h, 1)), title)
		m.dirty = 0
		return
	}
	if m.dirty&dHeader != 0 {
		m.parts.header = m.renderHeader(w)
	}
	if m.dirty&dTabs != 0 {
		m.parts.tabs = m.renderTabs(w)
	}
	bodyH := h - 3
	if m.dirty&dBody != 0 {
		// The lines go straight into the frame below: joining them into a
		// string of their own first copied a screenful per frame in every
		// session. The copy of the slice keeps a pane's cache out of reach.
		body := m.renderBody(w, bodyH)
		m.parts.body = slices.Clone(body[:min(len(body), bodyH)])
	}
	// The key hints follow the view's state (an inspector open, a prompt
	// up), so a new body may mean new hints: one line, redrawn with it.
	if m.dirty&(dStatus|dBody) != 0 {
		m.parts.status = m.renderStatus(w)
	}
	size := len(m.parts.header) + len(m.parts.tabs) + len(m.parts.status) + bodyH + 2
	for _, l := range m.parts.body {
		size += len(l)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(m.parts.header)
	b.WriteByte('\n')
	b.WriteString(m.parts.tabs)
	for i := range bodyH {
		b.WriteByte('\n')
		if i < len(m.parts.body) {
			b.WriteString(m.parts.body[i])
		}
	}
	b.WriteByte('\n')
	b.WriteString(m.parts.status)
	m.out = m.frame(b.String(), title)
	m.dirty = 0
}

func (m *Model) frame(content, title string) tea.View {
	v := tea.NewView(content)
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = title
	return v
}

// renderHeader is the top bar: radio and link state, our node, who we
// are, how many others use the radio, unread messages, lost events. When
// it does not fit, the least important parts go first.
func (m *Model) renderHeader(w int) string {
	st := m.st
	type seg struct {
		text  string
		rank  int // lower stays longer
		width int
	}
	var segs []seg
	add := func(text string, rank int) { segs = append(segs, seg{text, rank, width(text)}) }
	add(st.bar.Render(" meshgate "), 7)
	if m.screen == screenLobby || m.radio == nil {
		add(st.bar.Render(" lobby "), 1)
	} else {
		s := m.radio.Status()
		state := st.barOK
		switch s.State {
		case radio.Connected:
		case radio.Connecting, radio.Backoff, radio.Idle:
			state = st.barWarn
		default: // contended, stopped: nobody here gets the radio until that changes
			state = st.barBad
		}
		add(st.bar.Render(" "+m.name+" ")+state.Render("● "+s.State.String()+" "), 1)
		if self, ok := m.view().Self(); ok {
			add(st.bar.Render(" me: "+cut(clean(self.ShortName)+" "+self.ID(), 24)+" "), 6)
		}
	}
	add(st.bar.Render(" "+clean(m.id.Name)+" ("+m.id.Role.String()+") "), 4)
	if m.radio != nil {
		if n := m.radio.Status().Subscribers - 1; n > 0 {
			others := "+" + format.Count(n, "other")
			if a := m.radio.VirtualClients(); a > 0 {
				others += " (" + format.Count(a, "app") + ")"
			}
			add(st.bar.Render(" "+others+" "), 5)
		}
		if n := m.chat.unreadTotal(); n > 0 {
			add(st.barWarn.Render(fmt.Sprintf(" ✉ %d unread ", n)), 2)
		}
	}
	if d := m.rec.Drops(); d > 0 {
		add(st.barWarn.Render(fmt.Sprintf(" ⚠ %d lost ", d)), 3)
	}
	total := func() int {
		n := len(segs) - 1 // separators
		for _, sg := range segs {
			n += sg.width
		}
		return n
	}
	for total() > w && len(segs) > 1 {
		worst := 0
		for i, sg := range segs {
			if sg.rank > segs[worst].rank {
				worst = i
			}
		}
		segs = append(segs[:worst], segs[worst+1:]...)
	}
	sep := st.barDim.Render("│")
	var b strings.Builder
	for i, sg := range segs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(sg.text)
	}
	line := b.String()
	if n := total(); n < w {
		line += st.bar.Render(strings.Repeat(" ", w-n))
	} else if n > w {
		line = cut(line, w)
	}
	return line
}

// renderTabs is the tab bar, or the lobby's title.
func (m *Model) renderTabs(w int) string {
	st := m.st
	if m.screen == screenLobby {
		return spread(st.title.Render(" Choose a radio"), st.dim.Render("? help · q quit "), w)
	}
	// Each tab is " 2 Chat " with a space between; when that does not fit,
	// the spaces between go first, so every tab keeps its number and name.
	var b strings.Builder
	x := 0
	for _, gap := range []string{" ", ""} {
		b.Reset()
		m.tabX = m.tabX[:0]
		x = 0
		for t, p := range m.panes {
			label := fmt.Sprintf("%d %s", t+1, p.name())
			badge := ""
			if bp, ok := p.(badger); ok && bp.badge(m) != "" {
				badge = st.warn.Render(bp.badge(m))
			}
			open, end, style := " ", " ", st.tab
			if tab(t) == m.tab {
				open, end, style = "[", "]", st.tabActive
			}
			cell := style.Render(open + label + end)
			if badge != "" {
				cell = style.Render(open+label) + badge + style.Render(end)
			}
			b.WriteString(cell)
			x += width(cell)
			m.tabX = append(m.tabX, x)
			b.WriteString(gap)
			x += len(gap)
		}
		if x <= w {
			break
		}
	}
	hint := st.dim.Render("L lobby · ? help ")
	if x+width(hint) > w {
		hint = ""
	}
	return spread(b.String(), hint, w)
}

// renderStatus is the bottom line: the last flash or announcement or the
// view's key hints, and on the right the idle countdown.
func (m *Model) renderStatus(w int) string {
	st := m.st
	style := st.barDim
	var left string
	switch {
	case m.flash.text != "":
		left, style = m.flash.text, st.bar
		if m.flash.bad {
			style = st.barWarn
		}
	case m.notice.text != "":
		left, style = "["+clock(m.notice.at, m.now(), m.loc)+"] "+m.notice.text, st.barWarn
	}
	var rightText string
	if m.idle.warn {
		rightText = "idle: closing in " + short(m.idle.left) + " "
	}
	if left == "" {
		left = fitHints(m.hints(), w-width(rightText)-1)
	}
	l := style.Render(fit(" "+clean(left), w-width(rightText)))
	if rightText == "" {
		return l
	}
	return l + st.barWarn.Render(rightText)
}

// fitHints shortens "a · b · c · ? help" to w columns by leaving out the
// keys before the last one, latest first: "? help" lists them all, so
// it is the one that must stay.
func fitHints(s string, w int) string {
	items := strings.Split(s, " · ")
	for len(items) > 2 && width(strings.Join(items, " · ")) > w {
		items = slices.Delete(items, len(items)-2, len(items)-1)
	}
	return strings.Join(items, " · ")
}

// hints are the few keys worth showing on the status line.
func (m *Model) hints() string {
	if m.dialog != nil {
		return "enter confirm · esc cancel"
	}
	if m.help {
		return "↑↓ scroll · esc or ? close"
	}
	if m.screen == screenLobby {
		return "↑↓ choose · enter use radio · r refresh · q quit"
	}
	return m.pane().hints(m)
}

// renderBody fills the space between the tab bar and the status line.
func (m *Model) renderBody(w, h int) []string {
	switch {
	case m.dialog != nil:
		return m.dialogView(w, h)
	case m.help:
		return m.helpView(w, h)
	}
	return m.baseView(w, h)
}

// baseView is the lobby or the current tab, without dialogs.
func (m *Model) baseView(w, h int) []string {
	if m.screen == screenLobby {
		return m.lobbyView(w, h)
	}
	return m.pane().view(m, w, h)
}

// overlay draws box centred over the h lines of base (lipgloss layers):
// a dialog or the help keeps the view it is about in sight around it.
func overlay(base []string, box string, w, h int) []string {
	bg := lipgloss.NewLayer(lines(base, h))
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	fg := lipgloss.NewLayer(box).X(max(0, (w-bw)/2)).Y(max(0, (h-bh)/2)).Z(1)
	c := lipgloss.NewCanvas(w, h)
	c.Compose(lipgloss.NewCompositor(bg, fg))
	return strings.Split(c.Render(), "\n")
}

// scrollWindow returns the first line to show so that line cur is visible
// in h lines, starting from top.
func scrollWindow(top, cur, h, n int) int {
	if h <= 0 {
		return 0
	}
	if cur < top {
		top = cur
	}
	if cur >= top+h {
		top = cur - h + 1
	}
	return max(0, min(top, n-h))
}

// scrolled shows h of a view's lines from *top, which it keeps in range.
// When lines are cut off, the first or last line says so, and how to
// scroll there.
func (m *Model) scrolled(out []string, top *int, h int) []string {
	if len(out) <= h || h < 3 {
		*top = 0
		return out
	}
	*top = max(0, min(*top, len(out)-h))
	view := slices.Clone(out[*top : *top+h])
	if *top > 0 {
		view[0] = m.st.dim.Render(fmt.Sprintf("   ↑ %d more: k or pgup", *top))
	}
	if rest := len(out) - *top - h; rest > 0 {
		view[h-1] = m.st.dim.Render(fmt.Sprintf("   ↓ %d more: j or pgdn", rest+1))
	}
	return view
}
