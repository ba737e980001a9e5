package sim

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// peer is the ground truth about one other node of the virtual mesh: who it
// is, where it sits in the topology and how well we hear it. The NodeDB
// (Radio.db) is only what the radio has learned from packets, like on a
// real device; the two start equal and drift apart as traffic flows or the
// client edits the NodeDB.
type peer struct {
	num       uint32
	long      string
	short     string
	hw        pb.HardwareModel
	role      pb.Config_DeviceConfig_Role
	pubKey    []byte
	licensed  bool
	firstSeen time.Duration // how long before start it was last heard

	// Topology. hops is how many relays its packets pass before we hear
	// them. RF nodes relay through parent (one hop closer to us); nodes
	// heard via MQTT reach us through gateway, one of our neighbours, after
	// mqttLeg relays on the far side of the broker.
	hops      int
	viaMQTT   bool
	parent    *peer
	gateway   *peer
	mqttLeg   int
	hopStart  uint32 // its configured hop limit
	noHopInfo bool   // old firmware: no hop_start, no bitfield
	opaque    bool   // relays without adding itself to traceroutes
	snr       float32
	rssi      int32

	reachable bool // DMs to it are delivered and acked
	traces    bool // answers traceroutes
	chats     bool // answers DMs when live traffic runs
	okToMQTT  bool
	channel   uint32 // channel index its broadcasts use
	favorite  bool

	hasPos    bool
	lat, lon  float64
	alt       int32
	precision uint32
	mobile    bool

	powered bool
	battery uint32
	chUtil  float32
	airUtil float32
	uptime  uint32
	env     bool // sends environment telemetry
	temp    float32
	humid   float32
	press   float32

	rebootCount uint32 // own node only

	// rawShort, when set, is the short name as raw bytes that are not valid
	// UTF-8 (Config.InvalidUTF8Name).
	rawShort []byte
}

// mesh is the generated world.
type mesh struct {
	own     *peer
	peers   []*peer // generation order
	byNum   map[uint32]*peer
	centre  place
	secName string // name of the secondary channel, "" if none
	secPSK  []byte
	third   string // name of a second secondary channel, "" if none
	thirdK  []byte
	devID   []byte
	privKey []byte
	pioEnv  string // build environment name of the own board
}

type place struct {
	name     string
	lat, lon float64
	alt      int32
}

var places = []place{
	{"Seattle", 47.6062, -122.3321, 60},
	{"Portland", 45.5152, -122.6784, 50},
	{"San Francisco", 37.7749, -122.4194, 30},
	{"Denver", 39.7392, -104.9903, 1610},
	{"Austin", 30.2672, -97.7431, 150},
	{"Boston", 42.3601, -71.0589, 10},
	{"Minneapolis", 44.9778, -93.2650, 260},
}

// Hardware for other nodes, roughly weighted by how common it is.
var peerHardware = []pb.HardwareModel{
	pb.HardwareModel_HELTEC_V3, pb.HardwareModel_HELTEC_V3, pb.HardwareModel_HELTEC_V3,
	pb.HardwareModel_RAK4631, pb.HardwareModel_RAK4631, pb.HardwareModel_RAK4631,
	pb.HardwareModel_TBEAM, pb.HardwareModel_TBEAM, pb.HardwareModel_T_ECHO,
	pb.HardwareModel_TRACKER_T1000_E, pb.HardwareModel_TRACKER_T1000_E,
	pb.HardwareModel_HELTEC_WIRELESS_TRACKER, pb.HardwareModel_T_DECK,
	pb.HardwareModel_STATION_G2, pb.HardwareModel_HELTEC_MESH_NODE_T114,
	pb.HardwareModel_SEEED_XIAO_S3, pb.HardwareModel_LILYGO_TBEAM_S3_CORE,
	pb.HardwareModel_HELTEC_V4, pb.HardwareModel_WISMESH_TAP, pb.HardwareModel_PORTDUINO,
	pb.HardwareModel_HELTEC_MESH_POCKET, pb.HardwareModel_THINKNODE_M1,
}

