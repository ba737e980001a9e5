package sim

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// settings is the radio's persistent configuration: what the handshake
// streams and what admin getters and setters read and write.
//
// Config and ModuleConfig are kept per oneof field number rather than as
// typed fields, so every variant our .proto knows is streamed and settable
// without a hand-written list (the firmware iterates tags the same way, and
// clients must not depend on the count).
type settings struct {
	owner    *pb.User
	channels [maxChannels]*pb.Channel
	config   map[protoreflect.FieldNumber]*pb.Config
	module   map[protoreflect.FieldNumber]*pb.ModuleConfig
	ui       *pb.DeviceUIConfig
	canned   string
	ringtone string
}

var (
	configOneof = (&pb.Config{}).ProtoReflect().Descriptor().Oneofs().ByName("payload_variant")
	moduleOneof = (&pb.ModuleConfig{}).ProtoReflect().Descriptor().Oneofs().ByName("payload_variant")
)

// configTag is the oneof field number set in c (0 if none).
func configTag(c *pb.Config) protoreflect.FieldNumber {
	if fd := c.ProtoReflect().WhichOneof(configOneof); fd != nil {
		return fd.Number()
	}
	return 0
}

func moduleTag(c *pb.ModuleConfig) protoreflect.FieldNumber {
	if fd := c.ProtoReflect().WhichOneof(moduleOneof); fd != nil {
		return fd.Number()
	}
	return 0
}

// emptyVariant returns a message of type M with the oneof member fd set to
// an empty sub-message.
func emptyVariant[M proto.Message](m M, fd protoreflect.FieldDescriptor) M {
	rm := m.ProtoReflect()
	rm.Set(fd, rm.NewField(fd))
	return m
}

