package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// runInfo connects to a radio, handshakes, prints what it learned and
// disconnects: a quick check of a radio before adding it to the gateway.
func runInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", "info [--json] [--timeout 30s] ADDR", stderr)
	asJSON := fs.Bool("json", false, "print one JSON document instead of tables")
	timeout := fs.Duration("timeout", 30*time.Second, "give up if the radio has not finished its handshake by then")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want exactly one radio address, got %d", errUsage, len(pos))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := meshtastic.Dial(ctx, pos[0], meshtastic.Options{NoEvents: true, HandshakeTimeout: *timeout})
	if err != nil {
		return err
	}
	snap := c.Snapshot()
	_ = c.Close()
	rep := buildReport(pos[0], &snap)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.print(stdout)
}

type infoReport struct {
	Address  string            `json:"address"`
	MyNode   meshtastic.Node   `json:"my_node"`
	Device   deviceInfo        `json:"device"`
	LoRa     *loraInfo         `json:"lora"`
	Channels []channelInfo     `json:"channels"`
	MQTT     *mqttInfo         `json:"mqtt"`
	Nodes    []meshtastic.Node `json:"nodes"`
}

type deviceInfo struct {
	Firmware      string `json:"firmware"`
	HWModel       string `json:"hw_model"`
	Role          string `json:"role"`
	RebootCount   uint32 `json:"reboot_count"`
	PioEnv        string `json:"pio_env,omitempty"`
	HasWifi       bool   `json:"has_wifi"`
	HasBluetooth  bool   `json:"has_bluetooth"`
	HasEthernet   bool   `json:"has_ethernet"`
	HasPKC        bool   `json:"has_pkc"`
	NodeDBCount   uint32 `json:"nodedb_count"`
	FileManifests int    `json:"files"`
}

type loraInfo struct {
	Region      string `json:"region"`
	ModemPreset string `json:"modem_preset"`
	UsePreset   bool   `json:"use_preset"`
	HopLimit    uint32 `json:"hop_limit"`
	TxEnabled   bool   `json:"tx_enabled"`
	TxPower     int32  `json:"tx_power"`
	IgnoreMQTT  bool   `json:"ignore_mqtt"`
	OkToMQTT    bool   `json:"config_ok_to_mqtt"`
}

type channelInfo struct {
	Index    int32  `json:"index"`
	Role     string `json:"role"`
	Name     string `json:"name"`
	PSK      string `json:"psk"`
	Uplink   bool   `json:"uplink_enabled"`
	Downlink bool   `json:"downlink_enabled"`
}

type mqttInfo struct {
	Enabled           bool   `json:"enabled"`
	Address           string `json:"address"`
	Username          string `json:"username"`
	PasswordSet       bool   `json:"password_set"`
	EncryptionEnabled bool   `json:"encryption_enabled"`
	JSONEnabled       bool   `json:"json_enabled"`
	TLSEnabled        bool   `json:"tls_enabled"`
	Root              string `json:"root"`
	ProxyToClient     bool   `json:"proxy_to_client_enabled"`
	MapReporting      bool   `json:"map_reporting_enabled"`
}

