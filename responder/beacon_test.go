package responder

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
)

func beacon(mod func(*Beacon)) Beacon {
	b := Beacon{ID: 1, Radio: "base", Owner: "SHA256:op1", Template: "{my_name} up {uptime}", Interval: time.Hour, Enabled: true}
	if mod != nil {
		mod(&b)
	}
	return b
}

func TestBeaconValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Beacon)
		want string
	}{
		{"valid", nil, ""},
		{"minimum interval", func(b *Beacon) { b.Interval = MinBeaconInterval }, ""},
		{"below minimum", func(b *Beacon) { b.Interval = MinBeaconInterval - time.Second }, "below the minimum"},
		{"zero interval", func(b *Beacon) { b.Interval = 0 }, "below the minimum"},
		{"above maximum", func(b *Beacon) { b.Interval = 8 * 24 * time.Hour }, "above the maximum"},
		{"no radio", func(b *Beacon) { b.Radio = "" }, "no radio"},
		{"no owner", func(b *Beacon) { b.Owner = "" }, "no owner"},
		{"bad channel", func(b *Beacon) { b.Channel = 8 }, "channel"},
		{"empty template", func(b *Beacon) { b.Template = " " }, "empty"},
		{"rule variable", func(b *Beacon) { b.Template = "{sender_name}" }, "{sender_name}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := beacon(c.mod)
			err := b.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestRenderBeacon(t *testing.T) {
	batt, powered := uint32(87), uint32(101)
	volt := float32(4.105)
	up := 3*24*time.Hour + 4*time.Hour + 5*time.Minute
	lat, lon := 52.5200066, 13.404954
	alt := int32(34)
	nodes := 42
	full := BeaconVars{MyName: "Base", MyID: "!0a0b0c0d", Battery: &batt, Voltage: &volt, Uptime: &up,
		Time: t0, Lat: &lat, Lon: &lon, Alt: &alt, Nodes: &nodes}
	cases := []struct {
		tmpl string
		v    BeaconVars
		want string
	}{
		{"{my_name}", full, "Base"},
		{"{my_id}", full, "!0a0b0c0d"},
		{"{battery}%", full, "87%"},
		{"{battery}", BeaconVars{Battery: &powered}, "PWR"},
		{"{voltage}V", full, "4.11V"},
		{"{uptime}", full, "3d4h"},
		{"{uptime}", BeaconVars{Uptime: ptr(5*time.Hour + 12*time.Minute)}, "5h12m"},
		{"{uptime}", BeaconVars{Uptime: ptr(7 * time.Minute)}, "7m"},
		{"{time}", full, "12:30"},
		{"{lat},{lon}", full, "52.52001,13.40495"},
		{"{alt}m", full, "34m"},
		{"{nodes} nodes", full, "42 nodes"},
		{"{my_name} {my_id} {battery} {voltage} {uptime} {time} {lat} {lon} {alt} {nodes}", BeaconVars{}, "? ? ? ? ? ? ? ? ? ?"},
	}
	for _, c := range cases {
		if got := RenderBeacon(c.tmpl, c.v); got != c.want {
			t.Errorf("RenderBeacon(%q) = %q, want %q", c.tmpl, got, c.want)
		}
	}
	long := RenderBeacon(strings.Repeat("{my_name}", 50), BeaconVars{MyName: "a long node name"})
	if len(long) > meshtastic.MaxTextBytes(false, false) {
		t.Fatalf("beacon not clamped: %d bytes", len(long))
	}
}

func TestBeaconVarsFor(t *testing.T) {
	batt, upS := uint32(55), uint32(3600)
	lat, lon := 1.5, 2.5
	self := meshtastic.Node{Num: me, LongName: "Base", BatteryLevel: &batt, Uptime: &upS, Latitude: &lat, Longitude: &lon}
	got := RenderBeacon("{my_name} {my_id} {battery} {uptime} {lat} {lon} {alt} {nodes}", BeaconVarsFor(self, 12, t0))
	if want := "Base !0a0b0c0d 55 1h0m 1.50000 2.50000 ? 12"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestBeaconNextAndJSON(t *testing.T) {
	b := beacon(nil)
	if !b.Next(time.Time{}, t0).Equal(t0) || !b.Next(t0, t0.Add(time.Minute)).Equal(t0.Add(time.Hour)) {
		t.Fatal("Next")
	}
	raw, err := json.Marshal(b)
	if err != nil || !strings.Contains(string(raw), `"interval":"1h0m0s"`) {
		t.Fatalf("%s %v", raw, err)
	}
	var back Beacon
	if err := json.Unmarshal(raw, &back); err != nil || back != b {
		t.Fatalf("round trip %+v %v", back, err)
	}
}

func ptr[T any](v T) *T { return &v }
