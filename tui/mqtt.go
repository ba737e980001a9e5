package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// mqttTab shows how much traffic arrives through MQTT next to the
// radio's MQTT settings, which admins may edit.
type mqttTab struct {
	top     int
	edit    *pb.ModuleConfig_MQTTConfig // the settings being edited; nil when not editing
	field   int
	input   textinput.Model
	inputOn bool
}

func (t *mqttTab) editing() bool { return t.inputOn }

func (t *mqttTab) move(n int) {
	if t.edit != nil {
		t.field = max(0, min(t.field+n, len(mqttFields())-1))
		return
	}
	t.top = max(0, t.top+n)
}

// mqttField is one editable setting.
type mqttField struct {
	label  string
	get    func(*pb.ModuleConfig_MQTTConfig) string
	set    func(*pb.ModuleConfig_MQTTConfig, string) // text fields
	flip   func(*pb.ModuleConfig_MQTTConfig)         // switches
	secret bool
}

func mqttFields() []mqttField {
	text := func(label string, get func(*pb.ModuleConfig_MQTTConfig) string, set func(*pb.ModuleConfig_MQTTConfig, string), secret bool) mqttField {
		return mqttField{label: label, get: get, set: set, secret: secret}
	}
	flag := func(label string, get func(*pb.ModuleConfig_MQTTConfig) bool, set func(*pb.ModuleConfig_MQTTConfig, bool)) mqttField {
		return mqttField{label: label,
			get:  func(c *pb.ModuleConfig_MQTTConfig) string { return yesNo(get(c)) },
			flip: func(c *pb.ModuleConfig_MQTTConfig) { set(c, !get(c)) }}
	}
	return []mqttField{
		flag("enabled", (*pb.ModuleConfig_MQTTConfig).GetEnabled, func(c *pb.ModuleConfig_MQTTConfig, v bool) { c.Enabled = v }),
		text("address", (*pb.ModuleConfig_MQTTConfig).GetAddress, func(c *pb.ModuleConfig_MQTTConfig, v string) { c.Address = v }, false),
		text("username", (*pb.ModuleConfig_MQTTConfig).GetUsername, func(c *pb.ModuleConfig_MQTTConfig, v string) { c.Username = v }, false),
		text("password", (*pb.ModuleConfig_MQTTConfig).GetPassword, func(c *pb.ModuleConfig_MQTTConfig, v string) { c.Password = v }, true),
		text("root topic", (*pb.ModuleConfig_MQTTConfig).GetRoot, func(c *pb.ModuleConfig_MQTTConfig, v string) { c.Root = v }, false),
		flag("encryption", (*pb.ModuleConfig_MQTTConfig).GetEncryptionEnabled, func(c *pb.ModuleConfig_MQTTConfig, v bool) { c.EncryptionEnabled = v }),
		flag("json", (*pb.ModuleConfig_MQTTConfig).GetJsonEnabled, func(c *pb.ModuleConfig_MQTTConfig, v bool) { c.JsonEnabled = v }),
		flag("tls", (*pb.ModuleConfig_MQTTConfig).GetTlsEnabled, func(c *pb.ModuleConfig_MQTTConfig, v bool) { c.TlsEnabled = v }),
		flag("proxy to client", (*pb.ModuleConfig_MQTTConfig).GetProxyToClientEnabled, func(c *pb.ModuleConfig_MQTTConfig, v bool) { c.ProxyToClientEnabled = v }),
		flag("map reporting", (*pb.ModuleConfig_MQTTConfig).GetMapReportingEnabled, func(c *pb.ModuleConfig_MQTTConfig, v bool) { c.MapReportingEnabled = v }),
	}
}