// defaultSettings is the configuration of a device that was set up for the
// US region with the default LongFast channel: what most radios in the
// field report.
func defaultSettings(own *peer, cfg Config, m *mesh) *settings {
	s := &settings{
		config: make(map[protoreflect.FieldNumber]*pb.Config),
		module: make(map[protoreflect.FieldNumber]*pb.ModuleConfig),
		ui:     &pb.DeviceUIConfig{},
	}
	long, short := own.long, own.short
	if cfg.LongName != "" {
		long = clampUTF8(cfg.LongName, 24)
	}
	if cfg.ShortName != "" {
		short = clampUTF8(cfg.ShortName, 4)
	}
	s.owner = &pb.User{
		Id:        nodeID(own.num),
		LongName:  long,
		ShortName: short,
		Macaddr:   macOf(own.num),
		HwModel:   own.hw,
		Role:      own.role,
		PublicKey: append([]byte(nil), own.pubKey...),
	}

	s.channels[0] = &pb.Channel{Index: 0, Role: pb.Channel_PRIMARY, Settings: &pb.ChannelSettings{
		Psk:            []byte{0x01}, // the well-known default key
		ModuleSettings: &pb.ModuleSettings{PositionPrecision: 13},
	}}
	next := 1
	for _, sec := range []struct {
		name string
		psk  []byte
	}{{m.secName, m.secPSK}, {m.third, m.thirdK}} {
		if sec.name == "" {
			continue
		}
		s.channels[next] = &pb.Channel{Index: int32(next), Role: pb.Channel_SECONDARY, Settings: &pb.ChannelSettings{
			Psk:            append([]byte(nil), sec.psk...),
			Name:           sec.name,
			ModuleSettings: &pb.ModuleSettings{PositionPrecision: 32},
		}}
		next++
	}
	for i := next; i < maxChannels; i++ {
		s.channels[i] = &pb.Channel{Index: int32(i), Role: pb.Channel_DISABLED, Settings: &pb.ChannelSettings{}}
	}

	fields := configOneof.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		s.config[fd.Number()] = emptyVariant(&pb.Config{}, fd)
	}
	positionFlags := uint32(pb.Config_PositionConfig_ALTITUDE | pb.Config_PositionConfig_ALTITUDE_MSL |
		pb.Config_PositionConfig_DOP | pb.Config_PositionConfig_SATINVIEW |
		pb.Config_PositionConfig_HEADING | pb.Config_PositionConfig_SPEED)
	for _, c := range []*pb.Config{
		{PayloadVariant: &pb.Config_Device{Device: &pb.Config_DeviceConfig{
			Role:                  own.role,
			RebroadcastMode:       pb.Config_DeviceConfig_ALL,
			NodeInfoBroadcastSecs: 10800,
			Tzdef:                 "PST8PDT,M3.2.0,M11.1.0",
		}}},
		{PayloadVariant: &pb.Config_Position{Position: &pb.Config_PositionConfig{
			PositionBroadcastSecs:             900,
			PositionBroadcastSmartEnabled:     true,
			GpsUpdateInterval:                 120,
			PositionFlags:                     positionFlags,
			BroadcastSmartMinimumDistance:     100,
			BroadcastSmartMinimumIntervalSecs: 30,
			GpsMode:                           pb.Config_PositionConfig_NOT_PRESENT,
			FixedPosition:                     true,
		}}},
		{PayloadVariant: &pb.Config_Power{Power: &pb.Config_PowerConfig{
			WaitBluetoothSecs: 60,
			SdsSecs:           31536000,
			LsSecs:            300,
			MinWakeSecs:       10,
		}}},
		{PayloadVariant: &pb.Config_Network{Network: &pb.Config_NetworkConfig{
			WifiEnabled: true,
			WifiSsid:    "meshnet",
			WifiPsk:     "correct-horse-battery",
			NtpServer:   "meshtastic.pool.ntp.org",
			AddressMode: pb.Config_NetworkConfig_DHCP,
			Ipv4Config:  &pb.Config_NetworkConfig_IpV4Config{},
		}}},
		{PayloadVariant: &pb.Config_Display{Display: &pb.Config_DisplayConfig{
			ScreenOnSecs: 600,
			Units:        pb.Config_DisplayConfig_METRIC,
		}}},
		{PayloadVariant: &pb.Config_Lora{Lora: &pb.Config_LoRaConfig{
			UsePreset:           true,
			ModemPreset:         pb.Config_LoRaConfig_LONG_FAST,
			Region:              pb.Config_LoRaConfig_US,
			HopLimit:            3,
			TxEnabled:           true,
			TxPower:             30,
			Sx126XRxBoostedGain: true,
		}}},
		{PayloadVariant: &pb.Config_Bluetooth{Bluetooth: &pb.Config_BluetoothConfig{
			Enabled:  true,
			Mode:     pb.Config_BluetoothConfig_RANDOM_PIN,
			FixedPin: 123456,
		}}},
		{PayloadVariant: &pb.Config_Security{Security: &pb.Config_SecurityConfig{
			PublicKey:     append([]byte(nil), own.pubKey...),
			PrivateKey:    append([]byte(nil), m.privKey...),
			SerialEnabled: true,
		}}},
	} {
		s.config[configTag(c)] = c
	}

	// A 2.7 radio streams module configs up to tak (tag 16); mesh_beacon
	// (17) arrived with 2.8. Follow the firmware version we claim.
	lastModule := protoreflect.FieldNumber(16)
	if firmware28(cfg.Firmware) {
		lastModule = 1 << 29
	}
	mfields := moduleOneof.Fields()
	for i := range mfields.Len() {
		fd := mfields.Get(i)
		if fd.Number() > lastModule {
			continue
		}
		s.module[fd.Number()] = emptyVariant(&pb.ModuleConfig{}, fd)
	}
	for _, c := range []*pb.ModuleConfig{
		{PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: &pb.ModuleConfig_MQTTConfig{
			Enabled:           false,
			Address:           "mqtt.meshtastic.org",
			Username:          "meshdev",
			Password:          "large4cats",
			EncryptionEnabled: true,
			JsonEnabled:       false,
			TlsEnabled:        false,
			Root:              "msh/US",
			MapReportSettings: &pb.ModuleConfig_MapReportSettings{
				PublishIntervalSecs: 3600,
				PositionPrecision:   14,
			},
		}}},
		{PayloadVariant: &pb.ModuleConfig_Telemetry{Telemetry: &pb.ModuleConfig_TelemetryConfig{
			DeviceUpdateInterval:      1800,
			EnvironmentUpdateInterval: 1800,
		}}},
		{PayloadVariant: &pb.ModuleConfig_NeighborInfo{NeighborInfo: &pb.ModuleConfig_NeighborInfoConfig{
			UpdateInterval: 14400,
		}}},
	} {
		s.module[moduleTag(c)] = c
	}
	s.ringtone = "24:d=32,o=5,b=565:f6,p,f6,4p,p,f6,p,f6,2p,p,b6,p,b6,p,b6,p,b6,p,b,p,b,p,b,p,b,p,b,p,b,p,b,p,b,1p.,2p.,p"
	return s
}

