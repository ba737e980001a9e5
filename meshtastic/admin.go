package meshtastic

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// admin sends an AdminMessage to our own radio and waits for its answer:
// the matching *_response for getters, the routing ack for everything else.
// Local admin (the firmware rewrites from to 0) needs no session key, but
// we echo the last one the radio gave us, as the reference client does.
func (c *Client) admin(ctx context.Context, msg *pb.AdminMessage, getter bool) (*pb.AdminMessage, error) {
	my := c.MyNodeNum()
	if my == 0 {
		return nil, fmt.Errorf("%w: no handshake yet", ErrClosed)
	}
	c.mu.Lock()
	if !getter && len(c.passkey) > 0 {
		msg.SessionPasskey = append([]byte(nil), c.passkey...)
	}
	ch := c.adminChannel()
	c.mu.Unlock()
	payload, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	reply := pb.PortNum_ROUTING_APP
	if getter {
		reply = pb.PortNum_ADMIN_APP
	}
	p := &pb.MeshPacket{
		To:       my,
		Channel:  ch,
		HopLimit: 3,
		Priority: pb.MeshPacket_RELIABLE,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{
			Portnum:      pb.PortNum_ADMIN_APP,
			Payload:      payload,
			WantResponse: true,
		}},
	}
	id, err := c.Send(p, reply)
	if err != nil {
		return nil, err
	}
	ans, err := c.Wait(ctx, id)
	if err != nil {
		return nil, err
	}
	if !getter {
		return nil, nil
	}
	out := &pb.AdminMessage{}
	if err := pb.Unmarshal(ans.GetDecoded().GetPayload(), out); err != nil {
		return nil, fmt.Errorf("meshtastic: bad admin reply: %w", err)
	}
	if len(out.GetSessionPasskey()) > 0 {
		c.mu.Lock()
		c.passkey = append(c.passkey[:0], out.GetSessionPasskey()...)
		c.mu.Unlock()
	}
	return out, nil
}

// adminChannel is the index of a channel named "admin", else 0. Caller
// holds c.mu.
func (c *Client) adminChannel() uint32 {
	if c.state == nil {
		return 0
	}
	for _, ch := range c.state.channels {
		if ch != nil && ch.GetSettings().GetName() == "admin" && ch.GetRole() != pb.Channel_DISABLED {
			return uint32(ch.GetIndex())
		}
	}
	return 0
}

// GetConfig reads one config section from the radio.
func (c *Client) GetConfig(ctx context.Context, t pb.AdminMessage_ConfigType) (*pb.Config, error) {
	out, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetConfigRequest{GetConfigRequest: t}}, true)
	if err != nil {
		return nil, err
	}
	cfg := out.GetGetConfigResponse()
	if cfg == nil {
		return nil, fmt.Errorf("meshtastic: radio answered without a config")
	}
	c.updateState(func(st *radioState) bool {
		if proto.Equal(st.config[t], cfg) {
			return false
		}
		st.config[t] = cfg
		return true
	})
	return cfg, nil
}

// GetModuleConfig reads one module config section from the radio.
func (c *Client) GetModuleConfig(ctx context.Context, t pb.AdminMessage_ModuleConfigType) (*pb.ModuleConfig, error) {
	out, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetModuleConfigRequest{GetModuleConfigRequest: t}}, true)
	if err != nil {
		return nil, err
	}
	mc := out.GetGetModuleConfigResponse()
	if mc == nil {
		return nil, fmt.Errorf("meshtastic: radio answered without a module config")
	}
	c.updateState(func(st *radioState) bool {
		if proto.Equal(st.module[t], mc) {
			return false
		}
		st.module[t] = mc
		return true
	})
	return mc, nil
}

// GetChannel reads channel slot index (0..7). The request itself carries
// index+1, a quirk of the admin protocol.
func (c *Client) GetChannel(ctx context.Context, index int) (*pb.Channel, error) {
	if index < 0 || index > 7 {
		return nil, fmt.Errorf("meshtastic: channel index %d out of range 0-7", index)
	}
	out, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetChannelRequest{GetChannelRequest: uint32(index) + 1}}, true)
	if err != nil {
		return nil, err
	}
	ch := out.GetGetChannelResponse()
	if ch == nil {
		return nil, fmt.Errorf("meshtastic: radio answered without a channel")
	}
	c.updateState(func(st *radioState) bool {
		if proto.Equal(st.channels[index], ch) {
			return false
		}
		st.channels[index] = ch
		return true
	})
	return ch, nil
}

// GetOwner reads our node's user record.
func (c *Client) GetOwner(ctx context.Context) (*pb.User, error) {
	out, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetOwnerRequest{GetOwnerRequest: true}}, true)
	if err != nil {
		return nil, err
	}
	return out.GetGetOwnerResponse(), nil
}

