package meshtastic_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// TestEditWithMQTTNotice: an ESP32 that cannot reach the new MQTT broker
// says so in a notification without reply_id. That notice belongs to no
// request: SetMQTTConfig succeeds, the edit is committed (the radio's
// transaction is closed) and the setting survives the reboot.
func TestEditWithMQTTNotice(t *testing.T) {
	r, addr := startSim(t, fastSim(71, 5))
	c := dial(t, addr, meshtastic.Options{})
	notices := make(chan string, 8)
	go func() {
		for ev := range c.Events() {
			if ev.Kind == meshtastic.EventNotification {
				notices <- ev.Notification.GetMessage()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.SetMQTTConfig(ctx, &pb.ModuleConfig_MQTTConfig{Enabled: true, Address: "broker.invalid", Root: "msh/US"})
	if err != nil {
		t.Fatalf("SetMQTTConfig: %v (the radio's notice has no reply_id and answers nothing)", err)
	}
	select {
	case n := <-notices:
		if !strings.Contains(n, "MQTT") {
			t.Fatalf("notice %q", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the MQTT notice was not passed on as an event")
	}
	if r.EditOpen() {
		t.Fatal("the edit transaction was left open")
	}
	waitDone(t, c)
	c2 := redial(t, addr)
	if got := c2.Snapshot().MQTT(); got.GetAddress() != "broker.invalid" {
		t.Fatalf("mqtt after reboot: %v", got)
	}
}

// TestEditAlwaysCommits: a setting the radio refuses fails Edit, but the
// transaction is still closed, so later writes (from any client) are saved.
func TestEditAlwaysCommits(t *testing.T) {
	r, addr := startSim(t, fastSim(72, 5))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lora := c.Snapshot().LoRa()
	lora.HopLimit = 5
	// A 2.7 radio has no mesh_beacon module: BAD_REQUEST.
	bad := &pb.ModuleConfig{PayloadVariant: &pb.ModuleConfig_MeshBeacon{MeshBeacon: &pb.ModuleConfig_MeshBeaconConfig{}}}
	err := c.Edit(ctx, []*pb.Config{{PayloadVariant: &pb.Config_Lora{Lora: lora}}}, []*pb.ModuleConfig{bad})
	if !errors.Is(err, meshtastic.ErrRejected) {
		t.Fatalf("Edit with a refused module: %v, want ErrRejected", err)
	}
	if r.EditOpen() {
		t.Fatal("a failed edit left the radio's transaction open")
	}
}

// TestRebootedDuringFirstHandshake: a board that announces its boot while
// the first handshake runs makes the client handshake again; Connect must
// succeed as soon as that second handshake completes.
func TestRebootedDuringFirstHandshake(t *testing.T) {
	cfg := fastSim(73, 5)
	cfg.RebootedOnConnect = true
	r, addr := startSim(t, cfg)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := meshtastic.Dial(ctx, addr, meshtastic.Options{NoEvents: true, WakeDelay: time.Millisecond, HandshakeTimeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("connect took %v", el)
	}
	if len(c.Snapshot().Nodes) != len(r.Nodes()) {
		t.Fatalf("%d nodes", len(c.Snapshot().Nodes))
	}
}

// TestTextRefusalWithoutAck: a text sent without want_ack that breaks the
// radio's 2 s limit is refused with res 0 in its QueueStatus and a NAK
// addressed to the packet's from; WaitQueued reports it, and reports a
// text the radio took as queued.
func TestTextRefusalWithoutAck(t *testing.T) {
	_, addr := startSim(t, fastSim(74, 5))
	c := dial(t, addr, meshtastic.Options{})
	drain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := c.SendText(meshtastic.Text{Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitQueued(ctx, id); err != nil {
		t.Fatalf("first text: %v", err)
	}
	id, err = c.SendText(meshtastic.Text{Text: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitQueued(ctx, id); !errors.Is(err, meshtastic.ErrRateLimited) {
		t.Fatalf("second text within 2 s: %v, want ErrRateLimited", err)
	}
}
