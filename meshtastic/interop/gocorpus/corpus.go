package main

import (
	"bytes"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// The corpus only uses fields and enum values that @meshtastic/protobufs
// 2.7.18 knows, so that the JS side decodes everything without unknown
// fields. Our schemas are newer; left out on purpose:
//
//	MeshPacket.xeddsa_signed (22)        Data.xeddsa_signature (10)
//	NodeInfo.has_xeddsa_signed (14)      DeviceMetadata.has_xeddsa (14)
//	FromRadio.lockdown_status (18)       FromRadio.region_presets (19)
//	AdminMessage.lockdown_auth (104)     Telemetry.traffic_management_stats (9)
//	ModuleConfig.traffic_management (15), tak (16), mesh_beacon (17)
//	Config.LoRaConfig.fem_lna_mode (106), serial_hal_only (107)
//	Config.SecurityConfig.packet_signature_policy (9)
//	Waypoint.geofence_radius .. notify_favorites_only (9-13)
//	enum values: HardwareModel >= 124, RegionCode >= 27, ModemPreset >= 10,
//	FirmwareEdition >= 20, PortNum 13/37/75/78/79/112, TransportMechanism 8,
//	OledType 5, ModuleConfigType 14-16 (the package would print numbers)
//
// MeshPacket.rx_time and rx_rssi are `optional` in ours but not in the
// package, so they are never set to 0 here: protojson would print the zero,
// the package's toJson would not.

const (
	myNode    = 0x1234abcd
	otherNode = 0x0badc0de
	farNode   = 0xa1b2c3d4
	broadcast = 0xffffffff
)

// builder accumulates entries and remembers the first error.
type builder struct {
	entries []entry
	err     error
}

func (b *builder) add(name string, m proto.Message) {
	if b.err != nil {
		return
	}
	e, err := newEntry(name, m)
	if err != nil {
		b.err = err
		return
	}
	b.entries = append(b.entries, e)
}

// payload adds m as an entry of its own (so the JS side checks the inner
// message too) and returns its encoding for use as Data.payload.
func (b *builder) payload(name string, m proto.Message) []byte {
	b.add(name, m)
	raw, err := proto.Marshal(m)
	if err != nil && b.err == nil {
		b.err = err
	}
	return raw
}

func toRadio(p *pb.MeshPacket) *pb.ToRadio {
	return &pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}}
}

func fromRadio(p *pb.MeshPacket) *pb.FromRadio {
	return &pb.FromRadio{PayloadVariant: &pb.FromRadio_Packet{Packet: p}}
}

func decoded(d *pb.Data) *pb.MeshPacket_Decoded { return &pb.MeshPacket_Decoded{Decoded: d} }

// adminPacket wraps an AdminMessage the way a client sends it to its own node.
func adminPacket(id uint32, payload []byte) *pb.ToRadio {
	return toRadio(&pb.MeshPacket{
		To: myNode, Id: id, HopLimit: 3, WantAck: true,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_ADMIN_APP, Payload: payload, WantResponse: true}),
	})
}

func u32(v uint32) *uint32   { return &v }
func i32(v int32) *int32     { return &v }
func f32(v float32) *float32 { return &v }
func seq(n int, from byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = from + byte(i)
	}
	return out
}

func buildCorpus() ([]entry, error) {
	b := &builder{}
	clientToRadio(b)
	adminToRadio(b)
	handshakeFromRadio(b)
	packetsFromRadio(b)
	return b.entries, b.err
}

