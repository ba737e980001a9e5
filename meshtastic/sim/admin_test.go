package sim

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func getConfig(t pb.AdminMessage_ConfigType) *pb.AdminMessage {
	return &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: t}}
}

func TestAdminGetters(t *testing.T) {
	tr := startRadio(t, fastConfig(31))
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1)

	c.packet(admin(r, 0xA001, true, getConfig(pb.AdminMessage_SESSIONKEY_CONFIG)))
	if am := c.adminReply(r, 0xA001); am.GetGetConfigResponse().GetSessionkey() == nil {
		t.Errorf("sessionkey reply %v", am)
	}
	// DEVICE_CONFIG is enum value 0 and must still work.
	c.packet(admin(r, 0xA002, true, getConfig(pb.AdminMessage_DEVICE_CONFIG)))
	if am := c.adminReply(r, 0xA002); am.GetGetConfigResponse().GetDevice() == nil {
		t.Errorf("device config reply %v", am)
	}
	c.packet(admin(r, 0xA003, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetModuleConfigRequest{GetModuleConfigRequest: pb.AdminMessage_MQTT_CONFIG}}))
	if am := c.adminReply(r, 0xA003); am.GetGetModuleConfigResponse().GetMqtt().GetUsername() != "meshdev" {
		t.Errorf("mqtt reply %v", am)
	}
	c.packet(admin(r, 0xA004, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetChannelRequest{GetChannelRequest: 1}}))
	if am := c.adminReply(r, 0xA004); am.GetGetChannelResponse().GetRole() != pb.Channel_PRIMARY {
		t.Errorf("channel reply %v", am)
	}
	c.packet(admin(r, 0xA005, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetChannelRequest{GetChannelRequest: 9}}))
	if m := c.waitFor(waitLong, "bad request", routingFor(0xA005)); routingError(t, m) != pb.Routing_BAD_REQUEST {
		t.Errorf("out-of-range channel: %v", m)
	}
	c.packet(admin(r, 0xA006, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetOwnerRequest{GetOwnerRequest: true}}))
	if am := c.adminReply(r, 0xA006); am.GetGetOwnerResponse().GetId() != nodeID(r.MyNodeNum()) {
		t.Errorf("owner reply %v", am)
	}
	c.packet(admin(r, 0xA007, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetDeviceMetadataRequest{GetDeviceMetadataRequest: true}}))
	if am := c.adminReply(r, 0xA007); am.GetGetDeviceMetadataResponse().GetFirmwareVersion() != DefaultFirmware {
		t.Errorf("metadata reply %v", am)
	}
	// Without want_response a getter is answered by nothing at all.
	c.packet(admin(r, 0xA008, false, getConfig(pb.AdminMessage_LORA_CONFIG)))
	c.none(100*time.Millisecond, "reply without want_response", func(m *pb.FromRadio) bool {
		return m.GetPacket().GetDecoded().GetRequestId() == 0xA008
	})
}

func TestAdminSetPersistsAndCommitReboots(t *testing.T) {
	tr := startRadio(t, fastConfig(32))
	r := tr.Radio
	c := dial(t, tr.addr)
	before := c.handshake(1)[0].GetMyInfo().RebootCount

	c.packet(admin(r, 0xB001, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_BeginEditSettings{BeginEditSettings: true}}))
	if m := c.waitFor(waitLong, "ack", routingFor(0xB001)); routingError(t, m) != pb.Routing_NONE {
		t.Errorf("begin ack %v", m)
	}
	lora := &pb.Config{PayloadVariant: &pb.Config_Lora{Lora: &pb.Config_LoRaConfig{
		UsePreset: true, Region: pb.Config_LoRaConfig_EU_868, HopLimit: 5, TxEnabled: true}}}
	c.packet(admin(r, 0xB002, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetConfig{SetConfig: lora}}))
	c.waitFor(waitLong, "ack", routingFor(0xB002))
	c.packet(admin(r, 0xB003, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetOwner{SetOwner: &pb.User{
		LongName: "Basecamp Gateway Radio Node", ShortName: "BASE"}}}))
	c.packet(admin(r, 0xB004, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetChannel{SetChannel: &pb.Channel{
		Index: 3, Role: pb.Channel_SECONDARY, Settings: &pb.ChannelSettings{Name: "Ops", Psk: []byte{1}}}}}))
	// Read back inside the transaction: already in effect, no reboot yet.
	c.packet(admin(r, 0xB005, true, getConfig(pb.AdminMessage_LORA_CONFIG)))
	if got := c.adminReply(r, 0xB005).GetGetConfigResponse().GetLora(); got.GetHopLimit() != 5 || got.GetRegion() != pb.Config_LoRaConfig_EU_868 {
		t.Errorf("lora read back %v", got)
	}
	time.Sleep(200 * time.Millisecond)
	if n := r.Stats().Reboots; n != 0 {
		t.Fatalf("rebooted %d times inside an edit transaction", n)
	}
	c.packet(admin(r, 0xB006, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_CommitEditSettings{CommitEditSettings: true}}))
	if !c.closed(waitLong) {
		t.Fatal("commit did not reboot the node")
	}

	// During the downtime connections are refused; then it serves again.
	c2 := dialAfterReboot(t, tr)
	got := c2.handshake(2)
	if rc := got[0].GetMyInfo().RebootCount; rc != before+1 {
		t.Errorf("reboot_count %d, want %d", rc, before+1)
	}
	if n := r.Stats().Reboots; n != 1 {
		t.Errorf("%d reboots, want exactly 1", n)
	}
	for _, m := range got {
		if lo := m.GetConfig().GetLora(); lo != nil && (lo.HopLimit != 5 || lo.Region != pb.Config_LoRaConfig_EU_868) {
			t.Errorf("lora after reboot %v", lo)
		}
		if mq := m.GetModuleConfig().GetMqtt(); mq != nil && mq.Root != "msh/EU_868" {
			t.Errorf("mqtt root %q did not follow the region", mq.Root)
		}
		if ch := m.GetChannel(); ch != nil && ch.Index == 3 && ch.GetSettings().GetName() != "Ops" {
			t.Errorf("channel 3 after reboot %v", ch)
		}
	}
	own := got[2].GetNodeInfo().GetUser()
	if own.LongName != "Basecamp Gateway Radio N" || own.ShortName != "BASE" {
		t.Errorf("owner after reboot %v (long name clamps to 24 bytes)", own)
	}
}

