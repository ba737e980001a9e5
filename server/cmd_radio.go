package server

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

func (e *execEnv) cmdPackets(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	limit := fs.Int("limit", 50, "how many of the newest packets to show first")
	follow := fs.Bool("follow", false, "keep streaming new packets until you disconnect")
	asJSON := fs.Bool("json", false, "print JSON (with --follow: one JSON object per line)")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *limit < 0 {
		return e.usage("packets", "--limit must not be negative")
	}
	b, code, ok := e.pickRadio("packets", *rname)
	if !ok {
		return code
	}
	personal := e.personalFilters(b.Name())
	visible := func(p *radio.Packet) bool {
		ok, _ := personal.AllowsPacket(p.P)
		return ok
	}
	if !*follow {
		e.rec.Bind(b.Name())
		var pkts []*radio.Packet
		for _, p := range b.RecentPackets(*limit) {
			if visible(p) {
				pkts = append(pkts, p)
			}
		}
		if *asJSON {
			out := make([]radio.PacketJSON, len(pkts))
			for i, p := range pkts {
				out[i] = p.JSON()
			}
			return e.writeJSON(out)
		}
		v := b.View()
		for _, p := range pkts {
			fmt.Fprintln(e.out, packetLine(v, p))
		}
		return exitOK
	}
	sub, detach, code, ok := e.attach("packets", b, *wait)
	if !ok {
		return code
	}
	defer detach()
	print := func(p *radio.Packet) bool {
		var err error
		if *asJSON {
			var line []byte
			line, err = jsonLine(p.JSON())
			if err == nil {
				_, err = e.out.Write(line)
			}
		} else {
			_, err = fmt.Fprintln(e.out, packetLine(b.View(), p))
		}
		return err == nil
	}
	if *limit > 0 {
		for _, p := range b.RecentPackets(*limit) {
			if visible(p) && !print(p) {
				return exitFailed
			}
		}
	}
	for {
		select {
		case <-e.ctx.Done():
			return exitOK
		case ev := <-sub.Events():
			switch ev.Kind {
			case radio.EvPacket:
				e.rec.Observe(ev.Packet.P, ev.Packet.At)
				if visible(ev.Packet) && !print(ev.Packet) {
					return exitFailed
				}
			case radio.EvStatus:
				if !*asJSON {
					fmt.Fprintf(e.errOut, "meshgate: radio %s is %s\n", b.Name(), ev.Status.State)
				}
			case radio.EvAnnounce:
				fmt.Fprintf(e.errOut, "meshgate: %s\n", ev.Text)
			}
		}
	}
}

// packetLine renders a packet as one line of the packet log.
func packetLine(v *radio.View, p *radio.Packet) string {
	m := p.P
	var meta []string
	if m.GetRxSnr() != 0 {
		meta = append(meta, fmt.Sprintf("snr %.1f", m.GetRxSnr()))
	}
	if m.GetRxRssi() != 0 {
		meta = append(meta, fmt.Sprintf("rssi %d", m.GetRxRssi()))
	}
	if h, ok := meshtastic.HopsOf(m); ok {
		meta = append(meta, fmt.Sprintf("hops %d", h))
	}
	via := "RF"
	if radio.ViaMQTT(m) {
		via = "MQTT"
	}
	meta = append(meta, via)
	to := "all"
	if m.GetTo() != meshtastic.Broadcast {
		to = nodeName(v, m.GetTo())
	}
	return fmt.Sprintf("%s %s -> %s %s %s [%s]", p.At.Local().Format("15:04:05"), nodeName(v, m.GetFrom()), to,
		radio.PortName(m), radio.Summary(m), strings.Join(meta, " "))
}

