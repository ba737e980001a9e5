package responder

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
)

// MinBeaconInterval is the shortest interval a beacon may have.
//
// A beacon is a broadcast that every router and repeater in range repeats,
// so each one costs the mesh several transmissions of up to ~2 s airtime
// each (a full 230-byte packet at the default LongFast preset). Regions
// such as EU868 allow a 1% duty cycle (36 s of airtime an hour) per
// transmitter, and busy meshes already run high channel utilisation. Every
// 15 minutes is four broadcasts an hour, the same cadence the firmware
// itself uses by default for position broadcasts, which the community
// treats as the polite floor for periodic traffic.
const MinBeaconInterval = 15 * time.Minute

// MaxBeaconInterval bounds the interval from above, to catch unit typos.
const MaxBeaconInterval = 7 * 24 * time.Hour

// Beacon is a radio's periodic broadcast. A radio has at most one beacon:
// it is shared airtime, so the team agrees on one rather than each operator
// adding theirs.
type Beacon struct {
	ID        int64
	Radio     string
	Owner     string // key fingerprint of the operator who set it
	OwnerName string
	Template  string // see BeaconVariables
	Interval  time.Duration
	Channel   uint32 // channel index to broadcast on
	Enabled   bool
}

// Validate reports the first problem with b, wrapping ErrInvalid.
func (b *Beacon) Validate() error {
	switch {
	case strings.TrimSpace(b.Radio) == "":
		return fmt.Errorf("%w: beacon has no radio", ErrInvalid)
	case len(b.Radio) > maxRadioName:
		return fmt.Errorf("%w: radio name longer than %d bytes", ErrInvalid, maxRadioName)
	case strings.TrimSpace(b.Owner) == "":
		return fmt.Errorf("%w: beacon has no owner", ErrInvalid)
	case b.Interval < MinBeaconInterval:
		return fmt.Errorf("%w: beacon interval %s is below the minimum %s (airtime is shared)", ErrInvalid, format.Typed(b.Interval), format.Typed(MinBeaconInterval))
	case b.Interval > MaxBeaconInterval:
		return fmt.Errorf("%w: beacon interval %s is above the maximum %s", ErrInvalid, format.Typed(b.Interval), format.Typed(MaxBeaconInterval))
	case b.Channel > MaxChannel:
		return fmt.Errorf("%w: channel %d out of range 0-%d", ErrInvalid, b.Channel, MaxChannel)
	}
	return checkTemplate("beacon template", b.Template, beaconVariables)
}

// Next returns when the beacon should go out after one sent at last (zero:
// never sent, so now).
func (b *Beacon) Next(last, now time.Time) time.Time {
	if last.IsZero() {
		return now
	}
	return last.Add(b.Interval)
}

// beaconJSON is the documented JSON shape of a beacon.
type beaconJSON struct {
	ID        int64  `json:"id"`
	Radio     string `json:"radio"`
	Owner     string `json:"owner"`
	OwnerName string `json:"owner_name,omitempty"`
	Template  string `json:"template"`
	Interval  string `json:"interval"`
	Channel   uint32 `json:"channel"`
	Enabled   bool   `json:"enabled"`
}

// MarshalJSON writes the beacon with its interval as a Go duration ("30m0s").
func (b Beacon) MarshalJSON() ([]byte, error) {
	return json.Marshal(beaconJSON{b.ID, b.Radio, b.Owner, b.OwnerName, b.Template, b.Interval.String(), b.Channel, b.Enabled})
}

// UnmarshalJSON reads the shape MarshalJSON writes.
func (b *Beacon) UnmarshalJSON(data []byte) error {
	var j beaconJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	iv, err := parseOptionalDuration("interval", j.Interval)
	if err != nil {
		return err
	}
	*b = Beacon{j.ID, j.Radio, j.Owner, j.OwnerName, j.Template, iv, j.Channel, j.Enabled}
	return nil
}

// BeaconVars are the values a beacon template can show. Nil pointers (and
// an empty name or id) render as "?".
type BeaconVars struct {
	MyName  string
	MyID    string
	Battery *uint32  // percent; above 100 means external power ("PWR")
	Voltage *float32 // volts
	Uptime  *time.Duration
	Time    time.Time // zero renders "?"
	Lat     *float64
	Lon     *float64
	Alt     *int32 // metres
	Nodes   *int   // nodes the radio knows
}

// BeaconVarsFor fills BeaconVars from the radio's own node, the size of
// its NodeDB and the time.
func BeaconVarsFor(self meshtastic.Node, nodes int, now time.Time) BeaconVars {
	v := BeaconVars{
		MyName: self.Name(), MyID: self.ID(), Battery: self.BatteryLevel, Voltage: self.Voltage,
		Time: now, Lat: self.Latitude, Lon: self.Longitude, Alt: self.Altitude, Nodes: &nodes,
	}
	if self.Uptime != nil {
		up := time.Duration(*self.Uptime) * time.Second
		v.Uptime = &up
	}
	return v
}

// RenderBeacon fills a beacon template. The result is clamped to one
// broadcast text packet, meshtastic.MaxTextBytes(false, false) bytes.
func RenderBeacon(template string, v BeaconVars) string {
	return Clamp(render(template, v.variable), meshtastic.MaxTextBytes(false, false))
}

func (v *BeaconVars) variable(name string) (string, bool) {
	switch name {
	case "my_name":
		return orUnknown(v.MyName), true
	case "my_id":
		return orUnknown(v.MyID), true
	case "battery":
		switch {
		case v.Battery == nil:
			return unknownValue, true
		case *v.Battery > 100:
			return "PWR", true
		}
		return strconv.FormatUint(uint64(*v.Battery), 10), true
	case "voltage":
		if v.Voltage == nil {
			return unknownValue, true
		}
		return strconv.FormatFloat(float64(*v.Voltage), 'f', 2, 32), true
	case "uptime":
		if v.Uptime == nil {
			return unknownValue, true
		}
		return formatUptime(*v.Uptime), true
	case "time":
		if v.Time.IsZero() {
			return unknownValue, true
		}
		return v.Time.Format("15:04"), true
	case "lat":
		return formatCoord(v.Lat), true
	case "lon":
		return formatCoord(v.Lon), true
	case "alt":
		if v.Alt == nil {
			return unknownValue, true
		}
		return strconv.FormatInt(int64(*v.Alt), 10), true
	case "nodes":
		if v.Nodes == nil {
			return unknownValue, true
		}
		return strconv.Itoa(*v.Nodes), true
	}
	return "", false
}

func orUnknown(s string) string {
	if s == "" {
		return unknownValue
	}
	return s
}

// formatCoord shows five decimals, about a metre: more is noise for a
// beacon and costs airtime.
func formatCoord(c *float64) string {
	if c == nil {
		return unknownValue
	}
	return strconv.FormatFloat(*c, 'f', 5, 64)
}

// formatUptime renders the two largest units: "3d4h", "5h12m", "7m".
func formatUptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days := int(d / (24 * time.Hour))
	h := int(d/time.Hour) % 24
	m := int(d/time.Minute) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}
