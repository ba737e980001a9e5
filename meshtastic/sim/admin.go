package sim

import (
	"net"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// adminLocked handles an ADMIN_APP packet the client addressed to our own
// node. It is local admin (from 0), so no session passkey is required; the
// firmware ignores it only on a managed node. Getters answer only when
// want_response is set; with want_response, anything that produced no
// other answer is acked with Routing NONE.
func (r *Radio) adminLocked(s *session, p *pb.MeshPacket) {
	if r.set.security().GetIsManaged() {
		r.log.Info("sim: ignoring local admin on a managed node")
		return
	}
	d := p.GetDecoded()
	req := &pb.AdminMessage{}
	if err := proto.Unmarshal(d.GetPayload(), req); err != nil {
		r.log.Debug("sim: undecodable AdminMessage ignored", "err", err)
		return
	}
	want := d.GetWantResponse()
	var resp *pb.AdminMessage
	fail := pb.Routing_NONE
	set := r.set

	switch v := req.PayloadVariant.(type) {
	case *pb.AdminMessage_GetChannelRequest:
		i := v.GetChannelRequest
		if i < 1 || i > maxChannels {
			fail = pb.Routing_BAD_REQUEST
			break
		}
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetChannelResponse{
			GetChannelResponse: proto.Clone(set.channels[i-1]).(*pb.Channel)}}
	case *pb.AdminMessage_GetOwnerRequest:
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetOwnerResponse{
			GetOwnerResponse: proto.Clone(set.owner).(*pb.User)}}
	case *pb.AdminMessage_GetConfigRequest:
		c := set.config[protoreflect.FieldNumber(v.GetConfigRequest)+1]
		if c == nil {
			fail = pb.Routing_BAD_REQUEST
			break
		}
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetConfigResponse{
			GetConfigResponse: proto.Clone(c).(*pb.Config)}}
	case *pb.AdminMessage_GetModuleConfigRequest:
		c := set.module[protoreflect.FieldNumber(v.GetModuleConfigRequest)+1]
		if c == nil {
			fail = pb.Routing_BAD_REQUEST
			break
		}
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetModuleConfigResponse{
			GetModuleConfigResponse: proto.Clone(c).(*pb.ModuleConfig)}}
	case *pb.AdminMessage_GetDeviceMetadataRequest:
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetDeviceMetadataResponse{
			GetDeviceMetadataResponse: r.metadataLocked()}}
	case *pb.AdminMessage_GetUiConfigRequest:
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetUiConfigResponse{
			GetUiConfigResponse: proto.Clone(set.ui).(*pb.DeviceUIConfig)}}
	case *pb.AdminMessage_GetCannedMessageModuleMessagesRequest:
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetCannedMessageModuleMessagesResponse{
			GetCannedMessageModuleMessagesResponse: set.canned}}
	case *pb.AdminMessage_GetRingtoneRequest:
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetRingtoneResponse{GetRingtoneResponse: set.ringtone}}
	case *pb.AdminMessage_GetDeviceConnectionStatusRequest:
		resp = &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetDeviceConnectionStatusResponse{
			GetDeviceConnectionStatusResponse: r.connectionStatusLocked()}}

	case *pb.AdminMessage_SetOwner:
		if r.setOwnerLocked(v.SetOwner) {
			r.saveLocked(true)
		}
	case *pb.AdminMessage_SetChannel:
		ch := v.SetChannel
		if ch == nil || ch.Index < 0 || ch.Index >= maxChannels {
			fail = pb.Routing_BAD_REQUEST
			break
		}
		set.channels[ch.Index] = proto.Clone(ch).(*pb.Channel)
		if set.channels[ch.Index].Settings == nil {
			set.channels[ch.Index].Settings = &pb.ChannelSettings{}
		}
		r.saveLocked(false) // channels are saved without a reboot
	case *pb.AdminMessage_SetConfig:
		reboot, ok := r.setConfigLocked(v.SetConfig)
		if !ok {
			fail = pb.Routing_BAD_REQUEST
			break
		}
		r.saveLocked(reboot)
	case *pb.AdminMessage_SetModuleConfig:
		c := v.SetModuleConfig
		tag := moduleTag(c)
		if tag == 0 || set.module[tag] == nil {
			fail = pb.Routing_BAD_REQUEST
			break
		}
		if mq := c.GetMqtt(); mq != nil {
			r.checkMQTTLocked(s, mq)
		}
		set.module[tag] = proto.Clone(c).(*pb.ModuleConfig)
		r.saveLocked(true)
	case *pb.AdminMessage_SetCannedMessageModuleMessages:
		set.canned = v.SetCannedMessageModuleMessages
	case *pb.AdminMessage_SetRingtoneMessage:
		set.ringtone = v.SetRingtoneMessage
	case *pb.AdminMessage_StoreUiConfig:
		if v.StoreUiConfig != nil {
			set.ui = proto.Clone(v.StoreUiConfig).(*pb.DeviceUIConfig)
		}
	case *pb.AdminMessage_SetFavoriteNode:
		r.editNodeLocked(v.SetFavoriteNode, func(ni *pb.NodeInfo) { ni.IsFavorite = true })
	case *pb.AdminMessage_RemoveFavoriteNode:
		r.editNodeLocked(v.RemoveFavoriteNode, func(ni *pb.NodeInfo) { ni.IsFavorite = false })
	case *pb.AdminMessage_SetIgnoredNode:
		r.editNodeLocked(v.SetIgnoredNode, func(ni *pb.NodeInfo) { ni.IsIgnored = true })
	case *pb.AdminMessage_RemoveIgnoredNode:
		r.editNodeLocked(v.RemoveIgnoredNode, func(ni *pb.NodeInfo) { ni.IsIgnored = false })
	case *pb.AdminMessage_ToggleMutedNode:
		r.editNodeLocked(v.ToggleMutedNode, func(ni *pb.NodeInfo) { ni.IsMuted = !ni.IsMuted })
	case *pb.AdminMessage_RemoveByNodenum:
		if v.RemoveByNodenum != r.myNum {
			delete(r.db, v.RemoveByNodenum)
		}
	case *pb.AdminMessage_SetFixedPosition:
		if pos := v.SetFixedPosition; pos != nil {
			own := r.db[r.myNum]
			own.Position = proto.Clone(pos).(*pb.Position)
			own.Position.LocationSource = pb.Position_LOC_MANUAL
			if pc := set.position(); pc != nil {
				pc.FixedPosition = true
			}
		}
	case *pb.AdminMessage_RemoveFixedPosition:
		if pc := set.position(); pc != nil {
			pc.FixedPosition = false
		}
	case *pb.AdminMessage_BeginEditSettings:
		r.editing = true
	case *pb.AdminMessage_CommitEditSettings:
		r.editing = false
		r.flash = r.set.clone()
		r.scheduleRebootLocked(r.cfg.AdminRebootDelay)
	case *pb.AdminMessage_RebootSeconds:
		if v.RebootSeconds < 0 {
			r.cancelLocked(r.rebootT)
			r.rebootT = nil
		} else {
			r.scheduleRebootLocked(time.Duration(v.RebootSeconds) * time.Second)
		}
	case *pb.AdminMessage_ShutdownSeconds:
		if v.ShutdownSeconds < 0 {
			r.cancelLocked(r.shutdownT)
			r.shutdownT = nil
		} else {
			r.scheduleShutdownLocked(time.Duration(v.ShutdownSeconds) * time.Second)
		}
	case *pb.AdminMessage_FactoryResetConfig:
		r.factoryResetLocked()
		r.scheduleRebootLocked(r.cfg.AdminRebootDelay)
	case *pb.AdminMessage_FactoryResetDevice:
		r.factoryResetLocked()
		r.scheduleRebootLocked(r.cfg.AdminRebootDelay)
	case *pb.AdminMessage_NodedbReset:
		for num, ni := range r.db {
			if num != r.myNum && !(v.NodedbReset && ni.IsFavorite) {
				delete(r.db, num)
			}
		}
		r.scheduleRebootLocked(r.cfg.AdminRebootDelay)
	default:
		// Responses, DFU, OTA, backups, key verification and the rest have
		// nothing to simulate.
	}

	switch {
	case fail != pb.Routing_NONE:
		r.toPhoneLocked(r.localRoutingLocked(p, fail))
	case resp != nil && want:
		resp.SessionPasskey = r.passkeyLocked()
		payload, _ := proto.Marshal(resp)
		t := r.nowSecs()
		r.toPhoneLocked(&pb.MeshPacket{
			From:     r.myNum,
			To:       r.myNum,
			Channel:  p.Channel,
			Id:       r.newPacketIDLocked(),
			RxTime:   &t,
			Priority: pb.MeshPacket_RELIABLE,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
				Portnum:   pb.PortNum_ADMIN_APP,
				Payload:   payload,
				RequestId: p.Id,
			}},
		})
	case resp == nil && want:
		r.toPhoneLocked(r.localRoutingLocked(p, pb.Routing_NONE))
	}
}

