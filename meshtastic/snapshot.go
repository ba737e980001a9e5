package meshtastic

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Snapshot is a consistent copy of everything the radio told us: taken as
// a whole under the client's lock, so nodes, channels and config belong to
// the same moment. Callers own it.
type Snapshot struct {
	MyNodeNum uint32
	MyInfo    *pb.MyNodeInfo
	Metadata  *pb.DeviceMetadata
	// Nodes holds every NodeDB entry, own node included, by node number.
	Nodes map[uint32]Node
	// Channels holds the 8 channel slots in index order (DISABLED ones too).
	Channels []*pb.Channel
	// Config holds each Config variant the radio sent, keyed by ConfigType.
	Config map[pb.AdminMessage_ConfigType]*pb.Config
	// Module holds each ModuleConfig variant, keyed by ModuleConfigType.
	Module map[pb.AdminMessage_ModuleConfigType]*pb.ModuleConfig
	// Files is the number of file manifest entries announced.
	Files int
}

// Self returns our own node's entry.
func (s Snapshot) Self() Node { return s.Nodes[s.MyNodeNum] }

// SortedNodes returns the nodes ordered by most recently heard first, own
// node first of all.
func (s Snapshot) SortedNodes() []Node {
	out := make([]Node, 0, len(s.Nodes))
	for _, n := range s.Nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int {
		switch {
		case a.Num == s.MyNodeNum:
			return -1
		case b.Num == s.MyNodeNum:
			return 1
		}
		if c := b.LastHeard.Compare(a.LastHeard); c != 0 {
			return c
		}
		return int(int64(a.Num) - int64(b.Num))
	})
	return out
}

// LoRa returns the LoRa config, or nil if the radio did not send it.
func (s Snapshot) LoRa() *pb.Config_LoRaConfig {
	return s.Config[pb.AdminMessage_LORA_CONFIG].GetLora()
}

// Device returns the device config, or nil.
func (s Snapshot) Device() *pb.Config_DeviceConfig {
	return s.Config[pb.AdminMessage_DEVICE_CONFIG].GetDevice()
}

// MQTT returns the MQTT module config, or nil.
func (s Snapshot) MQTT() *pb.ModuleConfig_MQTTConfig {
	return s.Module[pb.AdminMessage_MQTT_CONFIG].GetMqtt()
}

// radioState is the client's live copy; Snapshot deep-copies it.
type radioState struct {
	myNum    uint32
	myInfo   *pb.MyNodeInfo
	metadata *pb.DeviceMetadata
	nodes    map[uint32]*Node
	channels [8]*pb.Channel
	config   map[pb.AdminMessage_ConfigType]*pb.Config
	module   map[pb.AdminMessage_ModuleConfigType]*pb.ModuleConfig
	files    int
}

func newRadioState() *radioState {
	return &radioState{
		nodes:  make(map[uint32]*Node),
		config: make(map[pb.AdminMessage_ConfigType]*pb.Config),
		module: make(map[pb.AdminMessage_ModuleConfigType]*pb.ModuleConfig),
	}
}

func (st *radioState) snapshot() Snapshot {
	s := Snapshot{
		MyNodeNum: st.myNum,
		Nodes:     make(map[uint32]Node, len(st.nodes)),
		Config:    make(map[pb.AdminMessage_ConfigType]*pb.Config, len(st.config)),
		Module:    make(map[pb.AdminMessage_ModuleConfigType]*pb.ModuleConfig, len(st.module)),
		Files:     st.files,
	}
	if st.myInfo != nil {
		s.MyInfo = proto.Clone(st.myInfo).(*pb.MyNodeInfo)
	}
	if st.metadata != nil {
		s.Metadata = proto.Clone(st.metadata).(*pb.DeviceMetadata)
	}
	for k, n := range st.nodes {
		s.Nodes[k] = n.Clone()
	}
	for _, c := range st.channels {
		if c != nil {
			s.Channels = append(s.Channels, proto.Clone(c).(*pb.Channel))
		}
	}
	for k, c := range st.config {
		s.Config[k] = proto.Clone(c).(*pb.Config)
	}
	for k, c := range st.module {
		s.Module[k] = proto.Clone(c).(*pb.ModuleConfig)
	}
	return s
}

// configType maps a Config's oneof to its ConfigType: the firmware numbers
// the oneof fields ConfigType + 1, so the tag says it for every variant,
// including ones newer than this code.
func configType(c *pb.Config) (pb.AdminMessage_ConfigType, bool) {
	tag, ok := OneofTag(c)
	return pb.AdminMessage_ConfigType(tag - 1), ok
}

// moduleType does the same for ModuleConfig (tag = ModuleConfigType + 1).
func moduleType(m *pb.ModuleConfig) (pb.AdminMessage_ModuleConfigType, bool) {
	tag, ok := OneofTag(m)
	return pb.AdminMessage_ModuleConfigType(tag - 1), ok
}

// OneofTag is the field number set in m's payload_variant oneof (Config,
// ModuleConfig, FromRadio...); false when none is set.
func OneofTag(m proto.Message) (int32, bool) {
	r := m.ProtoReflect()
	od := r.Descriptor().Oneofs().ByName("payload_variant")
	if od == nil {
		return 0, false
	}
	f := r.WhichOneof(od)
	if f == nil {
		return 0, false
	}
	return int32(f.Number()), true
}