// clone deep-copies the settings (RAM to flash and back).
func (s *settings) clone() *settings {
	c := &settings{
		owner:    proto.Clone(s.owner).(*pb.User),
		config:   make(map[protoreflect.FieldNumber]*pb.Config, len(s.config)),
		module:   make(map[protoreflect.FieldNumber]*pb.ModuleConfig, len(s.module)),
		ui:       proto.Clone(s.ui).(*pb.DeviceUIConfig),
		canned:   s.canned,
		ringtone: s.ringtone,
	}
	for i, ch := range s.channels {
		c.channels[i] = proto.Clone(ch).(*pb.Channel)
	}
	for k, v := range s.config {
		c.config[k] = proto.Clone(v).(*pb.Config)
	}
	for k, v := range s.module {
		c.module[k] = proto.Clone(v).(*pb.ModuleConfig)
	}
	return c
}

// clampUTF8 cuts s to at most n bytes without splitting a character.
func clampUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Typed views of the stored configs. They return nil only if a client
// managed to store a broken variant, which the setters prevent.

func (s *settings) lora() *pb.Config_LoRaConfig {
	return s.config[configTag(&pb.Config{PayloadVariant: &pb.Config_Lora{}})].GetLora()
}

func (s *settings) device() *pb.Config_DeviceConfig {
	return s.config[configTag(&pb.Config{PayloadVariant: &pb.Config_Device{}})].GetDevice()
}

func (s *settings) position() *pb.Config_PositionConfig {
	return s.config[configTag(&pb.Config{PayloadVariant: &pb.Config_Position{}})].GetPosition()
}

func (s *settings) security() *pb.Config_SecurityConfig {
	return s.config[configTag(&pb.Config{PayloadVariant: &pb.Config_Security{}})].GetSecurity()
}

func (s *settings) mqtt() *pb.ModuleConfig_MQTTConfig {
	return s.module[moduleTag(&pb.ModuleConfig{PayloadVariant: &pb.ModuleConfig_Mqtt{}})].GetMqtt()
}

func (s *settings) hopLimit() uint32 {
	if h := s.lora().GetHopLimit(); h > 0 && h <= maxHops {
		return h
	}
	return 3
}

// channelUsable reports whether index names an enabled channel slot.
func (s *settings) channelUsable(index uint32) bool {
	return index < maxChannels && s.channels[index].GetRole() != pb.Channel_DISABLED
}

func (r *Radio) metadataLocked() *pb.DeviceMetadata {
	return &pb.DeviceMetadata{
		FirmwareVersion:    r.cfg.Firmware,
		DeviceStateVersion: 24,
		CanShutdown:        true,
		HasWifi:            true,
		HasBluetooth:       true,
		Role:               r.set.device().GetRole(),
		PositionFlags:      r.set.position().GetPositionFlags(),
		HwModel:            r.mesh.own.hw,
		HasPKC:             true,
	}
}