func buildReport(addr string, s *meshtastic.Snapshot) *infoReport {
	r := &infoReport{Address: addr, MyNode: s.Self(), Nodes: s.SortedNodes()}
	md := s.Metadata
	r.Device = deviceInfo{
		Firmware: md.GetFirmwareVersion(), HWModel: md.GetHwModel().String(), Role: md.GetRole().String(),
		RebootCount: s.MyInfo.GetRebootCount(), PioEnv: s.MyInfo.GetPioEnv(), HasWifi: md.GetHasWifi(),
		HasBluetooth: md.GetHasBluetooth(), HasEthernet: md.GetHasEthernet(), HasPKC: md.GetHasPKC(),
		NodeDBCount: s.MyInfo.GetNodedbCount(), FileManifests: s.Files,
	}
	if l := s.LoRa(); l != nil {
		r.LoRa = &loraInfo{
			Region: l.GetRegion().String(), ModemPreset: l.GetModemPreset().String(), UsePreset: l.GetUsePreset(),
			HopLimit: l.GetHopLimit(), TxEnabled: l.GetTxEnabled(), TxPower: l.GetTxPower(),
			IgnoreMQTT: l.GetIgnoreMqtt(), OkToMQTT: l.GetConfigOkToMqtt(),
		}
	}
	for _, ch := range s.Channels {
		if ch.GetRole() == pb.Channel_DISABLED {
			continue
		}
		st := ch.GetSettings()
		name := st.GetName()
		if name == "" && r.LoRa != nil {
			name = presetName(s.LoRa().GetModemPreset())
		}
		r.Channels = append(r.Channels, channelInfo{
			Index: ch.GetIndex(), Role: ch.GetRole().String(), Name: name, PSK: describePSK(st.GetPsk()),
			Uplink: st.GetUplinkEnabled(), Downlink: st.GetDownlinkEnabled(),
		})
	}
	if m := s.MQTT(); m != nil {
		r.MQTT = &mqttInfo{
			Enabled: m.GetEnabled(), Address: orDefault(m.GetAddress(), "mqtt.meshtastic.org"), Username: m.GetUsername(),
			PasswordSet: m.GetPassword() != "", EncryptionEnabled: m.GetEncryptionEnabled(), JSONEnabled: m.GetJsonEnabled(),
			TLSEnabled: m.GetTlsEnabled(), Root: orDefault(m.GetRoot(), "msh"), ProxyToClient: m.GetProxyToClientEnabled(),
			MapReporting: m.GetMapReportingEnabled(),
		}
	}
	return r
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// presetName turns LONG_FAST into LongFast, the name an unnamed channel
// takes on the air and in MQTT topics.
func presetName(p pb.Config_LoRaConfig_ModemPreset) string {
	var b strings.Builder
	for part := range strings.SplitSeq(p.String(), "_") {
		if part == "" {
			continue
		}
		b.WriteString(part[:1] + strings.ToLower(part[1:]))
	}
	return b.String()
}

// describePSK says what kind of key a channel uses without printing it.
func describePSK(k []byte) string {
	switch {
	case len(k) == 0:
		return "none"
	case len(k) == 1 && k[0] == 0:
		return "none"
	case len(k) == 1 && k[0] == 1:
		return "default"
	case len(k) == 1:
		return fmt.Sprintf("simple%d", k[0]-1)
	}
	return fmt.Sprintf("aes%d", len(k)*8)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (r *infoReport) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	me := r.MyNode
	fmt.Fprintf(tw, "Radio\t%s\n", r.Address)
	fmt.Fprintf(tw, "Node\t%s (%s) %s\n", format.Clean(me.LongName), format.Clean(me.ShortName), me.ID())
	fmt.Fprintf(tw, "Device\t%s, firmware %s, role %s, reboots %d\n", r.Device.HWModel, format.Clean(r.Device.Firmware), r.Device.Role, r.Device.RebootCount)
	if l := r.LoRa; l != nil {
		fmt.Fprintf(tw, "LoRa\tregion %s, preset %s, hop limit %d, tx %s\n", l.Region, l.ModemPreset, l.HopLimit, onOff(l.TxEnabled))
	}
	if m := r.MQTT; m != nil {
		fmt.Fprintf(tw, "MQTT\t%s, %s, root %s, encryption %s, tls %s, proxy %s, map %s\n", onOff(m.Enabled), format.Clean(m.Address), format.Clean(m.Root),
			onOff(m.EncryptionEnabled), onOff(m.TLSEnabled), onOff(m.ProxyToClient), onOff(m.MapReporting))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nChannels\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tROLE\tNAME\tPSK\tUPLINK\tDOWNLINK")
	for _, c := range r.Channels {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", c.Index, c.Role, format.Clean(c.Name), c.PSK, onOff(c.Uplink), onOff(c.Downlink))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nNodes (%d)\n", len(r.Nodes))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tSHORT\tLONG NAME\tHARDWARE\tHOPS\tSNR\tBATT\tLAST HEARD\tVIA")
	now := time.Now()
	for _, n := range r.Nodes {
		hops, snr, via := "-", "-", "RF"
		if n.HopsAway != nil {
			hops = fmt.Sprint(*n.HopsAway)
		}
		if n.SNR != 0 {
			snr = fmt.Sprintf("%.1f", n.SNR)
		}
		if n.ViaMQTT {
			via = "MQTT"
		}
		if n.Num == me.Num {
			via, hops = "self", "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID(), format.Clean(n.ShortName), format.Clean(n.LongName), n.HWModel,
			hops, snr, format.Power(n.BatteryLevel), format.Age(now, n.LastHeard), via)
	}
	return tw.Flush()
}
