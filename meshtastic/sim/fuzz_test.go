package sim

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// FuzzToRadio feeds arbitrary payloads to a configured session, as a
// client would send them: nothing may panic, and the radio keeps serving.
func FuzzToRadio(f *testing.F) {
	seeds := []proto.Message{
		&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 1}},
		&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{Nonce: 1}}},
		&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: text(Broadcast, 9, "hi")}},
		&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: &pb.MeshPacket{To: 0xFFFF, Channel: 200, HopLimit: 99,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TRACEROUTE_APP, WantResponse: true,
				Payload: []byte{0x0d, 1, 2, 3, 4, 0x12, 3, 0xff, 0xff, 0x7f}}}}}},
	}
	r, err := New(Config{Seed: 1, Nodes: 12, AckDelay: 1, TracerouteDelay: 1, AdminRebootDelay: 1, RebootDowntime: -1})
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range []*pb.AdminMessage{
		{PayloadVariant: &pb.AdminMessage_SetConfig{SetConfig: &pb.Config{PayloadVariant: &pb.Config_Lora{}}}},
		{PayloadVariant: &pb.AdminMessage_SetChannel{SetChannel: &pb.Channel{Index: 9}}},
		{PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: 77}},
		{PayloadVariant: &pb.AdminMessage_SetFixedPosition{SetFixedPosition: &pb.Position{}}},
		{PayloadVariant: &pb.AdminMessage_FactoryResetDevice{FactoryResetDevice: 1}},
	} {
		seeds = append(seeds, &pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: admin(r, 5, true, m)}})
	}
	for _, s := range seeds {
		b, _ := proto.Marshal(s)
		f.Add(b)
	}
	if err := r.startEngine(); err != nil {
		f.Fatal(err)
	}
	defer r.stopEngine()
	f.Fuzz(func(t *testing.T, payload []byte) {
		s := r.newSession(false, nil)
		r.mu.Lock()
		s.configured = true
		r.mu.Unlock()
		r.handleFrame(s, payload)
		r.mu.Lock()
		r.takeOutputLocked(s)
		r.mu.Unlock()
	})
}