// passkeyLocked returns the session passkey, rotating it when it is older
// than the firmware's 150 s.
func (r *Radio) passkeyLocked() []byte {
	now := r.now()
	if r.passkey == nil || now.Sub(r.passkeyAt) > passkeyRotate {
		r.passkey = make([]byte, 8)
		for i := range r.passkey {
			r.passkey[i] = byte(r.rng.UintN(256))
		}
		r.passkeyAt = now
	}
	return append([]byte(nil), r.passkey...)
}

// setOwnerLocked applies set_owner and reports whether anything changed.
func (r *Radio) setOwnerLocked(u *pb.User) bool {
	if u == nil {
		return false
	}
	o := r.set.owner
	changed := false
	if long := clampUTF8(u.LongName, 24); long != "" && long != o.LongName {
		o.LongName, changed = long, true
	}
	if short := clampUTF8(u.ShortName, 4); short != "" && short != o.ShortName {
		o.ShortName, changed = short, true
	}
	if u.IsLicensed != o.IsLicensed {
		o.IsLicensed, changed = u.IsLicensed, true
	}
	if u.IsUnmessagable != nil && (o.IsUnmessagable == nil || *o.IsUnmessagable != *u.IsUnmessagable) {
		v := *u.IsUnmessagable
		o.IsUnmessagable, changed = &v, true
	}
	if changed {
		r.db[r.myNum].User = proto.Clone(o).(*pb.User)
	}
	return changed
}

