package tui

import (
	"context"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// form is a small editor of labelled fields, each a line of text or a
// switch between choices, saved as a whole. It does not validate: submit
// turns the fields into a request for the core, which checks, fills in
// defaults and saves; what the core refuses shows under the form, which
// stays open with the user's input.
//
// bubbles/huh would draw a form too, but its fields validate one by one as
// they are left, where ours take the core's answer for the whole form, and
// its text fields blink: a timer that redraws an idle screen. This engine
// is the two things we need, field editing and a save that can fail.
type form struct {
	title   string
	kind    formKind // what the form edits, for its owner
	id      int64    // which one; 0: a new one
	fields  []formField
	field   int // the selected field
	input   textinput.Model
	inputOn bool   // a text field has the keyboard
	saving  bool   // the core has it
	done    bool   // saved or left
	err     string // why the last save was refused

	// submit reads the fields into the call that saves them; an error
	// (a field the UI cannot even read, as "5 minutes") shows in the form.
	submit func(f *form) (save func(ctx context.Context) (ok string, err error), err error)
	// closed runs once the core saved the form, or the user left it.
	closed func()
}

// formField is a text field, or a switch when it has choices.
type formField struct {
	label   string
	value   string
	choices []string
	hint    string
	unset   string // shown, dim, while the value is empty
}

// val is the value of the field labelled label.
func (f *form) val(label string) string {
	for _, fl := range f.fields {
		if fl.label == label {
			return fl.value
		}
	}
	return ""
}

// step moves a switch to its next choice.
func (fl *formField) step() {
	i := slices.Index(fl.choices, fl.value)
	fl.value = fl.choices[(i+1)%len(fl.choices)]
}

func (f *form) move(n int) {
	f.field = max(0, min(f.field+n, len(f.fields)-1))
}

// key handles a key while the form is open.
func (m *Model) formKey(f *form, msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	m.dirty |= dBody
	if f.inputOn {
		return m.formFieldKey(f, msg)
	}
	switch {
	case key.Matches(msg, k.up):
		f.move(-1)
	case key.Matches(msg, k.down):
		f.move(1)
	case key.Matches(msg, k.field):
		fl := &f.fields[f.field]
		if fl.choices != nil {
			fl.step()
			return nil
		}
		f.input = newInput(fl.label+": ", 400)
		f.input.SetValue(fl.value)
		f.input.CursorEnd()
		f.inputOn = true
		m.dirty |= dStatus
		return f.input.Focus()
	case key.Matches(msg, k.save):
		return m.saveForm(f)
	case key.Matches(msg, k.back):
		f.close()
		m.dirty |= dStatus
	}
	return nil
}

// close leaves the form.
func (f *form) close() {
	if !f.done {
		f.done = true
		f.closed()
	}
}

// formFieldKey edits one text field of the form.
func (m *Model) formFieldKey(f *form, msg tea.KeyPressMsg) tea.Cmd {
	m.dirty |= dBody | dStatus
	switch msg.String() {
	case "esc":
		f.inputOn = false
		return nil
	case "enter", "ctrl+s":
		f.fields[f.field].value = strings.TrimSpace(f.input.Value())
		f.inputOn = false
		if msg.String() == "ctrl+s" {
			return m.saveForm(f)
		}
		return nil
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	return cmd
}

// formSavedMsg is the core's answer to a saved form.
type formSavedMsg struct {
	form *form
	ok   string
	err  error
}

// saveForm hands the form to the core, off the program's goroutine.
func (m *Model) saveForm(f *form) tea.Cmd {
	m.dirty |= dBody | dStatus
	if f.saving {
		return nil
	}
	save, err := f.submit(f)
	if err != nil {
		f.err = err.Error()
		return nil
	}
	f.saving = true
	ctx := m.ctx
	return func() tea.Msg {
		ok, err := save(ctx)
		return formSavedMsg{form: f, ok: ok, err: err}
	}
}

// onFormSaved shows the core's answer: in the form while it is open, on
// the status line once the user has left it.
func (m *Model) onFormSaved(msg formSavedMsg) {
	f := msg.form
	f.saving = false
	m.dirty |= dBody | dStatus
	if msg.err != nil {
		if f.done {
			m.setFlash(msg.err.Error(), true)
		} else {
			f.err = msg.err.Error()
		}
		return
	}
	f.close()
	m.setFlash(msg.ok, false)
}

// formView draws the form: its fields, the selected one's hint, and the
// core's last refusal.
func (m *Model) formView(f *form, w int) []string {
	st := m.st
	out := []string{" " + st.title.Render(clean(f.title)) + st.warn.Render(" (ctrl+s saves, esc cancels)")}
	for i, fl := range f.fields {
		val := clean(fl.value)
		if val == "" && fl.unset != "" {
			val = st.dim.Render(fl.unset)
		}
		if fl.choices != nil {
			val += st.dim.Render("  ◂▸")
		}
		if i == f.field {
			if f.inputOn {
				out = append(out, " > "+f.input.View())
				continue
			}
			out = append(out, st.sel.Render(fit(" > "+fit(fl.label, 16)+" "+ansi.Strip(val), w)))
			continue
		}
		out = append(out, "   "+st.dim.Render(fit(fl.label, 16))+" "+val)
	}
	if hint := f.fields[f.field].hint; hint != "" {
		out = append(out, "")
		for _, l := range wrap(hint, max(10, w-4)) {
			out = append(out, "   "+st.dim.Render(l))
		}
	}
	if f.err != "" {
		out = append(out, "")
		for _, l := range wrap("✗ "+clean(f.err), max(10, w-4)) {
			out = append(out, "   "+st.bad.Render(l))
		}
	}
	return out
}