// Boards the own node may be: Wi-Fi capable, since it serves TCP.
var ownHardware = []struct {
	hw  pb.HardwareModel
	env string
}{
	{pb.HardwareModel_HELTEC_V3, "heltec-v3"},
	{pb.HardwareModel_LILYGO_TBEAM_S3_CORE, "tbeam-s3-core"},
	{pb.HardwareModel_STATION_G2, "station-g2"},
	{pb.HardwareModel_HELTEC_WIRELESS_TRACKER, "heltec-wireless-tracker"},
	{pb.HardwareModel_T_DECK, "t-deck"},
}

var (
	placeWords = []string{"Ridge", "Harbor", "Cedar", "Summit", "Valley", "Mesa", "Pine",
		"River", "Canyon", "Bay", "North", "South", "East", "West", "Hilltop", "Lakeside",
		"Oak", "Granite", "Copper", "Willow", "Foothill", "Marina", "Mill", "Bridge",
		"Orchard", "Prairie", "Coast", "Meadow", "Falls", "Quarry", "Beacon", "Elm"}
	thingWords = []string{"Relay", "Base", "Node", "Repeater", "Rover", "Tracker", "Camp",
		"Outpost", "Shack", "Station", "Mobile", "Truck", "Router", "Watch", "Hub", "Post",
		"Lookout", "Tower", "Van", "Attic", "Roof", "Garage", "Trail", "Kayak"}
	personNames = []string{"Alex", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor",
		"Jamie", "Avery", "Quinn", "Drew", "Robin", "Kai", "Lee", "Max", "Nina", "Omar",
		"Priya", "Rosa", "Theo", "Uma", "Vic", "Wes", "Yara", "Zoe", "Ben", "Cora", "Dev",
		"Eli", "Finn", "Gus", "Hana", "Ivy", "Jun", "Kofi", "Lena", "Milo", "Noor"}
	deviceWords = []string{"T-Beam", "Heltec", "RAK", "T-Echo", "T-Deck", "Tracker",
		"Radio", "Handheld", "Node", "Pocket", "Solar", "Car"}
	callSuffix  = []string{"Mobile", "Home", "Portable", "Base", "Solar", "Attic"}
	channelName = []string{"Hiking", "Ops", "Family", "Ham", "Search", "Event", "Club", "Local"}
)

const shortAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newMesh generates the world for a seed. Everything here draws from one
// generator in a fixed order, so the same seed always yields the same mesh.
func newMesh(seed int64, n int) *mesh {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d657368)) // "mesh"
	m := &mesh{byNum: make(map[uint32]*peer, n+1)}
	m.centre = places[rng.IntN(len(places))]
	used := map[uint32]bool{}
	longs := map[string]bool{}
	shorts := map[string]bool{}

	own := &peer{num: newNodeNum(rng, used)}
	hw := ownHardware[rng.IntN(len(ownHardware))]
	own.hw = hw.hw
	own.role = pb.Config_DeviceConfig_CLIENT
	own.long = fmt.Sprintf("Meshtastic %04x", own.num&0xFFFF)
	own.short = fmt.Sprintf("%04x", own.num&0xFFFF)
	longs[own.long], shorts[own.short] = true, true
	own.pubKey = randBytes(rng, 32)
	own.hasPos = true
	own.lat, own.lon, own.alt = m.centre.lat, m.centre.lon, m.centre.alt+int32(rng.IntN(40))
	own.precision = 32
	own.powered, own.battery = true, 101
	own.uptime = uint32(3600 + rng.IntN(5*86400))
	own.rebootCount = uint32(3 + rng.IntN(40))
	m.own = own
	m.devID = randBytes(rng, 16)
	m.privKey = randBytes(rng, 32)
	m.pioEnv = hw.env

	if rng.IntN(4) != 0 {
		m.secName = channelName[rng.IntN(len(channelName))]
		m.secPSK = randBytes(rng, 32)
		if rng.IntN(3) == 0 {
			for m.third == "" || m.third == m.secName {
				m.third = channelName[rng.IntN(len(channelName))]
			}
			m.thirdK = randBytes(rng, 16)
		}
	}

	// Decide each node's class first, then link the RF nodes into a tree so
	// that every relay is closer to us than the node it relays for.
	m.peers = make([]*peer, n)
	levels := [4][]*peer{}
	var mqttPeers []*peer
	for i := range n {
		p := &peer{num: newNodeNum(rng, used)}
		m.peers[i] = p
		switch x := rng.Float64(); {
		case i > 0 && x < 0.2:
			p.viaMQTT = true
			mqttPeers = append(mqttPeers, p)
		case i == 0 || x < 0.45:
			p.hops = 0
		case x < 0.72:
			p.hops = 1
		case x < 0.92:
			p.hops = 2
		default:
			p.hops = 3
		}
		if !p.viaMQTT {
			levels[p.hops] = append(levels[p.hops], p)
		}
	}
	// Pull levels down until none is empty below an occupied one.
	for h := 1; h < len(levels); h++ {
		for h > 0 && len(levels[h-1]) == 0 && len(levels[h]) > 0 {
			for _, p := range levels[h] {
				p.hops = h - 1
			}
			levels[h-1], levels[h] = levels[h], nil
			h--
		}
	}
	for h := 1; h < len(levels); h++ {
		for _, p := range levels[h] {
			p.parent = levels[h-1][rng.IntN(len(levels[h-1]))]
		}
	}
	var gateways []*peer
	for _, p := range levels[0] {
		if len(gateways) < 3 && rng.IntN(3) == 0 {
			gateways = append(gateways, p)
		}
	}
	if len(gateways) == 0 && len(levels[0]) > 0 {
		gateways = levels[0][:1]
	}
	for _, p := range mqttPeers {
		if len(gateways) > 0 {
			p.gateway = gateways[rng.IntN(len(gateways))]
		}
		p.mqttLeg = 1 + rng.IntN(2)
		p.hops = 1 + p.mqttLeg
	}

	for _, p := range m.peers {
		m.fillPeer(rng, p, longs, shorts)
		m.byNum[p.num] = p
	}
	return m
}