// setConfigLocked stores a Config variant, applying the firmware's
// validation side effects. It reports whether the change needs a reboot
// and whether the variant was valid.
func (r *Radio) setConfigLocked(c *pb.Config) (reboot, ok bool) {
	if c == nil {
		return false, false
	}
	tag := configTag(c)
	if tag == 0 || r.set.config[tag] == nil {
		return false, false
	}
	c = proto.Clone(c).(*pb.Config)
	reboot = true
	switch v := c.PayloadVariant.(type) {
	case *pb.Config_Lora:
		if v.Lora == nil {
			v.Lora = &pb.Config_LoRaConfig{}
		}
		if v.Lora.HopLimit > maxHops {
			v.Lora.HopLimit = 3
		}
		old := r.set.lora().GetRegion()
		if reg := v.Lora.Region; reg != old && reg != pb.Config_LoRaConfig_UNSET {
			// A default MQTT root follows the region: msh/US, msh/EU_868...
			if mq := r.set.mqtt(); mq != nil && strings.HasPrefix(mq.Root, "msh") {
				mq.Root = "msh/" + reg.String()
			}
		}
	case *pb.Config_Device:
		if v.Device != nil {
			r.set.owner.Role = v.Device.Role
			r.db[r.myNum].User = proto.Clone(r.set.owner).(*pb.User)
		}
	case *pb.Config_Display, *pb.Config_DeviceUi:
		reboot = false
	case *pb.Config_Sessionkey:
		return false, true // nothing to store
	}
	r.set.config[tag] = c
	return reboot, true
}

// connectionStatusLocked reports the simulated links: Wi-Fi (the TCP API)
// and the serial console.
func (r *Radio) connectionStatusLocked() *pb.DeviceConnectionStatus {
	net := r.set.config[configTag(&pb.Config{PayloadVariant: &pb.Config_Network{}})].GetNetwork()
	serial := false
	for s := range r.sessions {
		serial = serial || s.serial
	}
	return &pb.DeviceConnectionStatus{
		Wifi: &pb.WifiConnectionStatus{
			Status: &pb.NetworkConnectionStatus{IpAddress: 0x0A01A8C0, IsConnected: true, IsMqttConnected: r.set.mqtt().GetEnabled()},
			Ssid:   net.GetWifiSsid(),
			Rssi:   -58,
		},
		Serial: &pb.SerialConnectionStatus{Baud: 115200, IsConnected: serial},
	}
}

// editNodeLocked applies fn to a NodeDB entry, if there is one.
func (r *Radio) editNodeLocked(num uint32, fn func(*pb.NodeInfo)) {
	if ni := r.db[num]; ni != nil && num != r.myNum {
		fn(ni)
	}
}

// saveLocked is the firmware's saveChanges (AdminModule::saveChanges): a
// setter changes the settings in RAM at once; without an open edit
// transaction they are written to flash and the node reboots 7 s later when
// asked to. While a transaction is open (hasOpenEditTransaction, one flag
// for the whole radio, whichever client opened it) nothing is saved and
// nothing reboots: a reboot before the commit loses every change made since
// begin_edit_settings, by any client.
func (r *Radio) saveLocked(reboot bool) {
	if r.editing {
		r.log.Debug("sim: edit transaction open, change kept in RAM only")
		return
	}
	r.flash = r.set.clone()
	if reboot {
		r.scheduleRebootLocked(r.cfg.AdminRebootDelay)
	}
}

