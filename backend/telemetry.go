package backend

import (
	"context"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
)

// DefaultTelemetrySince is how far back telemetry goes unless asked
// otherwise: the day the UI's sparklines show.
const DefaultTelemetrySince = 24 * time.Hour

// MaxTelemetrySince is the longest span one request reads; the store keeps
// 30 days by default.
const MaxTelemetrySince = 30 * 24 * time.Hour

// TelemetryQuery asks for one node's stored metrics.
type TelemetryQuery struct {
	Radio string
	Node  string        // !id, number or name, as the other commands take
	Since time.Duration // how far back; 0: DefaultTelemetrySince
	Limit int           // at most this many points, the newest; 0: MaxLimit
}

// TelemetrySeries is one node's metrics over time, oldest first.
type TelemetrySeries struct {
	Radio     string           `json:"radio"`
	Node      string           `json:"node"`
	NodeNum   uint32           `json:"node_num"`
	ShortName string           `json:"short_name"`
	LongName  string           `json:"long_name"`
	Since     time.Time        `json:"since"`
	Points    []TelemetryPoint `json:"points"`
}

// TelemetryPoint is what one telemetry packet carried: device metrics or
// environment metrics; the others are null.
type TelemetryPoint struct {
	Time               time.Time `json:"time"`
	BatteryLevel       *uint32   `json:"battery_level"`
	Voltage            *float64  `json:"voltage"`
	ChannelUtilization *float64  `json:"channel_utilization"`
	AirUtilTx          *float64  `json:"air_util_tx"`
	Temperature        *float64  `json:"temperature"`
	RelativeHumidity   *float64  `json:"relative_humidity"`
	BarometricPressure *float64  `json:"barometric_pressure"`
}

// Telemetry returns a node's stored device and environment metrics, kept
// across restarts: battery, voltage, channel utilisation and airtime;
// temperature, humidity and pressure.
func (b *Backend) Telemetry(ctx context.Context, c Caller, q TelemetryQuery) (TelemetrySeries, error) {
	limit := q.Limit
	if limit == 0 {
		limit = MaxLimit
	}
	_, br, limit, err := b.stored(c, OpHistory, q.Radio, limit)
	if err != nil {
		return TelemetrySeries{}, err
	}
	since := q.Since
	switch {
	case since == 0:
		since = DefaultTelemetrySince
	case since < 0 || since > MaxTelemetrySince:
		return TelemetrySeries{}, invalid("--since %gh: want a positive duration up to %gh (the history keeps 30 days)",
			since.Hours(), MaxTelemetrySince.Hours())
	}
	v := br.View()
	num, err := ResolveNode(v, q.Node)
	if err != nil {
		return TelemetrySeries{}, err
	}
	from := b.now().Add(-since)
	dctx, cancel := dbctx(ctx)
	defer cancel()
	rows, err := br.TelemetryHistory(dctx, num, from, limit)
	if err != nil {
		return TelemetrySeries{}, failed(err)
	}
	out := TelemetrySeries{Radio: br.Name(), Node: meshtastic.NodeID(num), NodeNum: num, Since: utc(from), Points: []TelemetryPoint{}}
	if n := v.Nodes[num]; n != nil {
		out.ShortName, out.LongName = n.ShortName, n.LongName
	}
	for _, r := range rows {
		out.Points = append(out.Points, TelemetryPoint{Time: utc(r.At), BatteryLevel: r.BatteryLevel, Voltage: r.Voltage,
			ChannelUtilization: r.ChannelUtilization, AirUtilTx: r.AirUtilTx, Temperature: r.Temperature,
			RelativeHumidity: r.RelativeHumidity, BarometricPressure: r.BarometricPressure})
	}
	return out, nil
}