// fillPeer draws everything about p except its topology.
func (m *mesh) fillPeer(rng *rand.Rand, p *peer, longs, shorts map[string]bool) {
	p.hw = peerHardware[rng.IntN(len(peerHardware))]
	switch x := rng.Float64(); {
	case p.hops == 0 && x < 0.25:
		p.role = pb.Config_DeviceConfig_ROUTER
	case x < 0.08:
		p.role = pb.Config_DeviceConfig_ROUTER_LATE
	case x < 0.18:
		p.role = pb.Config_DeviceConfig_CLIENT_MUTE
	case x < 0.28:
		p.role = pb.Config_DeviceConfig_TRACKER
	case x < 0.33:
		p.role = pb.Config_DeviceConfig_SENSOR
	case x < 0.38:
		p.role = pb.Config_DeviceConfig_CLIENT_BASE
	default:
		p.role = pb.Config_DeviceConfig_CLIENT
	}
	if p.hw == pb.HardwareModel_TRACKER_T1000_E && p.role == pb.Config_DeviceConfig_CLIENT {
		p.role = pb.Config_DeviceConfig_TRACKER
	}
	p.licensed = rng.IntN(12) == 0
	p.long, p.short = uniqueNames(rng, p, longs, shorts)
	if !p.licensed {
		p.pubKey = randBytes(rng, 32)
	}

	// How well the last RF hop hears it: neighbours vary, relays are
	// usually decent sites.
	p.snr = float32(math.Round((rng.Float64()*26-16)*4) / 4)
	p.rssi = int32(-122 + (float64(p.snr)+16)*2.6 + rng.Float64()*8 - 4)
	p.hopStart = 3
	switch x := rng.IntN(20); {
	case x == 0:
		p.hopStart = 7
	case x < 3:
		p.hopStart = 5
	}
	if uint32(p.hops) > p.hopStart {
		p.hopStart = uint32(p.hops)
	}
	p.noHopInfo = rng.IntN(14) == 0 || (p.viaMQTT && rng.IntN(2) == 0)
	p.opaque = rng.IntN(15) == 0
	fail := []float64{0.03, 0.08, 0.14, 0.2}[min(p.hops, 3)]
	if p.viaMQTT {
		fail = 0.25
	}
	p.reachable = rng.Float64() >= fail
	p.traces = rng.IntN(7) != 0
	p.chats = rng.IntN(3) == 0 && p.role != pb.Config_DeviceConfig_SENSOR
	p.okToMQTT = rng.IntN(3) != 0
	if m.secName != "" && rng.IntN(6) == 0 {
		p.channel = 1
	}
	p.favorite = rng.IntN(20) == 0

	// Place it: farther out the more hops; MQTT nodes are in other towns.
	p.hasPos = rng.IntN(5) != 0
	dist := []float64{0.5 + rng.Float64()*7.5, 3 + rng.Float64()*12, 8 + rng.Float64()*17, 15 + rng.Float64()*25}[min(p.hops, 3)]
	centre := m.centre
	if p.viaMQTT {
		for centre == m.centre {
			centre = places[rng.IntN(len(places))]
		}
		dist = rng.Float64() * 20
	}
	bearing := rng.Float64() * 2 * math.Pi
	p.lat = centre.lat + dist*math.Cos(bearing)/111.0
	p.lon = centre.lon + dist*math.Sin(bearing)/(111.0*math.Cos(centre.lat*math.Pi/180))
	p.alt = centre.alt + int32(rng.IntN(300)) - 40
	p.precision = 32
	if rng.IntN(4) == 0 {
		p.precision = uint32(13 + rng.IntN(4))
	}
	p.mobile = p.role == pb.Config_DeviceConfig_TRACKER || rng.IntN(6) == 0

	p.powered = p.role == pb.Config_DeviceConfig_ROUTER || p.role == pb.Config_DeviceConfig_ROUTER_LATE || rng.IntN(4) == 0
	if p.powered {
		p.battery = 101
	} else {
		p.battery = uint32(15 + rng.IntN(86))
	}
	p.chUtil = float32(math.Round((2+rng.Float64()*22)*100) / 100)
	p.airUtil = float32(math.Round((0.05+rng.Float64()*2.5)*100) / 100)
	p.uptime = uint32(600 + rng.IntN(20*86400))
	p.env = p.role == pb.Config_DeviceConfig_SENSOR || rng.IntN(8) == 0
	p.temp = float32(math.Round((8+rng.Float64()*20)*10) / 10)
	p.humid = float32(math.Round((30+rng.Float64()*50)*10) / 10)
	p.press = float32(math.Round((990+rng.Float64()*40)*10) / 10)

	mean := []float64{20, 60, 120, 180}[min(p.hops, 3)]
	if p.viaMQTT {
		mean = 150
	}
	minutes := math.Min(rng.ExpFloat64()*mean, 36*60)
	p.firstSeen = time.Duration(minutes * float64(time.Minute))
}

