package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

var broadcastTexts = []string{
	"Good morning mesh!", "Anyone copy?", "Testing from the ridge, how's my signal?",
	"Heading out on the trail, back around 5", "73 all", "Radio check please",
	"Weather looks rough up north, stay safe", "Is the repeater on the hill back up?",
	"New node here, hello everyone 👋", "Power is out on our street, running on battery",
	"Net tonight at 8pm on this channel", "Great range today, heard nodes 40 km away",
	"Lost my dog near the park, brown lab, please DM if seen", "Coffee meetup Saturday?",
	"Solar node back online after the storm", "Traffic jam on the bridge, avoid if you can",
	"QSL, thanks for the relay", "Who's running the router on the water tower?",
	"Firmware updated to 2.7, all good so far", "Sunset from the summit is amazing tonight",
}

var directTexts = []string{
	"Hey, are you around?", "Can you see my position?", "Thanks for relaying earlier!",
	"Ping", "What antenna are you using?", "Meet at the trailhead at 9?",
	"Your node shows up strong here", "Did you get my last message?",
}

// trafficLoop makes the virtual mesh talk: every so often (exponentially
// distributed around TrafficInterval) one node sends something. All choices
// come from the traffic generator, so a seed replays the same sequence.
func (r *Radio) trafficLoop(ctx context.Context) {
	defer r.trafficWG.Done()
	rng := r.trafficRG
	t := time.NewTimer(r.trafficGap(rng))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		if !r.rebooting && !r.down {
			r.generateLocked(rng)
		}
		r.mu.Unlock()
		t.Reset(r.trafficGap(rng))
	}
}

func (r *Radio) trafficGap(rng *rand.Rand) time.Duration {
	mean := float64(r.cfg.TrafficInterval)
	return time.Duration(math.Max(mean/10, math.Min(rng.ExpFloat64()*mean, mean*5)))
}

// generateLocked lets one random node send one packet.
func (r *Radio) generateLocked(rng *rand.Rand) {
	pe := r.mesh.peers[rng.IntN(len(r.mesh.peers))]
	now := r.now()
	if pe.mobile && pe.hasPos {
		pe.lat += rng.NormFloat64() * 0.0006
		pe.lon += rng.NormFloat64() * 0.0006
	}
	if !pe.powered && pe.battery > 5 && rng.IntN(5) == 0 {
		pe.battery--
	}
	pe.chUtil = float32(math.Round(math.Max(0.5, math.Min(60, float64(pe.chUtil)+rng.NormFloat64()))*100) / 100)

	to := uint32(Broadcast)
	ch := pe.channel
	var data *pb.Data
	pki := false
	switch x := rng.Float64(); {
	case x < 0.28:
		data = textData(broadcastTexts[rng.IntN(len(broadcastTexts))])
	case x < 0.48 && pe.hasPos:
		data = protoData(pb.PortNum_POSITION_APP, pe.position(now))
		ch = 0
	case x < 0.70:
		data = protoData(pb.PortNum_TELEMETRY_APP, &pb.Telemetry{
			Time:    uint32(now.Unix()),
			Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: pe.metrics(now, r.created)},
		})
		ch = 0
	case x < 0.78 && pe.env:
		temp := pe.temp + float32(rng.NormFloat64()*0.3)
		hum, press := pe.humid, pe.press
		data = protoData(pb.PortNum_TELEMETRY_APP, &pb.Telemetry{
			Time: uint32(now.Unix()),
			Variant: &pb.Telemetry_EnvironmentMetrics{EnvironmentMetrics: &pb.EnvironmentMetrics{
				Temperature: &temp, RelativeHumidity: &hum, BarometricPressure: &press,
			}},
		})
		ch = 0
	case x < 0.90:
		data = protoData(pb.PortNum_NODEINFO_APP, pe.user())
		ch = 0
	case x < 0.96 && pe.reachable:
		data = textData(directTexts[rng.IntN(len(directTexts))])
		to, ch = r.myNum, 0
		pki = len(pe.pubKey) == 32
	default:
		data = textData(broadcastTexts[rng.IntN(len(broadcastTexts))])
	}
	if !r.set.channelUsable(ch) {
		ch = 0
	}
	pkt := r.fromPeerLocked(pe, to, ch, data)
	if pki {
		pkt.PkiEncrypted = true
		pkt.PublicKey = append([]byte(nil), pe.pubKey...)
	}
	r.stats.generated.Add(1)
	r.receiveLocked(pkt)
}

func textData(s string) *pb.Data {
	return &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte(s)}
}

func protoData(port pb.PortNum, m proto.Message) *pb.Data {
	b, _ := proto.Marshal(m)
	return &pb.Data{Portnum: port, Payload: b}
}
