package tui

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// dialog is a question over the screen: yes or no, or, for destructive
// actions, a word the user must type.
type dialog struct {
	title string
	body  []string
	typed string // what must be typed to confirm; "" for yes/no
	input textinput.Model
	err   string
	yes   func() tea.Cmd
}

// confirm asks a yes/no question.
func (m *Model) confirm(title string, body []string, yes func() tea.Cmd) {
	m.dialog = &dialog{title: title, body: body, yes: yes}
	m.dirty |= dBody | dStatus
}

// confirmTyped asks the user to type want before yes runs.
func (m *Model) confirmTyped(title string, body []string, want string, yes func() tea.Cmd) tea.Cmd {
	d := &dialog{title: title, body: body, typed: want, yes: yes, input: newInput("> ", 40)}
	m.dialog = d
	m.dirty |= dBody | dStatus
	return d.input.Focus()
}

func (m *Model) dialogKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.dialog
	m.dirty |= dBody | dStatus
	s := msg.String()
	if s == "esc" || s == "ctrl+c" || (d.typed == "" && (s == "n" || s == "q")) {
		m.dialog = nil
		return nil
	}
	if d.typed == "" {
		if s == "y" || s == "enter" {
			m.dialog = nil
			return d.yes()
		}
		return nil
	}
	if s == "enter" {
		if !strings.EqualFold(strings.TrimSpace(d.input.Value()), d.typed) {
			d.err = "that is not " + d.typed + "; nothing was done"
			return nil
		}
		m.dialog = nil
		return d.yes()
	}
	d.err = ""
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(msg)
	return cmd
}

func (m *Model) dialogView(w, h int) []string {
	d, st := m.dialog, m.st
	inner := min(w-6, 64)
	var b []string
	b = append(b, st.title.Render(d.title), "")
	for _, l := range d.body {
		for _, wl := range wrap(l, inner) {
			b = append(b, wl)
		}
	}
	b = append(b, "")
	if d.typed != "" {
		b = append(b, "Type "+st.bold.Render(d.typed)+" to confirm:")
		d.input.SetWidth(inner - 4)
		b = append(b, d.input.View())
		if d.err != "" {
			b = append(b, st.bad.Render(d.err))
		}
		b = append(b, "", st.dim.Render("enter confirm · esc cancel"))
	} else {
		b = append(b, st.key.Render("y")+" yes · "+st.key.Render("n")+" no")
	}
	for i := range b {
		b[i] = fit(b[i], inner)
	}
	return overlay(m.baseView(w, h), st.box.Render(strings.Join(b, "\n")), w, h)
}