// uniqueNames invents a long and a short name that no other node has.
func uniqueNames(rng *rand.Rand, p *peer, longs, shorts map[string]bool) (string, string) {
	var long, short string
	for try := 0; ; try++ {
		switch x := rng.IntN(10); {
		case p.licensed:
			long = fmt.Sprintf("%c%c%d%c%c%c %s", "KWN"[rng.IntN(3)], 'A'+rune(rng.IntN(26)),
				rng.IntN(10), 'A'+rune(rng.IntN(26)), 'A'+rune(rng.IntN(26)), 'A'+rune(rng.IntN(26)),
				callSuffix[rng.IntN(len(callSuffix))])
		case x < 4:
			long = placeWords[rng.IntN(len(placeWords))] + " " + thingWords[rng.IntN(len(thingWords))]
		case x < 8:
			long = personNames[rng.IntN(len(personNames))] + "'s " + deviceWords[rng.IntN(len(deviceWords))]
		default:
			long = fmt.Sprintf("Meshtastic %04x", p.num&0xFFFF)
		}
		if try > 20 {
			long = fmt.Sprintf("%s %d", long, try)
		}
		if len(long) <= 24 && !longs[long] {
			break
		}
	}
	longs[long] = true
	if strings.HasPrefix(long, "Meshtastic ") {
		short = fmt.Sprintf("%04x", p.num&0xFFFF)
	} else {
		short = initials(long)
	}
	// On a clash keep a prefix of the initials and draw the rest; the
	// prefix shrinks as clashes continue, so a huge mesh still terminates
	// (36^4 names are far more than the node limit).
	for try := 0; shorts[short] || short == ""; try++ {
		keep := 2
		switch {
		case try > 50:
			keep = 0
		case try > 8:
			keep = 1
		}
		b := []byte(short)[:min(len(short), keep)]
		for len(b) < 4 {
			b = append(b, shortAlphabet[rng.IntN(len(shortAlphabet))])
		}
		short = string(b)
	}
	shorts[short] = true
	return long, short
}