func (r *Radio) myInfoLocked() *pb.MyNodeInfo {
	return &pb.MyNodeInfo{
		MyNodeNum:     r.myNum,
		RebootCount:   r.rebootCount,
		MinAppVersion: 30200,
		DeviceId:      append([]byte(nil), r.mesh.devID...),
		PioEnv:        r.mesh.pioEnv,
		NodedbCount:   uint32(len(r.db)),
	}
}

// fileManifestLocked lists the files a device of this kind has in flash.
func (r *Radio) fileManifestLocked() []*pb.FileInfo {
	return []*pb.FileInfo{
		{FileName: "/prefs/channels.proto", SizeBytes: 214},
		{FileName: "/prefs/config.proto", SizeBytes: 342},
		{FileName: "/prefs/device.proto", SizeBytes: 148},
		{FileName: "/prefs/module.proto", SizeBytes: 411},
		{FileName: "/prefs/nodes.proto", SizeBytes: uint32(96 + 178*len(r.db))},
		{FileName: "/static/index.html", SizeBytes: 2012},
	}
}

// firmware28 reports whether a firmware version behaves like 2.8: the
// simulation knows 2.6 and 2.7 as the older behaviour and treats anything
// else as 2.8.
func firmware28(version string) bool {
	return !strings.HasPrefix(version, "2.7.") && !strings.HasPrefix(version, "2.6.")
}

// configStreamLocked builds the FromRadio sequence that answers a
// want_config_id, in the order the firmware sends it (the apps rely on it).
func (r *Radio) configStreamLocked(nonce uint32) []*pb.FromRadio {
	onlyNodes := nonce == NonceOnlyNodes
	onlyConfig := nonce == NonceOnlyConfig
	var out []*pb.FromRadio
	add := func(v any) {
		out = append(out, wrapFromRadio(v))
	}
	now := r.now()
	if !onlyNodes {
		add(r.myInfoLocked())
		add(proto.Clone(r.set.ui))
	}
	add(r.ownNodeInfoLocked(now))
	if !onlyNodes {
		add(r.metadataLocked())
		for _, ch := range r.set.channels {
			add(proto.Clone(ch))
		}
		fields := configOneof.Fields()
		for i := range fields.Len() {
			c := proto.Clone(r.set.config[fields.Get(i).Number()]).(*pb.Config)
			if pw := c.GetPower(); pw != nil {
				pw.LsSecs = 300 // the firmware always streams the default here
			}
			add(c)
		}
		mfields := moduleOneof.Fields()
		for i := range mfields.Len() {
			add(proto.Clone(r.set.module[mfields.Get(i).Number()]))
		}
	}
	thin := firmware28(r.cfg.Firmware)
	if !onlyConfig {
		for _, ni := range r.sortedNodesLocked(false) {
			if thin {
				// 2.8 keeps positions and telemetry in separate tables and
				// replays them after config_complete_id.
				ni.Position, ni.DeviceMetrics = nil, nil
			}
			add(ni)
		}
	}
	if !onlyNodes {
		for _, fi := range r.fileManifestLocked() {
			add(fi)
		}
	}
	out = append(out, &pb.FromRadio{PayloadVariant: &pb.FromRadio_ConfigCompleteId{ConfigCompleteId: nonce}})
	return out
}