// clientToRadio: the session messages and mesh packets a client sends.
func clientToRadio(b *builder) {
	b.add("ToRadio want_config_id", &pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 12345}})
	b.add("ToRadio heartbeat", &pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
	b.add("ToRadio heartbeat nonce 1", &pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{Nonce: 1}}})
	b.add("ToRadio disconnect", &pb.ToRadio{PayloadVariant: &pb.ToRadio_Disconnect{Disconnect: true}})

	b.add("ToRadio text broadcast", toRadio(&pb.MeshPacket{
		To: broadcast, Id: 0x12345678, HopLimit: 3,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("hi")}),
	}))
	b.add("ToRadio text DM", toRadio(&pb.MeshPacket{
		To: otherNode, Channel: 2, Id: 0x9abcdef0, HopLimit: 5, WantAck: true,
		Priority: pb.MeshPacket_RELIABLE,
		PayloadVariant: decoded(&pb.Data{
			Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("grüße, 👋"), ReplyId: 0x0badcafe,
		}),
	}))
	b.add("ToRadio tapback", toRadio(&pb.MeshPacket{
		To: broadcast, Channel: 1, Id: 0x00000401, HopLimit: 3,
		PayloadVariant: decoded(&pb.Data{
			Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("👍"), ReplyId: 0x12345678, Emoji: 1,
		}),
	}))
	route := b.payload("RouteDiscovery empty (traceroute request)", &pb.RouteDiscovery{})
	b.add("ToRadio traceroute request", toRadio(&pb.MeshPacket{
		To: farNode, Id: 0x00000402, HopLimit: 3, WantAck: true,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, Payload: route, WantResponse: true}),
	}))
	pos := b.payload("Position (client fixed position)", &pb.Position{
		LatitudeI: i32(-337000000), LongitudeI: i32(1512000000), Altitude: i32(-12),
		Time: 1767225600, LocationSource: pb.Position_LOC_MANUAL, PrecisionBits: 32,
	})
	b.add("ToRadio position broadcast", toRadio(&pb.MeshPacket{
		To: broadcast, Id: 0x00000403, HopLimit: 3,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_POSITION_APP, Payload: pos}),
	}))
}

// adminToRadio: AdminMessages (on their own and wrapped in ToRadio).
func adminToRadio(b *builder) {
	passkey := seq(8, 0xa0)
	msg := func(name string, id uint32, a *pb.AdminMessage) {
		b.add("ToRadio admin "+name, adminPacket(id, b.payload("AdminMessage "+name, a)))
	}
	msg("get_config_request DEVICE_CONFIG", 0x501, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: pb.AdminMessage_DEVICE_CONFIG},
	})
	msg("get_config_request LORA_CONFIG", 0x502, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: pb.AdminMessage_LORA_CONFIG},
	})
	msg("get_module_config_request MQTT_CONFIG", 0x503, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_GetModuleConfigRequest{GetModuleConfigRequest: pb.AdminMessage_MQTT_CONFIG},
	})
	msg("get_channel_request index 2", 0x504, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_GetChannelRequest{GetChannelRequest: 3},
	})
	msg("begin_edit_settings", 0x505, &pb.AdminMessage{
		SessionPasskey: passkey,
		PayloadVariant: &pb.AdminMessage_BeginEditSettings{BeginEditSettings: true},
	})
	msg("set_module_config mqtt", 0x506, &pb.AdminMessage{
		SessionPasskey: passkey,
		PayloadVariant: &pb.AdminMessage_SetModuleConfig{SetModuleConfig: &pb.ModuleConfig{
			PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: fullMQTT()},
		}},
	})
	msg("commit_edit_settings", 0x507, &pb.AdminMessage{
		SessionPasskey: passkey,
		PayloadVariant: &pb.AdminMessage_CommitEditSettings{CommitEditSettings: true},
	})
	msg("reboot_seconds 5", 0x508, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 5},
	})
	msg("reboot_seconds -1 (cancel)", 0x509, &pb.AdminMessage{
		PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: -1},
	})
}

func fullMQTT() *pb.ModuleConfig_MQTTConfig {
	return &pb.ModuleConfig_MQTTConfig{
		Enabled: true, Address: "mqtt.example.org:8883", Username: "meshdev", Password: "large4cats",
		EncryptionEnabled: true, JsonEnabled: true, TlsEnabled: true, Root: "msh/EU_868",
		ProxyToClientEnabled: true, MapReportingEnabled: true,
		MapReportSettings: &pb.ModuleConfig_MapReportSettings{
			PublishIntervalSecs: 3600, PositionPrecision: 14, ShouldReportLocation: true,
		},
	}
}

