package radio

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/store"
)

// telemetryEvery is the least time between two stored rows of one node's
// metrics of one kind. Firmware sends device metrics every 30 minutes by
// default, but a node set to every few seconds, or apps asking for
// telemetry in a loop, would otherwise fill the history with one node.
const telemetryEvery = time.Minute

// telemetryKey is one node's metrics of one kind on one radio.
type telemetryKey struct {
	radio string
	node  uint32
	env   bool // environment metrics; else device metrics
}

// telemetryRow reads the device or environment metrics of a telemetry
// packet; ok is false for any other packet, and for the other kinds of
// telemetry (power, air quality, local stats), which the history does not
// keep.
func telemetryRow(radio string, p *Packet) (row store.Telemetry, env, ok bool) {
	d := p.P.GetDecoded()
	if d.GetPortnum() != pb.PortNum_TELEMETRY_APP {
		return row, false, false
	}
	var t pb.Telemetry
	if proto.Unmarshal(d.GetPayload(), &t) != nil {
		return row, false, false
	}
	row = store.Telemetry{Radio: radio, Node: p.P.GetFrom(), At: p.At}
	// A float32 reading widened to float64 shows digits the sensor never
	// gave (4.199999809265137); keep the float32's shortest decimal form.
	f := func(v *float32) *float64 {
		if v == nil {
			return nil
		}
		x, _ := strconv.ParseFloat(strconv.FormatFloat(float64(*v), 'g', -1, 32), 64)
		return &x
	}
	switch {
	case t.GetDeviceMetrics() != nil:
		m := t.GetDeviceMetrics()
		row.BatteryLevel, row.Voltage = m.BatteryLevel, f(m.Voltage)
		row.ChannelUtilization, row.AirUtilTx = f(m.ChannelUtilization), f(m.AirUtilTx)
		ok = m.BatteryLevel != nil || m.Voltage != nil || m.ChannelUtilization != nil || m.AirUtilTx != nil
	case t.GetEnvironmentMetrics() != nil:
		m := t.GetEnvironmentMetrics()
		row.Temperature, row.RelativeHumidity, row.BarometricPressure = f(m.Temperature), f(m.RelativeHumidity), f(m.BarometricPressure)
		env = true
		ok = m.Temperature != nil || m.RelativeHumidity != nil || m.BarometricPressure != nil
	}
	return row, env, ok
}

// recordTelemetry stores a telemetry packet's metrics, at most one row a
// minute per node and kind.
func (a *Automation) recordTelemetry(radio string, p *Packet) {
	row, env, ok := telemetryRow(radio, p)
	if !ok || p.P.GetFrom() == 0 {
		return
	}
	k := telemetryKey{radio, row.Node, env}
	a.mu.Lock()
	if a.telemetry == nil {
		a.telemetry = map[telemetryKey]time.Time{}
	}
	last, seen := a.telemetry[k]
	if seen && row.At.Sub(last) < telemetryEvery && !row.At.Before(last) {
		a.mu.Unlock()
		return
	}
	a.telemetry[k] = row.At
	a.mu.Unlock()
	a.store.AddTelemetry(row)
}