func (m *Model) mqttKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.mqtt
	m.dirty |= dBody
	if t.edit == nil {
		switch {
		case key.Matches(msg, k.up):
			t.move(-1)
		case key.Matches(msg, k.down):
			t.move(1)
		case key.Matches(msg, k.edit):
			if !m.allowed(backend.OpMQTTSet) {
				return nil
			}
			cur := m.view().Radio.MQTT()
			if cur == nil {
				cur = &pb.ModuleConfig_MQTTConfig{}
			}
			t.edit, t.field = proto.Clone(cur).(*pb.ModuleConfig_MQTTConfig), 0
			m.dirty |= dStatus
		case key.Matches(msg, k.back):
			m.clearNotice()
		}
		return nil
	}
	fs := mqttFields()
	switch {
	case key.Matches(msg, k.up):
		t.move(-1)
	case key.Matches(msg, k.down):
		t.move(1)
	case key.Matches(msg, k.toggle):
		f := fs[t.field]
		if f.flip != nil {
			f.flip(t.edit)
			return nil
		}
		t.input = newInput(f.label+": ", 128)
		if f.secret {
			t.input.EchoMode = textinput.EchoPassword
		} else {
			t.input.SetValue(f.get(t.edit))
			t.input.CursorEnd()
		}
		t.inputOn = true
		return t.input.Focus()
	case key.Matches(msg, k.apply):
		return m.askApplyMQTT()
	case key.Matches(msg, k.back):
		t.edit = nil
		m.dirty |= dStatus
	}
	return nil
}

// mqttFieldKey edits one text setting.
func (m *Model) mqttFieldKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.mqtt
	m.dirty |= dBody
	switch msg.String() {
	case "esc":
		t.inputOn = false
		return nil
	case "enter":
		mqttFields()[t.field].set(t.edit, strings.TrimSpace(t.input.Value()))
		t.inputOn = false
		return nil
	case "ctrl+s":
		mqttFields()[t.field].set(t.edit, strings.TrimSpace(t.input.Value()))
		t.inputOn = false
		return m.askApplyMQTT()
	}
	var cmd tea.Cmd
	t.input, cmd = t.input.Update(msg)
	return cmd
}

func (m *Model) askApplyMQTT() tea.Cmd {
	t := &m.mqtt
	if t.edit == nil {
		return nil
	}
	cfg := proto.Clone(t.edit).(*pb.ModuleConfig_MQTTConfig)
	changes := mqttChanges(m.view().Radio.MQTT(), cfg)
	if len(changes) == 0 {
		m.setFlash("no MQTT setting changed: nothing to apply", false)
		return nil
	}
	body := append([]string{"These change:"}, changes...)
	body = append(body, "",
		"The radio saves them in one edit transaction and reboots once.",
		"Everyone using "+m.name+" is told before it happens.")
	m.confirm("Apply the MQTT settings?", body, func() tea.Cmd {
		t.edit = nil
		m.dirty |= dStatus
		core := m.core
		return m.adminOp("change the MQTT settings of", func(ctx context.Context, c backend.Caller, radio string) (string, error) {
			res, err := core.SetMQTT(ctx, c, radio, cfg)
			if err == nil && len(res.Changes) == 0 {
				return "no MQTT setting changed: nothing was sent", nil
			}
			return "", err
		})
	})
	return nil
}

// mqttChanges lists the settings that differ between cur and next, one
// line each: "address: a → b". Secrets only say that they change.
func mqttChanges(cur, next *pb.ModuleConfig_MQTTConfig) []string {
	var out []string
	for _, f := range mqttFields() {
		was, is := "", f.get(next)
		if cur != nil {
			was = f.get(cur)
		}
		switch {
		case was == is:
		case f.secret:
			out = append(out, "  "+f.label+": changed")
		default:
			out = append(out, "  "+f.label+": "+clean(orNone(was))+" → "+clean(orNone(is)))
		}
	}
	return out
}

// orNone shows an empty setting.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (m *Model) mqttView(w, h int) []string {
	st := m.st
	health := m.mqttHealthLines()
	cfg := m.mqttConfigLines()
	var out []string
	if w >= 100 {
		lw := w / 2
		out = sideBySide(health, lw, st.dim.Render("│"), cfg, h)
	} else {
		out = append(append(health, ""), cfg...)
		if m.mqtt.edit != nil { // keep the field being edited in view
			m.mqtt.top = max(0, len(health)+3+m.mqtt.field-h+1)
		}
		m.mqtt.top = max(0, min(m.mqtt.top, len(out)-h))
		out = out[m.mqtt.top:]
	}
	for i := range out {
		out[i] = cut(out[i], w)
	}
	return out
}