// handshakeFromRadio: what a device streams after want_config_id.
func handshakeFromRadio(b *builder) {
	b.add("FromRadio my_info", &pb.FromRadio{PayloadVariant: &pb.FromRadio_MyInfo{MyInfo: &pb.MyNodeInfo{
		MyNodeNum: myNode, RebootCount: 17, MinAppVersion: 30200, DeviceId: seq(16, 0x10),
		PioEnv: "heltec-v3", FirmwareEdition: pb.FirmwareEdition_SMART_CITIZEN, NodedbCount: 21,
	}}})
	b.add("FromRadio node_info own", &pb.FromRadio{PayloadVariant: &pb.FromRadio_NodeInfo{NodeInfo: &pb.NodeInfo{
		Num: myNode, LastHeard: 1767225600, IsFavorite: true,
		User: &pb.User{Id: "!1234abcd", LongName: "Meshgate Base", ShortName: "MGB",
			HwModel: pb.HardwareModel_HELTEC_V3, Role: pb.Config_DeviceConfig_CLIENT, PublicKey: seq(32, 1)},
	}}})
	b.add("FromRadio node_info other", &pb.FromRadio{PayloadVariant: &pb.FromRadio_NodeInfo{NodeInfo: &pb.NodeInfo{
		Num: otherNode, Snr: -6.25, LastHeard: 1767225000, Channel: 1, ViaMqtt: true, HopsAway: u32(2),
		IsIgnored: true, IsMuted: true,
		User: &pb.User{Id: "!0badc0de", LongName: "Hilltop Relay ⛰", ShortName: "HR1",
			HwModel: pb.HardwareModel_RAK4631, IsLicensed: true, Role: pb.Config_DeviceConfig_ROUTER,
			Macaddr: seq(6, 0xd0)},
		Position: &pb.Position{LatitudeI: i32(473769000), LongitudeI: i32(-85417000), Altitude: i32(420),
			Time: 1767224000, LocationSource: pb.Position_LOC_INTERNAL, AltitudeSource: pb.Position_ALT_BAROMETRIC,
			AltitudeHae: i32(-3), SatsInView: 9, PrecisionBits: 13, GroundSpeed: u32(4), GroundTrack: u32(27000)},
		DeviceMetrics: &pb.DeviceMetrics{BatteryLevel: u32(101), Voltage: f32(4.17),
			ChannelUtilization: f32(12.5), AirUtilTx: f32(0.37), UptimeSeconds: u32(86461)},
	}}})
	b.add("FromRadio metadata", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Metadata{Metadata: &pb.DeviceMetadata{
		FirmwareVersion: "2.7.15.567b8ea", DeviceStateVersion: 24, CanShutdown: true, HasWifi: true,
		HasBluetooth: true, Role: pb.Config_DeviceConfig_CLIENT_MUTE, PositionFlags: 811,
		HwModel: pb.HardwareModel_HELTEC_V3, HasPKC: true, ExcludedModules: 0x1200,
	}}})
	b.add("FromRadio channel primary", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Channel{Channel: &pb.Channel{
		Index: 0, Role: pb.Channel_PRIMARY,
		Settings: &pb.ChannelSettings{Psk: []byte{1}, UplinkEnabled: true,
			ModuleSettings: &pb.ModuleSettings{PositionPrecision: 13}},
	}}})
	b.add("FromRadio channel secondary", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Channel{Channel: &pb.Channel{
		Index: 1, Role: pb.Channel_SECONDARY,
		Settings: &pb.ChannelSettings{Psk: seq(32, 0xe0), Name: "admin", Id: 0xfeedf00d,
			DownlinkEnabled: true, ModuleSettings: &pb.ModuleSettings{IsMuted: true}},
	}}})
	b.add("FromRadio channel disabled", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Channel{Channel: &pb.Channel{
		Index: 7, Settings: &pb.ChannelSettings{},
	}}})
	b.add("FromRadio config device", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Config{Config: &pb.Config{
		PayloadVariant: &pb.Config_Device{Device: &pb.Config_DeviceConfig{
			Role: pb.Config_DeviceConfig_ROUTER_LATE, RebroadcastMode: pb.Config_DeviceConfig_LOCAL_ONLY,
			NodeInfoBroadcastSecs: 10800, DoubleTapAsButtonPress: true, Tzdef: "CET-1CEST,M3.5.0,M10.5.0/3",
			LedHeartbeatDisabled: true, ButtonGpio: 0, BuzzerGpio: 38,
		}},
	}}})
	b.add("FromRadio config lora", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Config{Config: &pb.Config{
		PayloadVariant: &pb.Config_Lora{Lora: &pb.Config_LoRaConfig{
			UsePreset: true, ModemPreset: pb.Config_LoRaConfig_MEDIUM_FAST, Region: pb.Config_LoRaConfig_EU_868,
			HopLimit: 3, TxEnabled: true, TxPower: 27, FrequencyOffset: -0.75, ChannelNum: 1,
			IgnoreIncoming: []uint32{otherNode, farNode}, ConfigOkToMqtt: true,
		}},
	}}})
	b.add("FromRadio config sessionkey (empty)", &pb.FromRadio{PayloadVariant: &pb.FromRadio_Config{Config: &pb.Config{
		PayloadVariant: &pb.Config_Sessionkey{Sessionkey: &pb.Config_SessionkeyConfig{}},
	}}})
	b.add("FromRadio moduleConfig mqtt", &pb.FromRadio{PayloadVariant: &pb.FromRadio_ModuleConfig{ModuleConfig: &pb.ModuleConfig{
		PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: fullMQTT()},
	}}})
	b.add("FromRadio config_complete_id", &pb.FromRadio{PayloadVariant: &pb.FromRadio_ConfigCompleteId{ConfigCompleteId: 0xfedcba98}})
}

