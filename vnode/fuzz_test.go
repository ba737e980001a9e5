package vnode

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// FuzzToRadio feeds an arbitrary ToRadio frame from an operator's app to a
// virtual node in front of a simulated radio: whatever it is, the gateway
// must not fail, and must still answer the heartbeat that follows (or have
// closed the connection when the frame said disconnect).
func FuzzToRadio(f *testing.F) {
	for _, m := range seedMessages() {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	h := newHarness(f, fastSim(21, 4))
	addr := h.listen(operator, true)
	hb, _ := proto.Marshal(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > frame.MaxPayload {
			payload = payload[:frame.MaxPayload]
		}
		c := dialRaw(t, addr)
		defer c.Close()
		if err := c.WriteFrame(payload); err != nil {
			t.Fatal(err)
		}
		_ = c.WriteFrame(hb) // fails once a disconnect closed the connection
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, m := range c.Frames() {
				if q := m.GetQueueStatus(); q != nil && q.GetMeshPacketId() == 0 && q.GetMaxlen() > 0 {
					return
				}
			}
			if c.Closed(0) {
				msg := &pb.ToRadio{}
				if proto.Unmarshal(payload, msg) == nil && msg.GetDisconnect() {
					return
				}
				t.Fatalf("the gateway closed the connection after %x", payload)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no heartbeat answer after %x", payload)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}

// seedMessages are the ToRadio messages apps send, one of each kind.
func seedMessages() []*pb.ToRadio {
	pkt := func(p *pb.MeshPacket) *pb.ToRadio { return &pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: p}} }
	dec := func(port pb.PortNum, payload []byte, resp bool) *pb.MeshPacket_Decoded {
		return &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: port, Payload: payload, WantResponse: resp}}
	}
	admin, _ := proto.Marshal(&pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: pb.AdminMessage_LORA_CONFIG}})
	pos, _ := proto.Marshal(&pb.Position{})
	return []*pb.ToRadio{
		{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 12345}},
		{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 69420}},
		{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 69421}},
		{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{Nonce: 1}}},
		{PayloadVariant: &pb.ToRadio_Disconnect{Disconnect: true}},
		{PayloadVariant: &pb.ToRadio_MqttClientProxyMessage{MqttClientProxyMessage: &pb.MqttClientProxyMessage{Topic: "msh/x"}}},
		pkt(&pb.MeshPacket{Id: 0x12345678, To: 0xFFFFFFFF, HopLimit: 3, PayloadVariant: dec(pb.PortNum_TEXT_MESSAGE_APP, []byte("hi"), false)}),
		pkt(&pb.MeshPacket{Id: 0x42, To: 0x1234abcd, WantAck: true, PayloadVariant: dec(pb.PortNum_ADMIN_APP, admin, true)}),
		pkt(&pb.MeshPacket{Id: 0x43, To: 0x1234abcd, PayloadVariant: dec(pb.PortNum_TRACEROUTE_APP, nil, true)}),
		pkt(&pb.MeshPacket{Id: 0x44, To: 0x1234abcd, PayloadVariant: dec(pb.PortNum_POSITION_APP, pos, true)}),
		pkt(&pb.MeshPacket{Id: 0x45, To: 0xFFFFFFFF, PayloadVariant: dec(pb.PortNum_PRIVATE_APP, []byte{1, 2, 3}, false)}),
		pkt(&pb.MeshPacket{Id: 0x46, To: 0x1234abcd, PayloadVariant: &pb.MeshPacket_Encrypted{Encrypted: []byte{9, 9, 9}}}),
		pkt(&pb.MeshPacket{}),
	}
}