// EditOpen reports whether an admin edit transaction is open: a
// begin_edit_settings without its commit_edit_settings. Until the commit
// (or a reboot) the radio saves no setting, from any client.
func (r *Radio) EditOpen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.editing
}

// checkMQTTLocked is the firmware's MQTT::isValidConfig on a network-capable
// board: for an enabled, non-proxied config it tries a TCP connection to the
// server and, when that fails, tells the client so in a notification that
// carries no reply_id. The settings are saved anyway.
func (r *Radio) checkMQTTLocked(s *session, mq *pb.ModuleConfig_MQTTConfig) {
	if !mq.GetEnabled() || mq.GetProxyToClientEnabled() || s == nil {
		return
	}
	reachable := r.cfg.MQTTReachable
	if reachable == nil {
		reachable = defaultMQTTReachable
	}
	if reachable(mq.GetAddress()) {
		return
	}
	r.notifyClientLocked(s, 0, pb.LogRecord_WARNING,
		"Could not reach the MQTT server. Settings will be saved, but please verify the server address and credentials.")
}

// defaultMQTTReachable treats every broker as reachable except hosts under
// the reserved .invalid domain (RFC 2606), so tests can name an unreachable
// one without the simulation touching the network.
func defaultMQTTReachable(address string) bool {
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host != "invalid" && !strings.HasSuffix(host, ".invalid")
}

// factoryResetLocked restores the configuration the radio started with
// (region US, LongFast, the seed's names) and empties the NodeDB but for
// our own node.
func (r *Radio) factoryResetLocked() {
	r.set = defaultSettings(r.mesh.own, r.cfg, r.mesh)
	own := r.db[r.myNum]
	own.User = proto.Clone(r.set.owner).(*pb.User)
	own.Position = r.mesh.own.position(r.now())
	r.db = map[uint32]*pb.NodeInfo{r.myNum: own}
	r.editing = false
	r.flash = r.set.clone()
}

// scheduleRebootLocked (re)arms the reboot timer; the newest request wins.
func (r *Radio) scheduleRebootLocked(d time.Duration) {
	r.cancelLocked(r.rebootT)
	// Leave a moment for the answer to the request to get out first.
	r.rebootT = r.afterLocked(max(d, 100*time.Millisecond), func() {
		r.rebootT = nil
		r.rebootLocked()
	})
}

func (r *Radio) scheduleShutdownLocked(d time.Duration) {
	r.cancelLocked(r.shutdownT)
	r.shutdownT = r.afterLocked(max(d, 100*time.Millisecond), func() {
		r.shutdownT = nil
		r.shutdownLocked()
	})
}

// rebootLocked simulates a restart: the TCP client is dropped, RAM state
// (queues, edit transaction, passkey) is lost, the reboot counter goes up,
// and for RebootDowntime the radio is dark: TCP connections are refused and
// consoles are silent. A console then shows the boot log again.
func (r *Radio) rebootLocked() {
	r.log.Info("sim: rebooting", "downtime", r.cfg.RebootDowntime)
	r.rebootCount++
	r.stats.reboots.Add(1)
	r.dropConfig = r.cfg.DropConfigAfterReboot
	// RAM settings are reloaded from flash: whatever an open edit
	// transaction held is gone.
	r.editing = false
	r.set = r.flash.clone()
	r.db[r.myNum].User = proto.Clone(r.set.owner).(*pb.User)
	r.cancelLocked(r.shutdownT)
	r.shutdownT = nil
	r.toPhone = nil
	r.txTimes = nil
	r.passkey = nil
	r.bootAt = r.now()
	for s := range r.sessions {
		if !s.serial {
			s.close()
			continue
		}
		s.resetLocked()
		s.asleep = true
		s.protobufs = false
		s.console = nil
		s.lastContact.Store(0)
	}
	r.tcp = nil
	r.rebooting = true
	if r.cfg.RebootDowntime > 0 && r.afterLocked(r.cfg.RebootDowntime, r.wakeLocked) != nil {
		return
	}
	r.wakeLocked()
}

// wakeLocked ends the reboot downtime.
func (r *Radio) wakeLocked() {
	r.rebooting = false
	r.bootAt = r.now()
	for s := range r.sessions {
		if s.serial && s.asleep {
			s.asleep = false
			r.bootLogLocked(s)
		}
	}
}

// shutdownLocked powers the radio off for good: every link closes and the
// serving calls return.
func (r *Radio) shutdownLocked() {
	if r.down {
		return
	}
	r.log.Info("sim: shutting down")
	r.down = true
	r.cancelLocked(r.rebootT)
	r.rebootT = nil
	close(r.downCh)
	for s := range r.sessions {
		s.close()
	}
}
