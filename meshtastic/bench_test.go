package meshtastic

import (
	"bytes"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// benchStream is a realistic mix of live FromRadio frames: texts,
// positions, telemetry and queue status.
func benchStream(b *testing.B, n int) []byte {
	b.Helper()
	lat, lon, alt, bat := int32(525200000), int32(134050000), int32(35), uint32(87)
	volt := float32(4.01)
	pos, _ := proto.Marshal(&pb.Position{LatitudeI: &lat, LongitudeI: &lon, Altitude: &alt, Time: 1700000000})
	tel, _ := proto.Marshal(&pb.Telemetry{Time: 1700000000, Variant: &pb.Telemetry_DeviceMetrics{DeviceMetrics: &pb.DeviceMetrics{BatteryLevel: &bat, Voltage: &volt}}})
	msgs := []*pb.FromRadio{
		{PayloadVariant: &pb.FromRadio_Packet{Packet: &pb.MeshPacket{From: 0xa1b2c3d4, To: Broadcast, Id: 0x1234, RxSnr: 6.25, HopLimit: 2, HopStart: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("hello from the hill, anyone copy?")}}}}},
		{PayloadVariant: &pb.FromRadio_Packet{Packet: &pb.MeshPacket{From: 0xa1b2c3d5, To: Broadcast, Id: 0x1235, RxSnr: -3.5, HopLimit: 3, HopStart: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_POSITION_APP, Payload: pos}}}}},
		{PayloadVariant: &pb.FromRadio_Packet{Packet: &pb.MeshPacket{From: 0xa1b2c3d6, To: Broadcast, Id: 0x1236, RxSnr: 1, HopLimit: 1, HopStart: 3,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TELEMETRY_APP, Payload: tel}}}}},
		{PayloadVariant: &pb.FromRadio_QueueStatus{QueueStatus: &pb.QueueStatus{Free: 15, Maxlen: 16, MeshPacketId: 0x99}}},
	}
	var out []byte
	for i := range n {
		payload, err := proto.Marshal(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		out, _ = frame.Append(out, payload)
	}
	return out
}

// BenchmarkDecodeFromRadio measures what the client's reader does per
// frame: split the stream and decode the FromRadio protobuf. One op is
// one frame.
func BenchmarkDecodeFromRadio(b *testing.B) {
	const n = 1000
	stream := benchStream(b, n)
	src := bytes.NewReader(stream)
	fr := frame.NewReader(src)
	b.SetBytes(int64(len(stream)) / n)
	b.ReportAllocs()
	for b.Loop() {
		it, err := fr.Next()
		if err == io.EOF {
			src.Reset(stream)
			fr = frame.NewReader(src)
			it, err = fr.Next()
		}
		if err != nil {
			b.Fatal(err)
		}
		msg := &pb.FromRadio{}
		if err := proto.Unmarshal(it.Payload, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
