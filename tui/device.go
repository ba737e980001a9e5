package tui

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
)

// deviceTab shows the radio itself, read-only, and offers admins the
// actions that restart or wipe it.
type deviceTab struct {
	top int
}

// deviceAction is one destructive admin action.
type deviceAction struct {
	op    backend.Op
	what  string // "reboot", as in "alice is about to reboot this radio"
	title string
	run   func(ctx context.Context, c backend.Caller, radio string) (backend.ActionResult, error)
}

func (m *Model) deviceKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t, core := m.keys, &m.device, m.core
	m.dirty |= dBody
	var a *deviceAction
	switch {
	case key.Matches(msg, k.up):
		t.top = max(0, t.top-1)
	case key.Matches(msg, k.down):
		t.top++
	case key.Matches(msg, k.pgUp):
		t.top = max(0, t.top-10)
	case key.Matches(msg, k.pgDown):
		t.top += 10
	case key.Matches(msg, k.back):
		m.clearNotice()
	case key.Matches(msg, k.reconnect):
		// No dialog: taking the radio back from another app is what the
		// user asks for, and the core audits and announces it.
		if !m.allowed(backend.OpReconnect) {
			return nil
		}
		c, name := m.caller, m.name
		m.setFlash("connecting to "+name+"…", false)
		return m.call(func(ctx context.Context) (string, error) {
			st, err := core.Reconnect(ctx, c, name, 20*time.Second)
			switch {
			case err != nil:
				return "", err
			case st.State == "connected":
				return "connected to " + name, nil
			}
			return "", fmt.Errorf("%s is still not connected: %s %s", name, st.State, st.Reason)
		})
	case key.Matches(msg, k.reboot):
		a = &deviceAction{backend.OpReboot, "reboot", "Reboot the radio?",
			func(ctx context.Context, c backend.Caller, r string) (backend.ActionResult, error) {
				return core.Reboot(ctx, c, r, 5*time.Second)
			}}
	case key.Matches(msg, k.shutdown):
		a = &deviceAction{backend.OpShutdown, "shut down", "Shut the radio down?",
			func(ctx context.Context, c backend.Caller, r string) (backend.ActionResult, error) {
				return core.Shutdown(ctx, c, r)
			}}
	case key.Matches(msg, k.factoryReset):
		a = &deviceAction{backend.OpFactoryReset, "factory-reset the settings of", "Factory reset the radio's settings?",
			func(ctx context.Context, c backend.Caller, r string) (backend.ActionResult, error) {
				return core.FactoryReset(ctx, c, r, false)
			}}
	case key.Matches(msg, k.resetNodeDB):
		a = &deviceAction{backend.OpNodeDBReset, "empty the node database of", "Reset the radio's NodeDB?",
			func(ctx context.Context, c backend.Caller, r string) (backend.ActionResult, error) {
				return core.NodeDBReset(ctx, c, r, false)
			}}
	}
	if a == nil || !m.allowed(a.op) {
		return nil
	}
	self, ok := m.view().Self()
	if !ok || self.ShortName == "" {
		m.setFlash("the radio is not connected; its short name is not known yet", true)
		return nil
	}
	body := []string{
		fmt.Sprintf("This will %s radio %s (%s, %s).", a.what, m.name, clean(self.Name()), self.ID()),
		fmt.Sprintf("Everyone using %s is told before it happens, and it drops off the air for a while.", m.name),
	}
	if a.op == backend.OpShutdown {
		body = append(body, "It stays off until someone presses its button.")
	}
	return m.confirmTyped(a.title, body, clean(self.ShortName), func() tea.Cmd {
		return m.adminOp(a.what, func(ctx context.Context, c backend.Caller, r string) (string, error) {
			_, err := a.run(ctx, c, r)
			return "", err
		})
	})
}

func (m *Model) deviceView(w, h int) []string {
	st := m.st
	v := m.view()
	snap := v.Radio
	self, _ := v.Self()
	var out []string
	kw := 16
	if w >= 70 {
		kw = 28 // room for the longest config field names
	}
	kv := func(k, val string) { out = append(out, cut("   "+st.dim.Render(fit(k, kw))+" "+val, w)) }
	if m.radio != nil {
		// Problems with how the radio is set up or shared (Bluetooth on a
		// serial radio, a second client draining its answers) come first.
		for _, wr := range m.radio.Status().Warnings {
			out = append(out, "", st.warn.Render(cut(" ⚠ "+clean(wr), w)))
		}
	}
	out = append(out, "", " "+st.title.Render("Identity"))
	kv("name", clean(self.LongName)+" ("+clean(self.ShortName)+")")
	kv("node", self.ID()+fmt.Sprintf("  (%d)", self.Num))
	kv("hardware", self.HWModel.String())
	kv("role", self.Role.String())
	if md := snap.Metadata; md != nil {
		kv("firmware", clean(md.GetFirmwareVersion()))
		kv("capabilities", fmt.Sprintf("wifi %s · bluetooth %s · ethernet %s · PKI %s", yesNo(md.GetHasWifi()),
			yesNo(md.GetHasBluetooth()), yesNo(md.GetHasEthernet()), yesNo(md.GetHasPKC())))
	}
	if mi := snap.MyInfo; mi != nil {
		kv("reboots", fmt.Sprint(mi.GetRebootCount()))
		kv("nodes in NodeDB", fmt.Sprint(len(v.Nodes)))
	}
	if l := snap.LoRa(); l != nil {
		out = append(out, "", " "+st.title.Render("LoRa")+st.dim.Render(fmt.Sprintf(" · region %s · preset %s · hop limit %d",
			l.GetRegion(), enumName(l.GetModemPreset().String()), l.GetHopLimit())))
		for _, f := range fields(l, nil) {
			kv(f.name, f.value)
		}
	}
	if d := snap.Device(); d != nil {
		out = append(out, "", " "+st.title.Render("Device"))
		for _, f := range fields(d, nil) {
			kv(f.name, f.value)
		}
	}
	out = append(out, "", " "+st.title.Render("Actions"))
	if backend.Can(m.id, backend.OpReboot) {
		out = append(out, cut("   R reboot · H shut down · F factory reset (settings) · N reset NodeDB · C connect now", w),
			st.dim.Render(cut("   each asks you to type the radio's short name, and tells the radio's other users first", w)))
	} else {
		out = append(out, st.dim.Render(cut("   reboot, shutdown and resets need the "+backend.MinRole(backend.OpReboot).String()+
			" role (you are "+m.id.Role.String()+")", w)))
	}
	return m.scrolled(out, &m.device.top, h)
}

// The Device tab as a pane.

func (t *deviceTab) name() string { return "Device" }

func (t *deviceTab) help(k *keys) []paneKey {
	return append(keysOf(k.up, k.down, k.pgUp, k.pgDown),
		paneKey{k.reboot, backend.OpReboot}, paneKey{k.shutdown, backend.OpShutdown},
		paneKey{k.factoryReset, backend.OpFactoryReset}, paneKey{k.resetNodeDB, backend.OpNodeDBReset},
		paneKey{k.reconnect, backend.OpReconnect})
}

func (t *deviceTab) hints(*Model) string {
	return "R reboot · H shutdown · F factory reset · N NodeDB reset · C connect now · ? help"
}

func (t *deviceTab) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.deviceKey(msg) }

func (t *deviceTab) view(m *Model, w, h int) []string { return m.deviceView(w, h) }

func (t *deviceTab) scroll(_ *Model, n int) tea.Cmd {
	t.top = max(0, t.top+n)
	return nil
}
