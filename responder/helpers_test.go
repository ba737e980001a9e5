package responder

import (
	"time"

	"github.com/meshgate/meshgate/meshtastic"
)

const (
	me    uint32 = 0x0a0b0c0d
	alice uint32 = 0x11111111
	bob   uint32 = 0x22222222
)

var t0 = time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)

func u32(v uint32) *uint32 { return &v }

// rule returns a valid, enabled rule answering "ping" on radio "base",
// with the shortest cooldown allowed.
func rule(id int64, mods ...func(*Rule)) Rule {
	r := Rule{
		ID: id, Radio: "base", Owner: "SHA256:op1", OwnerName: "op1",
		Trigger: "ping", Match: MatchExact, Reply: "pong {sender_name}", Enabled: true, Cooldown: MinCooldown,
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

// msg returns a broadcast "ping" from alice, heard over RF with 2 hops.
func msg(id uint32, mods ...func(*Incoming)) Incoming {
	in := Incoming{
		Radio: "base", PacketID: id, From: alice, To: meshtastic.Broadcast, MyNode: me, Channel: 0,
		Text: "ping", Hops: u32(2), SNR: 6.25, RSSI: -97, SenderKnown: true,
		SenderLong: "Alice", SenderShort: "ALI", MyLong: "Base Station", MyShort: "BASE",
	}
	for _, m := range mods {
		m(&in)
	}
	return in
}
