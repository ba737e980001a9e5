package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/responder"
)

// Chat names each sender by short name and as much of the long name as
// fits; a beacon (or responder) is labelled in full; our own messages
// are "me" in the accent colour.
func TestChatNames(t *testing.T) {
	fx := newFixture(t, fixtureOpts{frozen: true})
	u := startUI(t, fx, uiOpts{bind: "base", w: 100, h: 30})
	u.connected()
	heardTexts(u)
	var sender string
	u.do(func(m *Model) {
		cv := m.chat.convs[convKey{}]
		sender = senderName(m.view(), cv.msgs[0].From)
	})
	if !strings.Contains(sender, " ") {
		t.Fatalf("the sender's name lacks its long name: %q", sender)
	}
	if _, err := fx.broker(t, "base").SendBeacon(context.Background(),
		responder.Beacon{Radio: "base", OwnerName: "alice", Template: "beacon check", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	u.key("2", "i")
	u.typeText("mine")
	u.key("enter", "esc")
	u.waitText("⚙ beacon (alice)")
	s := u.waitText(" mine")
	// The pane is 75 cells wide here: the column holds 12 of the name.
	if !strings.Contains(s, sender[:8]) {
		t.Errorf("the chat does not show %q:\n%s", sender, s)
	}
	if strings.Contains(s, "responder") || strings.Contains(s, "beac…") {
		t.Errorf("the beacon's name is cut:\n%s", s)
	}
	styled := u.styled()
	var me string
	u.do(func(m *Model) { me = m.st.title.on + "me " })
	if !strings.Contains(styled, me) {
		t.Errorf("our own message's name is not in the accent colour")
	}
}

// A sender's packet id seen again long after is a new message, not an
// update of the old one; the same message from the history and as an
// event is one.
func TestChatPacketIDReused(t *testing.T) {
	var c chatTab
	c.init()
	at := time.Date(2026, 12, 4, 6, 43, 4, 0, time.UTC)
	text := func(at time.Time, s string) *radio.Message {
		return &radio.Message{ID: 7, From: 0x10, To: meshtastic.Broadcast, At: at, Text: s}
	}
	c.add(text(at, "old"), 1, false)
	c.add(text(at, "old"), 1, false)
	c.add(text(at.Add(80*time.Minute), "new"), 1, false)
	var got []string
	for _, m := range c.get(convKey{}).msgs {
		got = append(got, m.Text)
	}
	if strings.Join(got, ",") != "old,new" {
		t.Errorf("conversation holds %q, want [old new]", got)
	}
}