func (m *Model) mqttHealthLines() []string {
	st := m.st
	hl := m.rec.MQTTHealth()
	now := m.now()
	v := m.view()
	out := []string{"", " " + st.title.Render("Traffic on "+m.name) + st.dim.Render(" since "+clock(hl.Since, now, m.loc)+" ("+format.Age(now, hl.Since)+" ago)")}
	row := func(k, val string) { out = append(out, "   "+st.dim.Render(fit(k, 12))+" "+val) }
	row("via RF", fmt.Sprintf("%6d   last %s", hl.RF, clock(hl.LastRF, now, m.loc)))
	row("via MQTT", fmt.Sprintf("%6d   last %s", hl.MQTT, clock(hl.LastMQTT, now, m.loc)))
	row("local", fmt.Sprintf("%6d", hl.Local))
	if hl.Total() > 0 {
		share := hl.RFShare()
		const barW = 20
		n := int(share*barW + 0.5)
		row("RF share", fmt.Sprintf("%5.0f%%   [%s%s]", share*100, strings.Repeat("█", n), strings.Repeat("░", barW-n)))
	} else {
		row("RF share", "-   (nothing heard yet)")
	}
	only := hl.MQTTOnlyNodes()
	out = append(out, "   "+st.dim.Render(fit("MQTT only", 12))+" "+format.Count(len(only), "node")+" heard only through MQTT")
	var names []string
	for _, num := range only {
		names = append(names, shortName(v, num))
	}
	if len(names) > 0 {
		for _, l := range wrap(strings.Join(names, ", "), 44) {
			out = append(out, "     "+l)
		}
	}
	return out
}

func (m *Model) mqttConfigLines() []string {
	st, t := m.st, &m.mqtt
	cfg := m.view().Radio.MQTT()
	title := " " + st.title.Render("MQTT module on the radio")
	switch {
	case t.edit != nil:
		title += st.warn.Render(" (editing: ctrl+s applies, esc cancels)")
		cfg = t.edit
	case backend.Can(m.id, backend.OpMQTTSet):
		title += st.dim.Render(" (e edits)")
	default:
		title += st.dim.Render(" (read-only: editing needs the " + backend.MinRole(backend.OpMQTTSet).String() + " role)")
	}
	out := []string{"", title}
	if cfg == nil {
		return append(out, st.dim.Render("   the radio has not sent its MQTT settings"))
	}
	cur := m.view().Radio.MQTT()
	for i, f := range mqttFields() {
		val := f.get(cfg)
		if f.secret {
			val = "(not set)"
			if f.get(cfg) != "" {
				val = "(set, hidden)"
			}
		}
		val = clean(val)
		mark := "   "
		if t.edit != nil {
			if cur != nil && f.get(cur) != f.get(cfg) {
				val += st.warn.Render(" *changed")
			}
			if i == t.field {
				mark = " > "
				if t.inputOn {
					out = append(out, mark+t.input.View())
					continue
				}
				out = append(out, st.sel.Render(mark+fit(f.label, 16)+" "+ansi.Strip(val)))
				continue
			}
		}
		out = append(out, mark+st.dim.Render(fit(f.label, 16))+" "+val)
	}
	return out
}

// The MQTT tab as a pane.

func (t *mqttTab) name() string { return "MQTT" }

func (t *mqttTab) help(k *keys) []paneKey {
	return append(keysOf(k.up, k.down),
		paneKey{k.edit, backend.OpMQTTSet}, paneKey{k.toggle, backend.OpMQTTSet}, paneKey{k.apply, backend.OpMQTTSet})
}

func (t *mqttTab) hints(m *Model) string {
	if t.edit != nil {
		return "↑↓ field · enter edit/toggle · ctrl+s apply · esc cancel"
	}
	return "e edit (admin) · ? help"
}

func (t *mqttTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if t.editing() {
		return m.mqttFieldKey(msg)
	}
	return m.mqttKey(msg)
}

func (t *mqttTab) view(m *Model, w, h int) []string { return m.mqttView(w, h) }

func (t *mqttTab) typing() bool                { return t.editing() }
func (t *mqttTab) textField() *textinput.Model { return &t.input }
func (t *mqttTab) edited(*Model)               {}

func (t *mqttTab) scroll(_ *Model, n int) tea.Cmd {
	t.move(n)
	return nil
}