// initials makes a 4-character call sign from a long name, the way people
// usually abbreviate: first letters of the words, then more letters.
func initials(long string) string {
	var out []byte
	words := strings.Fields(long)
	for _, w := range words {
		if c := w[0]; isAlnum(c) {
			out = append(out, upper(c))
		}
	}
	for _, w := range words {
		for i := 1; i < len(w) && len(out) < 4; i++ {
			if c := w[i]; isAlnum(c) && !strings.ContainsRune("aeiouAEIOU'", rune(c)) {
				out = append(out, upper(c))
			}
		}
	}
	if len(out) > 4 {
		out = out[:4]
	}
	return string(out)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// newNodeNum draws a node number that looks like the low bytes of a MAC and
// avoids the reserved values and any number already used.
func newNodeNum(rng *rand.Rand, used map[uint32]bool) uint32 {
	for {
		n := rng.Uint32()
		if n < 0x10000000 || n >= 0xFFFFFFF0 || used[n] {
			continue
		}
		used[n] = true
		return n
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// nodeID formats a node number the firmware way.
func nodeID(num uint32) string { return fmt.Sprintf("!%08x", num) }

// macOf derives a plausible MAC whose low four bytes are the node number.
func macOf(num uint32) []byte {
	return []byte{0xd4, 0x3d, byte(num >> 24), byte(num >> 16), byte(num >> 8), byte(num)}
}

func (p *peer) user() *pb.User {
	u := &pb.User{
		Id:         nodeID(p.num),
		LongName:   p.long,
		ShortName:  p.short,
		Macaddr:    macOf(p.num),
		HwModel:    p.hw,
		IsLicensed: p.licensed,
		Role:       p.role,
		PublicKey:  append([]byte(nil), p.pubKey...),
	}
	if p.rawShort != nil {
		setRawShortName(u, p.rawShort)
	}
	return u
}

// setRawShortName puts bytes that are not valid UTF-8 in u's short_name
// (field 3). protobuf-go refuses to encode such a string, so they travel as
// an unknown field with the known one left empty: on the wire it is the
// same field, exactly as nanopb firmware writes it.
func setRawShortName(u *pb.User, raw []byte) {
	u.ShortName = ""
	b := protowire.AppendTag(nil, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	u.ProtoReflect().SetUnknown(b)
}

// position reports where p is now, rounded to its precision like firmware
// does before sending.
func (p *peer) position(now time.Time) *pb.Position {
	if !p.hasPos {
		return nil
	}
	lat := int32(math.Round(p.lat * 1e7))
	lon := int32(math.Round(p.lon * 1e7))
	if p.precision > 0 && p.precision < 32 {
		mask := uint32(math.MaxUint32) << (32 - p.precision)
		half := int32(1) << (31 - p.precision)
		lat = int32(uint32(lat)&mask) + half
		lon = int32(uint32(lon)&mask) + half
	}
	alt := p.alt
	t := uint32(now.Unix())
	pos := &pb.Position{
		LatitudeI:      &lat,
		LongitudeI:     &lon,
		Altitude:       &alt,
		Time:           t,
		LocationSource: pb.Position_LOC_INTERNAL,
		PrecisionBits:  p.precision,
	}
	if p.mobile {
		speed, track := uint32(0), uint32(0)
		pos.GroundSpeed, pos.GroundTrack = &speed, &track
		pos.SatsInView = 6 + uint32(p.num%7)
	}
	return pos
}

func (p *peer) metrics(now time.Time, start time.Time) *pb.DeviceMetrics {
	battery := p.battery
	voltage := float32(math.Round((3.3+0.009*float64(min(battery, 100)))*1000) / 1000)
	if p.powered {
		voltage = 4.2
	}
	ch, air := p.chUtil, p.airUtil
	up := p.uptime + uint32(max(0, now.Sub(start)/time.Second))
	return &pb.DeviceMetrics{
		BatteryLevel:       &battery,
		Voltage:            &voltage,
		ChannelUtilization: &ch,
		AirUtilTx:          &air,
		UptimeSeconds:      &up,
	}
}

// neighbours are the nodes that hear us directly.
func (m *mesh) neighbours() []*peer {
	var out []*peer
	for _, p := range m.peers {
		if !p.viaMQTT && p.hops == 0 {
			out = append(out, p)
		}
	}
	return out
}

// knownHops is the hop count its packets show, if they carry one.
func (p *peer) knownHops() (uint32, bool) {
	if p.noHopInfo {
		return 0, false
	}
	return uint32(p.hops), true
}

// initialNodeInfo is the NodeDB entry the radio holds for p at start: the
// device has been running for a while and has heard everyone.
func (p *peer) initialNodeInfo(now time.Time) *pb.NodeInfo {
	heard := now.Add(-p.firstSeen)
	ni := &pb.NodeInfo{
		Num:           p.num,
		User:          p.user(),
		Position:      p.position(heard),
		Snr:           p.lastHopSNR(),
		LastHeard:     uint32(heard.Unix()),
		DeviceMetrics: p.metrics(heard, heard),
		Channel:       p.channel,
		ViaMqtt:       p.viaMQTT,
		IsFavorite:    p.favorite,
	}
	if h, ok := p.knownHops(); ok {
		ni.HopsAway = &h
	}
	return ni
}

// root is the neighbour whose transmission we actually hear when p's
// packets arrive: p itself, the first relay of its chain, or its MQTT
// gateway. Nil means an MQTT node with no gateway.
func (p *peer) root() *peer {
	if p.viaMQTT {
		return p.gateway
	}
	q := p
	for q.parent != nil {
		q = q.parent
	}
	return q
}

func (p *peer) lastHopSNR() float32 {
	if r := p.root(); r != nil {
		return r.snr
	}
	return 0
}

// ownNodeInfoLocked is the own node's NodeInfo as the handshake sends it:
// favourite, heard now, no hops_away.
func (r *Radio) ownNodeInfoLocked(now time.Time) *pb.NodeInfo {
	own := r.mesh.own
	var ni *pb.NodeInfo
	if cur := r.db[r.myNum]; cur != nil {
		ni = proto.Clone(cur).(*pb.NodeInfo)
	} else {
		ni = &pb.NodeInfo{Num: r.myNum, Position: own.position(now)}
	}
	ni.User = proto.Clone(r.set.owner).(*pb.User)
	ni.LastHeard = uint32(now.Unix())
	ni.IsFavorite = true
	ni.HopsAway = nil
	ni.Snr = 0
	ni.ViaMqtt = false
	ni.DeviceMetrics = own.metrics(now, now)
	up := uint32(max(0, now.Sub(r.bootAt)/time.Second))
	ni.DeviceMetrics.UptimeSeconds = &up
	return ni
}

// updateFromLocked applies a received packet to the NodeDB the way the
// firmware's NodeDB::updateFrom does: any decoded packet refreshes
// last_heard, snr, channel, via_mqtt and (when known) hops_away; NodeInfo,
// Position and device Telemetry payloads replace the stored ones.
func (r *Radio) updateFromLocked(p *pb.MeshPacket) {
	if p.From == 0 || p.From == r.myNum || p.From == Broadcast {
		return
	}
	ni := r.db[p.From]
	if ni == nil {
		ni = &pb.NodeInfo{Num: p.From}
		r.db[p.From] = ni
	}
	if p.RxTime != nil {
		ni.LastHeard = *p.RxTime
	} else {
		ni.LastHeard = r.nowSecs()
	}
	ni.Snr = p.RxSnr
	ni.Channel = p.Channel
	d := p.GetDecoded()
	if d == nil {
		return
	}
	ni.ViaMqtt = p.ViaMqtt
	if p.HopStart >= p.HopLimit && (p.HopStart != 0 || d.Bitfield != nil) {
		h := p.HopStart - p.HopLimit
		ni.HopsAway = &h
	}
	switch d.Portnum {
	case pb.PortNum_NODEINFO_APP:
		u := &pb.User{}
		if proto.Unmarshal(d.Payload, u) == nil && r.acceptUserLocked(ni, u) {
			u.Id = nodeID(p.From)
			ni.User = u
		}
	case pb.PortNum_POSITION_APP:
		pos := &pb.Position{}
		if proto.Unmarshal(d.Payload, pos) == nil && pos.LatitudeI != nil && pos.LongitudeI != nil {
			ni.Position = pos
		}
	case pb.PortNum_TELEMETRY_APP:
		t := &pb.Telemetry{}
		if proto.Unmarshal(d.Payload, t) == nil && t.GetDeviceMetrics() != nil {
			ni.DeviceMetrics = t.GetDeviceMetrics()
		}
	}
}

// acceptUserLocked is the key check of NodeDB::updateUser: once a node's
// 32-byte public key is known, a NodeInfo with another key (or none) is
// dropped ("Public Key mismatch, dropping NodeInfo"), and so is one that
// advertises our own key. The packet itself still reaches the client.
func (r *Radio) acceptUserLocked(ni *pb.NodeInfo, u *pb.User) bool {
	if k := u.GetPublicKey(); len(k) == 32 && bytes.Equal(k, r.set.owner.GetPublicKey()) {
		r.log.Info("sim: a node advertises our own public key; NodeInfo dropped", "node", nodeID(ni.Num))
		return false
	}
	if old := ni.GetUser().GetPublicKey(); len(old) == 32 && !bytes.Equal(old, u.GetPublicKey()) {
		r.log.Info("sim: public key mismatch, dropping NodeInfo", "node", nodeID(ni.Num))
		return false
	}
	return true
}

// receiveLocked is the radio hearing p: NodeDB update, then the packet goes
// to the client queue. Packets from ignored nodes, and via-MQTT packets when
// lora.ignore_mqtt is set, are dropped as firmware does.
func (r *Radio) receiveLocked(p *pb.MeshPacket) {
	if ni := r.db[p.From]; ni != nil && ni.IsIgnored && p.From != r.myNum {
		return
	}
	if p.ViaMqtt && r.set.lora().GetIgnoreMqtt() {
		return
	}
	r.updateFromLocked(p)
	r.proxyUplinkLocked(p)
	r.toPhoneLocked(p)
}

// proxyUplinkLocked publishes p the way the MQTT module does when it is
// set to proxy through the client (proxy_to_client_enabled): instead of a
// broker connection, every publish goes to the client as a
// FromRadio.mqttClientProxyMessage. Only channels with uplink enabled are
// published, and nothing that came from MQTT.
func (r *Radio) proxyUplinkLocked(p *pb.MeshPacket) {
	mq := r.set.mqtt()
	if !mq.GetEnabled() || !mq.GetProxyToClientEnabled() || p.ViaMqtt || p.TransportMechanism == pb.MeshPacket_TRANSPORT_MQTT {
		return
	}
	if p.Channel >= maxChannels || !r.set.channels[p.Channel].GetSettings().GetUplinkEnabled() {
		return
	}
	name := r.set.channels[p.Channel].GetSettings().GetName()
	if name == "" {
		name = "LongFast" // the preset's name stands in for an empty one
	}
	pkt := proto.Clone(p).(*pb.MeshPacket)
	if pkt.From == 0 {
		pkt.From = r.myNum
	}
	env, _ := proto.Marshal(&pb.ServiceEnvelope{Packet: pkt, ChannelId: name, GatewayId: nodeID(r.myNum)})
	msg := &pb.MqttClientProxyMessage{
		Topic:          mq.GetRoot() + "/2/e/" + name + "/" + nodeID(r.myNum),
		PayloadVariant: &pb.MqttClientProxyMessage_Data{Data: env},
	}
	for s := range r.sessions {
		if s.configured {
			s.urgent = append(s.urgent, wrapFromRadio(msg))
			s.notify()
		}
	}
}

// toPhoneLocked queues p for the client. The queue is bounded like the
// firmware's: when full, a text (or range test) evicts the oldest entry and
// anything else is dropped itself.
func (r *Radio) toPhoneLocked(p *pb.MeshPacket) {
	if len(r.toPhone) >= toPhoneMax {
		port := p.GetDecoded().GetPortnum()
		if port != pb.PortNum_TEXT_MESSAGE_APP && port != pb.PortNum_RANGE_TEST_APP {
			r.stats.queueDropped.Add(1)
			return
		}
		r.toPhone = append(r.toPhone[:0], r.toPhone[1:]...)
		r.stats.queueDropped.Add(1)
	}
	r.toPhone = append(r.toPhone, p)
	for s := range r.sessions {
		s.notify()
	}
}
