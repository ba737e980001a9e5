package radio

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// serialBroker serves r on a pseudo-terminal, as a radio on USB, and runs
// a broker for it until the test ends.
func serialBroker(t *testing.T, r *sim.Radio) *Broker {
	t.Helper()
	master, path, err := sim.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.ServeStream(ctx, master) }()
	t.Cleanup(func() { cancel(); <-done; master.Close() })
	a := transport.Address{Kind: transport.Serial, Device: path, Baud: transport.DefaultBaud, DTR: true, RTS: true}
	return startBroker(t, a.String(), Config{Dial: func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, a) }})
}

// alsoServeTCP serves r's TCP API too (a second client reaches the same
// radio, as a phone on Bluetooth does) and returns its address.
func alsoServeTCP(t *testing.T, r *sim.Radio) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func hasWarning(st Status, part string) bool {
	for _, w := range st.Warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

// A serial radio with Bluetooth on is a radio a phone can share with
// meshgate, badly; the status says so until Bluetooth is off. A TCP radio
// with Bluetooth on is fine (a phone on TCP would be contention instead).
func TestBluetoothWarningOnSerialRadio(t *testing.T) {
	r, err := sim.New(fastSerialSim(71))
	if err != nil {
		t.Fatal(err)
	}
	b := serialBroker(t, r)
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 10*time.Second)
	st := b.Status()
	if !hasWarning(st, "Bluetooth is on") || len(st.Warnings) != 1 {
		t.Fatalf("warnings: %q", st.Warnings)
	}
	js, _ := json.Marshal(st)
	if !strings.Contains(string(js), `"warnings":["Bluetooth is on`) {
		t.Fatalf("JSON: %s", js)
	}

	off := &pb.Config{PayloadVariant: &pb.Config_Bluetooth{Bluetooth: &pb.Config_BluetoothConfig{Enabled: false}}}
	if err := b.Admin(context.Background(), func(ctx context.Context, c *meshtastic.Client) error {
		return c.Edit(ctx, []*pb.Config{off}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for hasWarning(b.Status(), "Bluetooth") {
		if time.Now().After(deadline) {
			t.Fatalf("warning stays after Bluetooth was turned off: %q", b.Status().Warnings)
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, addr := simRadio(t, sim.Config{Seed: 72, Nodes: 3})
	tb := startBroker(t, addr, Config{})
	tsub := tb.Subscribe("u")
	defer tsub.Close()
	waitState(t, tb, Connected, 5*time.Second)
	if w := tb.Status().Warnings; len(w) != 0 {
		t.Fatalf("TCP radio warnings: %q", w)
	}
}

func fastSerialSim(seed int64) sim.Config {
	return sim.Config{Seed: seed, Nodes: 6, AckDelay: 20 * time.Millisecond, TracerouteDelay: 30 * time.Millisecond,
		RebootDowntime: 300 * time.Millisecond, AdminRebootDelay: 100 * time.Millisecond, TrafficInterval: 20 * time.Millisecond}
}

// Two clients on one radio share its to-phone queue: answers meant for
// meshgate go to the other one while the radio's traffic still reaches
// meshgate. After a few such misses the status says what is going on.
func TestMissingAnswersWarning(t *testing.T) {
	r, err := sim.New(fastSerialSim(73))
	if err != nil {
		t.Fatal(err)
	}
	b := serialBroker(t, r)
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 10*time.Second)
	getLoRa := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return b.Admin(ctx, func(ctx context.Context, c *meshtastic.Client) error {
			_, err := c.GetConfig(ctx, pb.AdminMessage_LORA_CONFIG)
			return err
		})
	}
	// Alone on the radio: every answer comes.
	for range 5 {
		if err := getLoRa(); err != nil {
			t.Fatalf("alone on the radio: %v", err)
		}
	}
	if w := b.Status().Warnings; hasWarning(b.Status(), "went missing") {
		t.Fatalf("warnings with every answer in: %q", w)
	}

	// A phone connects (here over TCP; on the radio it is the same
	// queue) and reads everything it can.
	phone, err := meshtastic.Dial(context.Background(), alsoServeTCP(t, r), meshtastic.Options{NoEvents: true, WakeDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	failed := 0
	for i := 0; i < 60 && !hasWarning(b.Status(), "went missing"); i++ {
		if getLoRa() != nil {
			failed++
		}
	}
	st := b.Status()
	if !hasWarning(st, "answers went missing 3 times") || failed < missingAfter {
		t.Fatalf("after %d missing answers: warnings %q", failed, st.Warnings)
	}
	if b.View().Radio.Config[pb.AdminMessage_BLUETOOTH_CONFIG].GetBluetooth().GetEnabled() && !hasWarning(st, "Bluetooth is on") {
		t.Fatalf("the Bluetooth warning went away: %q", st.Warnings)
	}
}

// After a serial radio reboots the client reads everything again on the
// same link; the shared view follows, so nodes the radio forgot (here a
// NodeDB reset) are gone from it too.
func TestViewFollowsResyncAfterReboot(t *testing.T) {
	r, err := sim.New(fastSerialSim(74))
	if err != nil {
		t.Fatal(err)
	}
	b := serialBroker(t, r)
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 10*time.Second)
	before := b.View()
	if len(before.Nodes) < 5 {
		t.Fatalf("nodes before: %d", len(before.Nodes))
	}
	if err := b.Admin(context.Background(), func(ctx context.Context, c *meshtastic.Client) error {
		return c.ResetNodeDB(ctx, false)
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for v := b.View(); len(v.Nodes) >= len(before.Nodes); v = b.View() {
		if time.Now().After(deadline) {
			t.Fatalf("view still holds %d nodes after the NodeDB reset (radio has %d)", len(v.Nodes), len(r.Nodes()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := b.View(); v.Version <= before.Version || v.MyNodeNum != before.MyNodeNum {
		t.Fatalf("view after the resync: version %d (was %d), me %d", v.Version, before.Version, v.MyNodeNum)
	}
}
