package tui

import (
	"context"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic"
)

// deviceTab shows the radio itself, read-only, and offers admins the
// actions that restart or wipe it.
type deviceTab struct {
	top int
}

// deviceAction is one destructive admin action.
type deviceAction struct {
	action auth.Action
	what   string // "reboot", as in "alice is about to reboot this radio"
	title  string
	run    func(context.Context, *meshtastic.Client) error
}

func (m *Model) deviceKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.device
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
	case key.Matches(msg, k.reboot):
		a = &deviceAction{auth.Reboot, "reboot", "Reboot the radio?",
			func(ctx context.Context, c *meshtastic.Client) error { return c.Reboot(ctx, 5) }}
	case key.Matches(msg, k.shutdown):
		a = &deviceAction{auth.Shutdown, "shut down", "Shut the radio down?",
			func(ctx context.Context, c *meshtastic.Client) error { return c.Shutdown(ctx, 5) }}
	case key.Matches(msg, k.factoryReset):
		a = &deviceAction{auth.FactoryReset, "factory-reset the settings of", "Factory reset the radio's settings?",
			func(ctx context.Context, c *meshtastic.Client) error { return c.FactoryReset(ctx, false) }}
	case key.Matches(msg, k.resetNodeDB):
		a = &deviceAction{auth.ResetNodeDB, "empty the node database of", "Reset the radio's NodeDB?",
			func(ctx context.Context, c *meshtastic.Client) error { return c.ResetNodeDB(ctx, false) }}
	}
	if a == nil || !m.can(a.action, a.action.String()) {
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
	if a.action == auth.Shutdown {
		body = append(body, "It stays off until someone presses its button.")
	}
	return m.confirmTyped(a.title, body, clean(self.ShortName), func() tea.Cmd {
		return m.adminOp(a.action.String(), a.what, a.run)
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
		for _, f := range fields(l) {
			kv(f.name, f.value)
		}
	}
	if d := snap.Device(); d != nil {
		out = append(out, "", " "+st.title.Render("Device"))
		for _, f := range fields(d) {
			kv(f.name, f.value)
		}
	}
	out = append(out, "", " "+st.title.Render("Actions"))
	if m.id.Role.Can(auth.Reboot) {
		out = append(out, cut("   R reboot · H shut down · F factory reset (settings) · N reset NodeDB", w),
			st.dim.Render(cut("   each asks you to type the radio's short name, and tells the radio's other users first", w)))
	} else {
		out = append(out, st.dim.Render(cut("   reboot, shutdown and resets need the admin role (you are "+m.id.Role.String()+")", w)))
	}
	m.device.top = max(0, min(m.device.top, len(out)-h))
	return out[m.device.top:]
}