func (e *execEnv) cmdMQTT(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	b, _, detach, code, ok := e.open("mqtt", *rname, *wait)
	if !ok {
		return code
	}
	defer detach()
	v := b.View()
	m := v.Radio.MQTT()
	h := radioHealth(b)
	if *asJSON {
		cfg := map[string]any{}
		if m != nil {
			cfg = map[string]any{"enabled": m.GetEnabled(), "address": m.GetAddress(), "username": m.GetUsername(),
				"password_set": m.GetPassword() != "", "encryption_enabled": m.GetEncryptionEnabled(),
				"json_enabled": m.GetJsonEnabled(), "tls_enabled": m.GetTlsEnabled(), "root": m.GetRoot(),
				"proxy_to_client_enabled": m.GetProxyToClientEnabled(), "map_reporting_enabled": m.GetMapReportingEnabled()}
		}
		return e.writeJSON(map[string]any{"config": cfg, "health": h})
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	if m == nil {
		fmt.Fprintln(tw, "config\tthe radio did not report an MQTT module config")
	} else {
		addr := m.GetAddress()
		if addr == "" {
			addr = "mqtt.meshtastic.org (default)"
		}
		fmt.Fprintf(tw, "enabled\t%v\nserver\t%s\nusername\t%s\nroot\t%s\nencryption\t%v\ntls\t%v\njson\t%v\nproxy to client\t%v\nmap reporting\t%v\n",
			m.GetEnabled(), addr, m.GetUsername(), m.GetRoot(), m.GetEncryptionEnabled(), m.GetTlsEnabled(),
			m.GetJsonEnabled(), m.GetProxyToClientEnabled(), m.GetMapReportingEnabled())
	}
	now := time.Now()
	fmt.Fprintf(tw, "\npackets (last %d)\t%d via RF, %d via MQTT (%.0f%% MQTT)\nlast RF packet\t%s ago\nlast MQTT packet\t%s ago\nnodes heard only via MQTT\t%d\n",
		h.Window, h.RF, h.MQTT, 100*h.MQTTShare, ago(now, h.LastRF), ago(now, h.LastMQTT), len(h.MQTTOnly))
	_ = tw.Flush()
	return exitOK
}

// health is the MQTT picture over the radio's recent packet history.
type health struct {
	Window    int       `json:"window"`
	RF        int       `json:"rf_packets"`
	MQTT      int       `json:"mqtt_packets"`
	MQTTShare float64   `json:"mqtt_share"`
	LastRF    time.Time `json:"last_rf,omitzero"`
	LastMQTT  time.Time `json:"last_mqtt,omitzero"`
	MQTTOnly  []string  `json:"mqtt_only_nodes"`
}

func radioHealth(b *radio.Broker) health {
	pkts := b.RecentPackets(0)
	h := health{Window: len(pkts), MQTTOnly: []string{}}
	rfNodes, mqttNodes := map[uint32]bool{}, map[uint32]bool{}
	for _, p := range pkts {
		if radio.ViaMQTT(p.P) {
			h.MQTT++
			h.LastMQTT = p.At
			mqttNodes[p.P.GetFrom()] = true
		} else {
			h.RF++
			h.LastRF = p.At
			rfNodes[p.P.GetFrom()] = true
		}
	}
	if total := h.RF + h.MQTT; total > 0 {
		h.MQTTShare = float64(h.MQTT) / float64(total)
	}
	for n := range mqttNodes {
		if !rfNodes[n] {
			h.MQTTOnly = append(h.MQTTOnly, meshtastic.NodeID(n))
		}
	}
	slices.Sort(h.MQTTOnly)
	return h
}

func (e *execEnv) cmdConfig(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	b, _, detach, code, ok := e.open("config", *rname, *wait)
	if !ok {
		return code
	}
	defer detach()
	s := b.View().Radio
	sections := map[string]proto.Message{}
	for t, c := range s.Config {
		name := strings.ToLower(strings.TrimSuffix(t.String(), "_CONFIG"))
		if name == "sessionkey" || name == "deviceui" {
			continue
		}
		sections[name] = redact(c)
	}
	if m := s.MQTT(); m != nil {
		sections["mqtt"] = redact(&pb.ModuleConfig{PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: m}})
	}
	if s.Metadata != nil {
		sections["metadata"] = s.Metadata
	}
	out := map[string]any{}
	for name, msg := range sections {
		b, err := protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}.Marshal(msg)
		if err != nil {
			continue
		}
		out[name] = jsonRaw(b)
	}
	var chans []any
	for _, c := range s.Channels {
		if c.GetRole() == pb.Channel_DISABLED {
			continue
		}
		chans = append(chans, map[string]any{"index": c.GetIndex(), "role": c.GetRole().String(), "name": c.GetSettings().GetName(),
			"uplink_enabled": c.GetSettings().GetUplinkEnabled(), "downlink_enabled": c.GetSettings().GetDownlinkEnabled()})
	}
	out["channels"] = chans
	if *asJSON {
		return e.writeJSON(out)
	}
	for _, name := range sortedKeys(out) {
		fmt.Fprintf(e.out, "[%s]\n", name)
		flat := flatten(out[name])
		for _, k := range sortedKeys(flat) {
			fmt.Fprintf(e.out, "  %s = %s\n", k, flat[k])
		}
	}
	return exitOK
}

// redact hides secrets (Wi-Fi password, private key, MQTT password) from
// config output; who may read config is not who may read keys.
func redact(m proto.Message) proto.Message {
	c := proto.Clone(m)
	switch v := c.(type) {
	case *pb.Config:
		if bt := v.GetBluetooth(); bt != nil {
			bt.FixedPin = 0
		}
		if n := v.GetNetwork(); n != nil && n.GetWifiPsk() != "" {
			n.WifiPsk = "(set)"
		}
		if s := v.GetSecurity(); s != nil {
			s.PrivateKey = nil
		}
	case *pb.ModuleConfig:
		if q := v.GetMqtt(); q != nil && q.GetPassword() != "" {
			q.Password = "(set)"
		}
	}
	return c
}
