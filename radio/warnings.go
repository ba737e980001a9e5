package radio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// Warnings about a radio's setup that users should fix; they appear in
// Status.Warnings while they hold.
//
// A phone on Bluetooth and meshgate on USB serial are two clients of one
// radio, and the firmware was not written for that. Every client reads the
// same to-phone queues (MeshService::getForPhone, the QueueStatus queue and
// the heartbeat flag are shared by all PhoneAPI instances; firmware issue
// #526, Meshtastic-Android #1655): each packet, ack and admin answer goes to
// whichever client asks first. On ESP32 the serial API leaves Bluetooth on
// (setBluetoothEnable(false) does nothing there), so both clients run and
// each misses part of the traffic. On nRF52, firmware 2.7 turns Bluetooth
// off when a serial client starts a session (PowerFSM serialEnter), so the
// phone is cut off at every meshgate (re)connect. The cure is to switch
// Bluetooth off on a radio meshgate owns over serial, or to let the phone
// use meshgate's virtual node (planned).
const (
	bluetoothWarning = "Bluetooth is on while meshgate holds this radio over USB: a phone on Bluetooth takes packets and answers meant for meshgate (ESP32) or is cut off at every reconnect (nRF52); turn it off: meshtastic --set bluetooth.enabled false"
	// missingAfter answers the radio always gives (its QueueStatus for a
	// packet, its answer to local admin) that never came while its
	// traffic kept arriving, within missingWithin, raise a warning.
	missingAfter  = 3
	missingWithin = 10 * time.Minute
)

// warningsLocked lists the warnings that hold now. Caller holds b.mu.
func (b *Broker) warningsLocked(now time.Time) []string {
	var w []string
	if b.kind == transport.Serial && b.view.Radio.Config[pb.AdminMessage_BLUETOOTH_CONFIG].GetBluetooth().GetEnabled() {
		w = append(w, bluetoothWarning)
	}
	if n := b.missingLocked(now); n >= missingAfter {
		w = append(w, fmt.Sprintf("the radio's answers went missing %d times in the last %s while its packets kept arriving: another client, probably a phone on Bluetooth, is reading the radio's shared queue",
			n, format.Typed(missingWithin)))
	}
	return w
}

// missingLocked counts recent missing answers, forgetting old ones.
func (b *Broker) missingLocked(now time.Time) int {
	cut := now.Add(-missingWithin)
	for len(b.missing) > 0 && !b.missing[0].After(cut) {
		b.missing = b.missing[1:]
	}
	return len(b.missing)
}

// awaitAnswer runs wait, which waits for an answer the radio always gives,
// and notes a missing answer if it timed out while packets from the radio kept arriving: the radio is alive and
// talking, so the answer went to someone else.
func (b *Broker) awaitAnswer(what string, wait func() error) error {
	before := b.packetsIn.Load()
	err := wait()
	if !errors.Is(err, context.DeadlineExceeded) {
		return err // answered, refused, or the caller gave up
	}
	if b.packetsIn.Load() == before {
		return err // a silent radio: a liveness problem, not a shared queue
	}
	now := b.cfg.Now()
	b.mu.Lock()
	b.missing = append(b.missing, now)
	n := b.missingLocked(now)
	b.mu.Unlock()
	b.log.Warn("an answer from the radio went missing while its traffic kept arriving", "waiting_for", what, "recent", n)
	if n == missingAfter {
		b.publishStatus()
	}
	return err
}

// publishStatus tells subscribers the current status (warnings changed).
func (b *Broker) publishStatus() {
	s := b.Status()
	b.publish(&Event{Kind: EvStatus, At: b.cfg.Now(), Status: &s})
}
