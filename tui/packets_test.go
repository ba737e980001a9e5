package tui

import (
	"strings"
	"testing"
)

// Packets the gateway sends appear in the packet log, marked as sent,
// in this session's log and in another user's; the inspector says so.
func TestPacketLogShowsSent(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base", w: 120, h: 30})
	other := startUI(t, fx, uiOpts{bind: "base", name: "bob", w: 120, h: 30})
	u.connected()
	other.connected()
	u.key("2", "i")
	u.typeText("Anyone on the summit tonight?")
	u.key("enter")
	u.waitText("✓")
	u.key("esc")
	for _, s := range []*ui{u, other} {
		s.key("3")
		screen := s.waitText(`→ "Anyone on the summit`)
		var row string
		for _, l := range strings.Split(screen, "\n") {
			if strings.Contains(l, "→ \"Anyone") {
				row = l
			}
		}
		if !strings.HasSuffix(strings.TrimRight(row, " "), "sent") {
			t.Errorf("the sent text's row is not marked sent: %q", row)
		}
	}
	u.key("G", "k", "enter") // the row above the ack
	u.waitText("sent by this gateway")
}