// replayLocked is what firmware 2.8 sends after config_complete_id
// (PhoneAPI::popReplayPacket): each known position, then each node's
// device telemetry, as broadcast packets from that node shaped like live
// ones: rx_time the record's own time, channel 0, hop fields from the
// known hop count, priority BACKGROUND, transport LORA, no RSSI, no
// bitfield, and a stable id derived from node, time and kind
// (makeReplayPacketId), so an unchanged record keeps its id across
// reconnects. The config-only nonce skips it.
func (r *Radio) replayLocked(nonce uint32) []*pb.MeshPacket {
	if !firmware28(r.cfg.Firmware) || nonce == NonceOnlyConfig {
		return nil
	}
	nodes := r.sortedNodesLocked(false)
	var out []*pb.MeshPacket
	mk := func(ni *pb.NodeInfo, at uint32, kind uint32, port pb.PortNum, m proto.Message) *pb.MeshPacket {
		payload, _ := proto.Marshal(m)
		hl := r.set.hopLimit()
		hops := min(ni.GetHopsAway(), hl)
		t := at
		return &pb.MeshPacket{
			From: ni.Num, To: Broadcast, Id: ReplayPacketID(ni.Num, at, kind), RxTime: &t,
			RxSnr: ni.Snr, HopStart: hl, HopLimit: hl - hops, Priority: pb.MeshPacket_BACKGROUND,
			TransportMechanism: pb.MeshPacket_TRANSPORT_LORA,
			PayloadVariant:     &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: port, Payload: payload}},
		}
	}
	for _, ni := range nodes {
		if pos := ni.GetPosition(); pos != nil && pos.LatitudeI != nil {
			out = append(out, mk(ni, pos.GetTime(), uint32(pb.PortNum_POSITION_APP), pb.PortNum_POSITION_APP, pos))
		}
	}
	for _, ni := range nodes {
		if dm := ni.GetDeviceMetrics(); dm != nil {
			tel := &pb.Telemetry{Time: ni.LastHeard, Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: dm}}
			out = append(out, mk(ni, ni.LastHeard, replayKindDeviceMetrics, pb.PortNum_TELEMETRY_APP, tel))
		}
	}
	return out
}

// replayKindDeviceMetrics is the Telemetry oneof tag of device_metrics, the
// kind the firmware mixes into a replayed telemetry packet's id.
const replayKindDeviceMetrics = 2

// ReplayPacketID is the id firmware 2.8 gives a packet it replays from its
// NodeDB after a handshake (PhoneAPI.cpp, makeReplayPacketId): node number
// and record time mixed with the multiplier 2654435761, then the kind (the
// port for positions, the Telemetry variant tag for telemetry); 0 becomes 1.
func ReplayPacketID(num, timestamp, kind uint32) uint32 {
	h := num
	h = h*2654435761 + timestamp
	h = h*2654435761 + kind
	if h == 0 {
		return 1
	}
	return h
}

// wrapFromRadio puts a message into the matching FromRadio variant.
func wrapFromRadio(v any) *pb.FromRadio {
	f := &pb.FromRadio{}
	switch m := v.(type) {
	case *pb.MyNodeInfo:
		f.PayloadVariant = &pb.FromRadio_MyInfo{MyInfo: m}
	case *pb.DeviceUIConfig:
		f.PayloadVariant = &pb.FromRadio_DeviceuiConfig{DeviceuiConfig: m}
	case *pb.NodeInfo:
		f.PayloadVariant = &pb.FromRadio_NodeInfo{NodeInfo: m}
	case *pb.DeviceMetadata:
		f.PayloadVariant = &pb.FromRadio_Metadata{Metadata: m}
	case *pb.Channel:
		f.PayloadVariant = &pb.FromRadio_Channel{Channel: m}
	case *pb.Config:
		f.PayloadVariant = &pb.FromRadio_Config{Config: m}
	case *pb.ModuleConfig:
		f.PayloadVariant = &pb.FromRadio_ModuleConfig{ModuleConfig: m}
	case *pb.FileInfo:
		f.PayloadVariant = &pb.FromRadio_FileInfo{FileInfo: m}
	case *pb.MeshPacket:
		f.PayloadVariant = &pb.FromRadio_Packet{Packet: m}
	case *pb.QueueStatus:
		f.PayloadVariant = &pb.FromRadio_QueueStatus{QueueStatus: m}
	case *pb.ClientNotification:
		f.PayloadVariant = &pb.FromRadio_ClientNotification{ClientNotification: m}
	case *pb.LogRecord:
		f.PayloadVariant = &pb.FromRadio_LogRecord{LogRecord: m}
	case *pb.MqttClientProxyMessage:
		f.PayloadVariant = &pb.FromRadio_MqttClientProxyMessage{MqttClientProxyMessage: m}
	default:
		panic("sim: wrapFromRadio: unexpected type")
	}
	return f
}