// packetsFromRadio: live traffic and status messages after the handshake.
func packetsFromRadio(b *builder) {
	b.add("FromRadio queueStatus", &pb.FromRadio{PayloadVariant: &pb.FromRadio_QueueStatus{QueueStatus: &pb.QueueStatus{
		Free: 15, Maxlen: 16, MeshPacketId: 0x9abcdef0,
	}}})
	b.add("FromRadio queueStatus error", &pb.FromRadio{PayloadVariant: &pb.FromRadio_QueueStatus{QueueStatus: &pb.QueueStatus{
		Res: -5, Maxlen: 16,
	}}})
	b.add("FromRadio clientNotification", &pb.FromRadio{PayloadVariant: &pb.FromRadio_ClientNotification{
		ClientNotification: &pb.ClientNotification{ReplyId: u32(0x00000402), Time: 1767225601,
			Level: pb.LogRecord_WARNING, Message: "TraceRoute can only be sent once every 30 seconds"},
	}})

	routing := b.payload("Routing error_reason MAX_RETRANSMIT", &pb.Routing{
		Variant: &pb.Routing_ErrorReason{ErrorReason: pb.Routing_MAX_RETRANSMIT},
	})
	b.add("FromRadio routing error packet", fromRadio(&pb.MeshPacket{
		From: myNode, To: myNode, Id: 0x77770001, RxTime: u32(1767225610), HopLimit: 3, Priority: pb.MeshPacket_ACK,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_ROUTING_APP, Payload: routing, RequestId: 0x9abcdef0}),
	}))
	ack := b.payload("Routing error_reason NONE (ack)", &pb.Routing{
		Variant: &pb.Routing_ErrorReason{ErrorReason: pb.Routing_NONE},
	})
	b.add("FromRadio routing ack packet", fromRadio(&pb.MeshPacket{
		From: otherNode, To: myNode, Channel: 2, Id: 0x77770002, RxTime: u32(1767225611),
		RxSnr: 5.5, RxRssi: i32(-97), HopLimit: 2, HopStart: 3, Priority: pb.MeshPacket_ACK,
		TransportMechanism: pb.MeshPacket_TRANSPORT_LORA,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_ROUTING_APP, Payload: ack, RequestId: 0x9abcdef0,
			Bitfield: u32(1)}),
	}))

	trace := b.payload("RouteDiscovery with negative SNRs and unknown hops", &pb.RouteDiscovery{
		Route:      []uint32{otherNode, 0xffffffff},
		SnrTowards: []int32{-20, -128, 23},
		RouteBack:  []uint32{0xffffffff, otherNode},
		SnrBack:    []int32{12, -1, -40},
	})
	b.add("FromRadio traceroute reply packet", fromRadio(&pb.MeshPacket{
		From: farNode, To: myNode, Id: 0x77770003, RxTime: u32(1767225620), RxSnr: -7.25, RxRssi: i32(-118),
		HopLimit: 1, HopStart: 5, WantAck: true,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, Payload: trace, RequestId: 0x00000402}),
	}))

	tele := b.payload("Telemetry device_metrics", &pb.Telemetry{Time: 1767225630,
		Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: &pb.DeviceMetrics{
			BatteryLevel: u32(87), Voltage: f32(3.98), ChannelUtilization: f32(7.1833334),
			AirUtilTx: f32(1.0395), UptimeSeconds: u32(3600),
		}}})
	b.add("FromRadio telemetry packet", fromRadio(&pb.MeshPacket{
		From: otherNode, To: broadcast, Id: 0x77770004, RxTime: u32(1767225630), RxSnr: 9.75, RxRssi: i32(-64),
		HopLimit: 3, HopStart: 3, Priority: pb.MeshPacket_BACKGROUND,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_TELEMETRY_APP, Payload: tele, Bitfield: u32(1)}),
	}))

	user := b.payload("User (nodeinfo broadcast)", &pb.User{Id: "!a1b2c3d4", LongName: "Far Away", ShortName: "FAR",
		HwModel: pb.HardwareModel_TBEAM, Role: pb.Config_DeviceConfig_TRACKER, PublicKey: seq(32, 0x40)})
	b.add("FromRadio nodeinfo packet", fromRadio(&pb.MeshPacket{
		From: farNode, To: broadcast, Id: 0x77770005, RxTime: u32(1767225640), HopLimit: 0, HopStart: 7, ViaMqtt: true,
		TransportMechanism: pb.MeshPacket_TRANSPORT_MQTT,
		PayloadVariant:     decoded(&pb.Data{Portnum: pb.PortNum_NODEINFO_APP, Payload: user, WantResponse: true}),
	}))

	text := []byte("hello from the hill")
	b.add("FromRadio text packet", fromRadio(&pb.MeshPacket{
		From: otherNode, To: broadcast, Channel: 0, Id: 0x77770006, RxTime: u32(1767225650), RxSnr: -0.25,
		RxRssi: i32(-110), HopLimit: 2, HopStart: 3,
		PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: text, Bitfield: u32(3)}),
	}))

	b.add("ServiceEnvelope encrypted", &pb.ServiceEnvelope{
		ChannelId: "LongFast", GatewayId: "!1234abcd",
		Packet: &pb.MeshPacket{From: otherNode, To: broadcast, Channel: 8, Id: 0x77770007,
			HopLimit: 2, HopStart: 3,
			PayloadVariant: &pb.MeshPacket_Encrypted{Encrypted: bytes.Repeat([]byte{0x94, 0xc3, 0xfb}, 11)}},
	})
	b.add("ServiceEnvelope decoded", &pb.ServiceEnvelope{
		ChannelId: "MediumFast", GatewayId: "!0badc0de",
		Packet: &pb.MeshPacket{From: otherNode, To: broadcast, Id: 0x77770008, HopLimit: 3, HopStart: 3,
			PayloadVariant: decoded(&pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: text, Bitfield: u32(1)})},
	})
}
