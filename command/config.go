package command

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/format"
)

func (r *runner) mqttCmd() *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:   "mqtt [-r RADIO] | mqtt set [-r RADIO] KEY VALUE...",
		Short: "MQTT settings and how much traffic arrives via MQTT",
		Args:  subcommands,
		RunE: r.run(func(*cobra.Command, []string) error {
			st, err := r.env.Backend.MQTT(r.ctx(), r.c(), radioName)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(st)
			}
			t := newTable(r.env.Out)
			if st.Config == nil {
				t.row("config", "the radio did not report an MQTT module config")
			} else {
				for _, k := range sortedKeys(st.Config) {
					v := value(st.Config[k])
					if k == "address" && v == "" {
						v = "mqtt.meshtastic.org (default)"
					}
					t.row(k, format.Clean(v))
				}
			}
			h := st.Health
			now := r.env.Now()
			t.row("", "")
			t.row(fmt.Sprintf("packets (last %d)", h.Window), fmt.Sprintf("%d via RF, %d via MQTT (%s%% MQTT)", h.RF, h.MQTT,
				format.Number(float64(int(100*h.MQTTShare+0.5)))))
			t.row("last RF packet", ago(now, h.LastRF))
			t.row("last MQTT packet", ago(now, h.LastMQTT))
			t.row("nodes heard only via MQTT", fmt.Sprint(len(h.MQTTOnly)))
			t.flush()
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.AddCommand(r.setCmd("set", "change MQTT settings in one edit (the radio reboots once)", backend.OpMQTTSet,
		"  ssh GATEWAY mqtt set -r base enabled true address mqtt.example.org"))
	return withOp(c, backend.OpMQTT)
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return format.Age(now, t) + " ago"
}

func (r *runner) configCmd() *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:   "config [-r RADIO] | config set [-r RADIO] KEY VALUE...",
		Short: "the radio's configuration (secrets hidden); admins change it with set",
		Args:  subcommands,
		RunE: r.run(func(*cobra.Command, []string) error {
			cfg, err := r.env.Backend.Config(r.ctx(), r.c(), radioName)
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(cfg)
			}
			for _, kv := range flattenConfig(cfg) {
				r.printf("%s = %s\n", kv[0], format.Clean(kv[1]))
			}
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	c.AddCommand(r.setCmd("set", "change settings in one edit: KEY VALUE pairs such as lora.hop_limit 5 (the radio reboots once)",
		backend.OpConfigSet, "  ssh GATEWAY config set -r base lora.hop_limit 5 device.role CLIENT_MUTE"))
	return withOp(c, backend.OpConfig)
}

// setCmd is `config set` and `mqtt set`.
func (r *runner) setCmd(use, short string, op backend.Op, example string) *cobra.Command {
	var radioName string
	c := &cobra.Command{
		Use:     use + " [-r RADIO] KEY VALUE [KEY VALUE...]",
		Short:   short,
		Example: example,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 || len(args)%2 != 0 {
				return usagef("want KEY VALUE pairs (quote a value that has spaces)")
			}
			return nil
		},
		RunE: r.run(func(_ *cobra.Command, args []string) error {
			var settings []backend.Setting
			for i := 0; i < len(args); i += 2 {
				settings = append(settings, backend.Setting{Key: args[i], Value: args[i+1]})
			}
			var res backend.ConfigResult
			var err error
			if op == backend.OpMQTTSet {
				res, err = r.env.Backend.MQTTSet(r.ctx(), r.c(), radioName, settings)
			} else {
				res, err = r.env.Backend.ConfigSet(r.ctx(), r.c(), radioName, settings)
			}
			if err != nil {
				return err
			}
			if r.json {
				return r.writeJSON(res)
			}
			for _, ch := range res.Changes {
				r.printf("%s: %s -> %s\n", ch.Key, value(ch.Before), value(ch.After))
			}
			r.printf("radio %s accepted %s; it reboots to apply them\n", res.Radio, format.Count(len(res.Changes), "change"))
			return nil
		}),
	}
	radioFlag(c.Flags(), &radioName)
	return withOp(c, op)
}

// flattenConfig lists "section.key" = value pairs, sorted.
func flattenConfig(cfg backend.RadioConfig) [][2]string {
	var out [][2]string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(prefix+"."+k, x[k])
			}
		case []any:
			if len(x) == 0 {
				out = append(out, [2]string{prefix, "[]"})
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		default:
			out = append(out, [2]string{prefix, value(x)})
		}
	}
	for _, name := range sortedKeys(cfg.Sections) {
		walk(name, map[string]any(cfg.Sections[name]))
	}
	for _, ch := range cfg.Channels {
		p := fmt.Sprintf("channels[%d]", ch.Index)
		out = append(out, [2]string{p + ".name", ch.Name}, [2]string{p + ".role", ch.Role},
			[2]string{p + ".psk", ch.PSK}, [2]string{p + ".uplink_enabled", fmt.Sprint(ch.UplinkEnabled)},
			[2]string{p + ".downlink_enabled", fmt.Sprint(ch.DownlinkEnabled)})
	}
	walk("metadata", cfg.Metadata)
	slices.SortStableFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// value prints one setting: numbers without exponents.
func value(v any) string {
	switch x := v.(type) {
	case float64:
		return format.Number(x)
	case float32:
		return format.Number(float64(x))
	case int64:
		return fmt.Sprint(x)
	case uint64:
		return fmt.Sprint(x)
	case nil:
		return "-"
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