// dialAfterReboot checks that connections are refused while the radio
// reboots and returns a client once it serves again.
func dialAfterReboot(t *testing.T, tr *testRadio) *client {
	t.Helper()
	refused := tr.Stats().Refused
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		c := dial(t, tr.addr)
		c.heartbeat(0)
		if m := c.next(time.Second); m != nil {
			if tr.Stats().Refused == refused {
				t.Errorf("no connection was refused during the reboot")
			}
			return c
		}
		_ = c.conn.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("radio did not come back after the reboot")
	return nil
}

func TestAdminRebootAndShutdown(t *testing.T) {
	tr := startRadio(t, fastConfig(33))
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1)
	c.packet(admin(r, 0xC001, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 0}}))
	c.waitFor(waitLong, "ack", routingFor(0xC001))
	if !c.closed(waitLong) {
		t.Fatal("reboot did not drop the client")
	}
	// Immediately after, the radio refuses.
	conn, err := net.Dial("tcp", tr.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitLong))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("connection during reboot was not closed")
	}
	_ = conn.Close()

	c = dialAfterReboot(t, tr)
	c.handshake(2)
	// A scheduled reboot can be cancelled.
	c.packet(admin(r, 0xC002, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 1}}))
	c.packet(admin(r, 0xC003, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: -1}}))
	if c.closed(1300 * time.Millisecond) {
		t.Fatal("cancelled reboot happened anyway")
	}
	c.packet(admin(r, 0xC004, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_ShutdownSeconds{ShutdownSeconds: 0}}))
	if !c.closed(waitLong) {
		t.Fatal("shutdown did not drop the client")
	}
	select {
	case err := <-tr.done:
		if err != nil {
			t.Errorf("Serve after shutdown: %v", err)
		}
		close(tr.done)
	case <-time.After(waitLong):
		t.Fatal("Serve did not return after shutdown")
	}
	if err := r.Serve(t.Context(), mustListen(t)); err != nil {
		t.Errorf("Serve on a shut-down radio: %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestAdminResets(t *testing.T) {
	tr := startRadio(t, fastConfig(34))
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1)
	fav := r.mesh.peers[3].num
	c.packet(admin(r, 0xD001, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetFavoriteNode{SetFavoriteNode: fav}}))
	c.packet(admin(r, 0xD002, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_NodedbReset{NodedbReset: true}}))
	c.waitFor(waitLong, "ack", routingFor(0xD002))
	nodes := r.Nodes()
	if len(nodes) < 2 || nodes[0].Num != r.MyNodeNum() {
		t.Fatalf("after nodedb_reset: %d nodes", len(nodes))
	}
	for _, ni := range nodes[1:] {
		if !ni.IsFavorite {
			t.Errorf("non-favourite %x survived nodedb_reset", ni.Num)
		}
	}
	if !c.closed(waitLong) {
		t.Fatal("nodedb_reset did not reboot")
	}
	c = dialAfterReboot(t, tr)
	c.handshake(2)
	c.packet(admin(r, 0xD003, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetOwner{SetOwner: &pb.User{LongName: "Temp"}}}))
	c.packet(admin(r, 0xD004, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_FactoryResetConfig{FactoryResetConfig: 1}}))
	if !c.closed(waitLong) {
		t.Fatal("factory reset did not reboot")
	}
	c = dialAfterReboot(t, tr)
	ks, _ := runs(c.handshake(3))
	for i, k := range ks {
		if k == "node" && i != 2 {
			t.Errorf("other nodes streamed after factory reset: %v", ks)
		}
	}
	if got := r.Nodes(); len(got) != 1 || got[0].GetUser().GetLongName() == "Temp" {
		t.Errorf("after factory reset: %v", got)
	}
}