// GetMetadata reads the radio's device metadata.
func (c *Client) GetMetadata(ctx context.Context) (*pb.DeviceMetadata, error) {
	out, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_GetDeviceMetadataRequest{GetDeviceMetadataRequest: true}}, true)
	if err != nil {
		return nil, err
	}
	return out.GetGetDeviceMetadataResponse(), nil
}

// commitTimeout bounds the commit that closes an edit whose caller's
// context has already ended.
const commitTimeout = 10 * time.Second

// Edit applies several settings in one edit transaction: the radio defers
// saving and rebooting until commit, so it reboots once, not per setting.
//
// Once begin_edit_settings is accepted the edit always ends with
// commit_edit_settings, even when a setting is refused or ctx ends: the
// radio has one transaction for all its clients, and while it is open no
// write from anyone is saved (AdminModule::saveChanges). Settings accepted
// before a refusal are therefore committed; the error says which one
// failed.
func (c *Client) Edit(ctx context.Context, configs []*pb.Config, modules []*pb.ModuleConfig) error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	if _, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_BeginEditSettings{BeginEditSettings: true}}, false); err != nil {
		// The begin may still have reached the radio: close it anyway.
		c.commit(ctx)
		return fmt.Errorf("begin edit: %w", err)
	}
	var failed error
	for _, cfg := range configs {
		if _, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetConfig{SetConfig: cfg}}, false); err != nil {
			failed = fmt.Errorf("set config: %w", err)
			break
		}
	}
	for _, mc := range modules {
		if failed != nil {
			break
		}
		if _, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_SetModuleConfig{SetModuleConfig: mc}}, false); err != nil {
			failed = fmt.Errorf("set module config: %w", err)
		}
	}
	if err := c.commit(ctx); err != nil {
		if failed != nil {
			return fmt.Errorf("%w (and the commit failed: %w)", failed, err)
		}
		return fmt.Errorf("commit edit: %w", err)
	}
	if failed != nil {
		return fmt.Errorf("%w (settings accepted before it were committed)", failed)
	}
	c.updateState(func(st *radioState) bool {
		for _, cfg := range configs {
			if t, ok := configType(cfg); ok {
				st.config[t] = proto.Clone(cfg).(*pb.Config)
			}
		}
		for _, mc := range modules {
			if t, ok := moduleType(mc); ok {
				st.module[t] = proto.Clone(mc).(*pb.ModuleConfig)
			}
		}
		return len(configs)+len(modules) > 0
	})
	return nil
}

// commit closes the radio's edit transaction, on a context of its own when
// the caller's has ended.
func (c *Client) commit(ctx context.Context) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
	}
	_, err := c.admin(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_CommitEditSettings{CommitEditSettings: true}}, false)
	return err
}

// SetMQTTConfig writes the MQTT module config inside an edit transaction.
// The radio saves it and reboots once.
func (c *Client) SetMQTTConfig(ctx context.Context, m *pb.ModuleConfig_MQTTConfig) error {
	return c.Edit(ctx, nil, []*pb.ModuleConfig{{PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: m}}})
}

// Reboot asks the radio to reboot after seconds (negative cancels).
func (c *Client) Reboot(ctx context.Context, seconds int32) error {
	return c.action(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: seconds}})
}

// Shutdown asks the radio to power off after seconds (negative cancels).
func (c *Client) Shutdown(ctx context.Context, seconds int32) error {
	return c.action(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_ShutdownSeconds{ShutdownSeconds: seconds}})
}

// FactoryReset restores defaults and reboots. device=true also wipes the
// device's keys and NodeDB (factory_reset_device); false resets config
// only (factory_reset_config).
func (c *Client) FactoryReset(ctx context.Context, device bool) error {
	if device {
		return c.action(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_FactoryResetDevice{FactoryResetDevice: 1}})
	}
	return c.action(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_FactoryResetConfig{FactoryResetConfig: 1}})
}

// ResetNodeDB empties the radio's NodeDB, optionally keeping favourites.
func (c *Client) ResetNodeDB(ctx context.Context, keepFavorites bool) error {
	return c.action(ctx, &pb.AdminMessage{PayloadVariant: &pb.AdminMessage_NodedbReset{NodedbReset: keepFavorites}})
}

func (c *Client) action(ctx context.Context, msg *pb.AdminMessage) error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	_, err := c.admin(ctx, msg, false)
	return err
}

// updateState changes the live state after a successful admin exchange;
// f reports whether it changed anything, and then consumers are told with
// an EventConfig carrying the new snapshot.
func (c *Client) updateState(f func(*radioState) bool) {
	c.mu.Lock()
	if c.state == nil || !f(c.state) {
		c.mu.Unlock()
		return
	}
	snap := c.state.snapshot()
	c.mu.Unlock()
	c.emit(Event{Kind: EventConfig, Time: c.opts.Now(), Snapshot: &snap})
}