// TestOpenEditSwallowsLaterWrites: a client that begins an edit and goes
// away leaves the radio's one transaction open; a later write from another
// client is held in RAM only (no save, no reboot) and a reboot loses it,
// as AdminModule::saveChanges does.
func TestOpenEditSwallowsLaterWrites(t *testing.T) {
	tr := startRadio(t, fastConfig(33))
	r := tr.Radio
	a := dial(t, tr.addr)
	a.handshake(1)
	a.packet(admin(r, 0xC001, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_BeginEditSettings{BeginEditSettings: true}}))
	a.waitFor(waitLong, "begin ack", routingFor(0xC001))
	_ = a.conn.Close()
	if !r.EditOpen() {
		t.Fatal("begin_edit_settings did not open a transaction")
	}

	b := dial(t, tr.addr)
	b.handshake(2)
	b.packet(admin(r, 0xC002, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetOwner{SetOwner: &pb.User{LongName: "Swallowed", ShortName: "SW"}}}))
	b.waitFor(waitLong, "set_owner ack", routingFor(0xC002))
	time.Sleep(300 * time.Millisecond)
	if n := r.Stats().Reboots; n != 0 {
		t.Fatalf("a write inside someone else's open transaction rebooted the node (%d)", n)
	}
	b.packet(admin(r, 0xC003, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 0}}))
	if !b.closed(waitLong) {
		t.Fatal("no reboot")
	}
	c := dialAfterReboot(t, tr)
	got := c.handshake(3)
	if own := got[2].GetNodeInfo().GetUser(); own.LongName == "Swallowed" {
		t.Fatalf("a write made while another client's transaction was open survived the reboot: %v", own)
	}
	if r.EditOpen() {
		t.Fatal("the transaction survived the reboot")
	}
}

// TestMQTTUnreachableNotice: enabling MQTT with a broker the radio cannot
// reach gets a warning notification without reply_id, then the normal ack.
func TestMQTTUnreachableNotice(t *testing.T) {
	tr := startRadio(t, fastConfig(34))
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1)
	mq := &pb.ModuleConfig{PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: &pb.ModuleConfig_MQTTConfig{Enabled: true, Address: "broker.invalid"}}}
	c.packet(admin(r, 0xC101, true, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetModuleConfig{SetModuleConfig: mq}}))
	n := c.waitFor(waitLong, "notification", func(m *pb.FromRadio) bool { return m.GetClientNotification() != nil })
	if cn := n.GetClientNotification(); cn.ReplyId != nil || cn.Level != pb.LogRecord_WARNING || !strings.Contains(cn.Message, "MQTT") {
		t.Fatalf("notification %v, want a warning without reply_id", cn)
	}
	if m := c.waitFor(waitLong, "ack", routingFor(0xC101)); routingError(t, m) != pb.Routing_NONE {
		t.Fatalf("set_module_config refused: %v", m)
	}
}

// TestDropConfigAfterReboot: the first want_config_id after a reboot is
// lost; the next one is answered.
func TestDropConfigAfterReboot(t *testing.T) {
	cfg := fastConfig(36)
	cfg.DropConfigAfterReboot = true
	tr := startRadio(t, cfg)
	r := tr.Radio
	c := dial(t, tr.addr)
	c.handshake(1) // before any reboot: answered
	c.packet(admin(r, 0xC201, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 0}}))
	if !c.closed(waitLong) {
		t.Fatal("no reboot")
	}
	c2 := dialAfterReboot(t, tr)
	c2.wantConfig(2)
	c2.none(300*time.Millisecond, "config after a lost want_config_id", func(m *pb.FromRadio) bool { return m.GetMyInfo() != nil || isComplete(m) })
	c2.handshake(3)
}

// A client that writes begin, a setting and commit and hangs up at once
// (the python CLI does) still gets them applied: the firmware reads what
// it has received before it notices the client is gone.
func TestFramesReadAfterHangUp(t *testing.T) {
	tr := startRadio(t, fastConfig(35)) // the firmware's read polling is on
	r := tr.Radio
	a := dial(t, tr.addr)
	a.handshake(1)
	a.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: admin(r, 0xC101, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_BeginEditSettings{BeginEditSettings: true}})}})
	a.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: admin(r, 0xC102, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetOwner{SetOwner: &pb.User{LongName: "Hung Up", ShortName: "HU"}}})}})
	a.send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: admin(r, 0xC103, false, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_CommitEditSettings{CommitEditSettings: true}})}})
	_ = a.conn.Close()
	if err := eventually(waitLong, func() bool { return r.Stats().Reboots == 1 }); err != nil {
		t.Fatalf("the commit of a client that hung up was not applied (reboots %d, edit open %v)", r.Stats().Reboots, r.EditOpen())
	}
	c := dialAfterReboot(t, tr)
	if own := c.handshake(2)[2].GetNodeInfo().GetUser(); own.GetLongName() != "Hung Up" {
		t.Fatalf("owner after the reboot: %v", own)
	}
}
