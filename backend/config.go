package backend

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// Secret values are never shown; these words say whether one is set.
const (
	SecretSet    = "(set)"
	SecretNotSet = "(not set)"
)

// secretFields are the settings whose values nobody reads back through the
// gateway: who may read config is not who may read keys.
var secretFields = map[string]bool{
	"security.private_key": true,
	"network.wifi_psk":     true,
	"bluetooth.fixed_pin":  true,
	"mqtt.password":        true,
}

// hiddenSections are config variants that are not settings a user reads.
var hiddenSections = map[string]bool{"sessionkey": true, "device_ui": true}

// Channel is one enabled channel of a radio.
type Channel struct {
	Index           int32  `json:"index"`
	Role            string `json:"role"`
	Name            string `json:"name"`
	UplinkEnabled   bool   `json:"uplink_enabled"`
	DownlinkEnabled bool   `json:"downlink_enabled"`
	PSK             string `json:"psk"` // SecretSet or SecretNotSet
}

// RadioConfig is a radio's configuration, one object per section ("lora",
// "device", "mqtt", ...: the names `config set` takes), with secrets
// replaced by SecretSet or SecretNotSet.
type RadioConfig struct {
	Radio    string                    `json:"radio"`
	Sections map[string]map[string]any `json:"sections"`
	Channels []Channel                 `json:"channels"`
	Metadata map[string]any            `json:"metadata"`
}

// Config reads a radio's configuration as the radio reported it.
func (b *Backend) Config(ctx context.Context, c Caller, radioName string) (RadioConfig, error) {
	br, release, err := b.useRadio(ctx, c, OpConfig, radioName, 0)
	if err != nil {
		return RadioConfig{}, err
	}
	defer release()
	return configOf(br.Name(), br.View().Radio), nil
}

func configOf(name string, s *meshtastic.Snapshot) RadioConfig {
	out := RadioConfig{Radio: name, Sections: map[string]map[string]any{}, Channels: []Channel{}, Metadata: map[string]any{}}
	for _, cfg := range s.Config {
		if sec, m, ok := variant(cfg); ok && !hiddenSections[sec] {
			out.Sections[sec] = fields(sec, m)
		}
	}
	for _, mc := range s.Module {
		if sec, m, ok := variant(mc); ok && !hiddenSections[sec] {
			out.Sections[sec] = fields(sec, m)
		}
	}
	if s.Metadata != nil {
		out.Metadata = fields("metadata", s.Metadata.ProtoReflect())
	}
	for _, ch := range s.Channels {
		if ch.GetRole() == pb.Channel_DISABLED {
			continue
		}
		st := ch.GetSettings()
		out.Channels = append(out.Channels, Channel{Index: ch.GetIndex(), Role: ch.GetRole().String(), Name: st.GetName(),
			UplinkEnabled: st.GetUplinkEnabled(), DownlinkEnabled: st.GetDownlinkEnabled(), PSK: secretWord(len(st.GetPsk()) > 0)})
	}
	return out
}

func secretWord(set bool) string {
	if set {
		return SecretSet
	}
	return SecretNotSet
}

// variant returns the set member of a Config or ModuleConfig oneof: its
// field name ("lora", "mqtt") and message.
func variant(m proto.Message) (string, protoreflect.Message, bool) {
	r := m.ProtoReflect()
	od := r.Descriptor().Oneofs().ByName("payload_variant")
	if od == nil {
		return "", nil, false
	}
	fd := r.WhichOneof(od)
	if fd == nil || fd.Kind() != protoreflect.MessageKind {
		return "", nil, false
	}
	return string(fd.Name()), r.Get(fd).Message(), true
}

// fields turns a settings message into plain JSON values: numbers as
// numbers (64-bit ones too), enums by name, nested messages as objects,
// secrets as SecretSet/SecretNotSet. Every field is present, defaults too.
func fields(section string, m protoreflect.Message) map[string]any {
	out := map[string]any{}
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		name := snake(string(fd.Name()))
		if secretFields[section+"."+name] {
			out[name] = secretWord(m.Has(fd))
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			vals := make([]any, l.Len())
			for j := range vals {
				vals[j] = scalar(fd, l.Get(j), section+"."+name)
			}
			out[name] = vals
		case fd.IsMap():
			continue
		default:
			out[name] = scalar(fd, v, section+"."+name)
		}
	}
	return out
}

// snake writes a field name in snake_case: a few upstream fields are
// camelCase (DeviceMetadata's canShutdown, hasWifi, ...), and the JSON
// schema has one convention.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 && !(name[i-1] >= 'A' && name[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint()
	case protoreflect.FloatKind:
		// Print a float32 as the shortest decimal that reads back the
		// same (0.1, not 0.10000000149011612).
		f, _ := strconv.ParseFloat(strconv.FormatFloat(v.Float(), 'f', -1, 32), 64)
		return f
	case protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return fields(path, v.Message())
	}
	return v.Interface()
}

// Setting is one `KEY VALUE` of config set: a dotted name as the python
// CLI's --set takes ("lora.hop_limit") and its value as written.
type Setting struct {
	Key   string
	Value string
}

// Change is one setting changed, with its values before and after (secrets
// as SecretSet).
type Change struct {
	Key    string `json:"key"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// ConfigResult is what config set and mqtt set did.
type ConfigResult struct {
	Radio   string   `json:"radio"`
	Changes []Change `json:"changes"`
	// Reboots says the radio reboots to apply the change (it does so after
	// every committed edit of its config).
	Reboots bool `json:"reboots"`
}

// ConfigSet changes settings of a radio in one begin/commit edit, so the
// radio saves and reboots once. Everyone on the radio is told first.
func (b *Backend) ConfigSet(ctx context.Context, c Caller, radioName string, settings []Setting) (ConfigResult, error) {
	return b.setConfig(ctx, c, OpConfigSet, radioName, settings)
}

// MQTTSet changes MQTT settings ("enabled", "address", or "mqtt.enabled").
func (b *Backend) MQTTSet(ctx context.Context, c Caller, radioName string, settings []Setting) (ConfigResult, error) {
	for i := range settings {
		if !strings.HasPrefix(settings[i].Key, "mqtt.") {
			settings[i].Key = "mqtt." + settings[i].Key
		}
	}
	return b.setConfig(ctx, c, OpMQTTSet, radioName, settings)
}

// SetMQTT replaces the whole MQTT module config (the UI's editor).
func (b *Backend) SetMQTT(ctx context.Context, c Caller, radioName string, m *pb.ModuleConfig_MQTTConfig) (ConfigResult, error) {
	br, release, err := b.useRadio(ctx, c, OpMQTTSet, radioName, 0)
	if err != nil {
		return ConfigResult{}, err
	}
	defer release()
	before := br.View().Radio.MQTT()
	if before == nil {
		before = &pb.ModuleConfig_MQTTConfig{}
	}
	res := ConfigResult{Radio: br.Name(), Reboots: true, Changes: diff("mqtt", before.ProtoReflect(), m.ProtoReflect())}
	if len(res.Changes) == 0 {
		return res, nil
	}
	mc := &pb.ModuleConfig{PayloadVariant: &pb.ModuleConfig_Mqtt{Mqtt: proto.Clone(m).(*pb.ModuleConfig_MQTTConfig)}}
	return res, b.applyEdit(ctx, c, br, OpMQTTSet, nil, []*pb.ModuleConfig{mc}, res.Changes)
}

func diff(section string, before, after protoreflect.Message) []Change {
	bf, af := fields(section, before), fields(section, after)
	var out []Change
	for _, k := range sortedKeys(af) {
		if fmt.Sprint(bf[k]) != fmt.Sprint(af[k]) || (secretFields[section+"."+k] && !proto.Equal(before.Interface(), after.Interface()) && changedField(before, after, k)) {
			out = append(out, Change{Key: section + "." + k, Before: bf[k], After: af[k]})
		}
	}
	return out
}

func changedField(before, after protoreflect.Message, name string) bool {
	fd := before.Descriptor().Fields().ByName(protoreflect.Name(name))
	return fd != nil && !before.Get(fd).Equal(after.Get(fd))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (b *Backend) setConfig(ctx context.Context, c Caller, op Op, radioName string, settings []Setting) (ConfigResult, error) {
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return ConfigResult{}, err
	}
	if len(settings) == 0 {
		return ConfigResult{}, invalid("nothing to set (give KEY VALUE pairs, e.g. lora.hop_limit 5)")
	}
	br, err := b.radio(c, radioName)
	if err != nil {
		return ConfigResult{}, err
	}
	release, err := b.connected(ctx, c, br, 0)
	if err != nil {
		return ConfigResult{}, err
	}
	defer release()
	snap := br.View().Radio
	// Work on copies of the sections the settings touch, then send each
	// changed section once.
	configs := map[string]*pb.Config{}
	modules := map[string]*pb.ModuleConfig{}
	res := ConfigResult{Radio: br.Name(), Reboots: true}
	for _, s := range settings {
		section, path, ok := strings.Cut(s.Key, ".")
		if !ok || path == "" {
			return ConfigResult{}, invalid("%q: want SECTION.FIELD, e.g. lora.hop_limit", s.Key)
		}
		msg, err := sectionCopy(snap, section, configs, modules)
		if err != nil {
			return ConfigResult{}, err
		}
		before, after, err := setField(section, msg, path, s.Value)
		if err != nil {
			return ConfigResult{}, err
		}
		res.Changes = append(res.Changes, Change{Key: s.Key, Before: before, After: after})
	}
	if err := checkConfig(configs, modules); err != nil {
		return ConfigResult{}, err
	}
	var cs []*pb.Config
	for _, k := range sortedKeys(configs) {
		cs = append(cs, configs[k])
	}
	var ms []*pb.ModuleConfig
	for _, k := range sortedKeys(modules) {
		ms = append(ms, modules[k])
	}
	return res, b.applyEdit(ctx, c, br, op, cs, ms, res.Changes)
}

// applyEdit announces, sends and audits one edit.
func (b *Backend) applyEdit(ctx context.Context, c Caller, br *radio.Broker, op Op, cs []*pb.Config, ms []*pb.ModuleConfig, changes []Change) error {
	var words []string
	for _, ch := range changes {
		words = append(words, fmt.Sprintf("%s %v → %v", ch.Key, ch.Before, ch.After))
	}
	detail := strings.Join(words, "; ")
	br.Announce(fmt.Sprintf("%s is changing this radio's settings (%s); it will reboot to apply them", c.Name, keysOf(changes)))
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := br.Admin(actx, func(ctx context.Context, cl *meshtastic.Client) error { return cl.Edit(ctx, cs, ms) })
	if err != nil {
		b.audit(c, br.Name(), string(op), detail+": failed: "+err.Error())
		return failed(err)
	}
	b.audit(c, br.Name(), string(op), detail)
	return nil
}

func keysOf(changes []Change) string {
	var ks []string
	for _, ch := range changes {
		ks = append(ks, ch.Key)
	}
	return strings.Join(ks, ", ")
}

// sectionCopy finds the named section in the snapshot and returns a copy
// to change, shared between settings of the same section.
func sectionCopy(s *meshtastic.Snapshot, section string, configs map[string]*pb.Config, modules map[string]*pb.ModuleConfig) (protoreflect.Message, error) {
	if c, ok := configs[section]; ok {
		_, m, _ := variant(c)
		return m, nil
	}
	if mc, ok := modules[section]; ok {
		_, m, _ := variant(mc)
		return m, nil
	}
	if hiddenSections[section] {
		return nil, invalid("section %q cannot be set here", section)
	}
	for _, c := range s.Config {
		if name, _, ok := variant(c); ok && name == section {
			cp := proto.Clone(c).(*pb.Config)
			configs[section] = cp
			_, m, _ := variant(cp)
			return m, nil
		}
	}
	for _, mc := range s.Module {
		if name, _, ok := variant(mc); ok && name == section {
			cp := proto.Clone(mc).(*pb.ModuleConfig)
			modules[section] = cp
			_, m, _ := variant(cp)
			return m, nil
		}
	}
	var names []string
	for _, c := range s.Config {
		if n, _, ok := variant(c); ok && !hiddenSections[n] {
			names = append(names, n)
		}
	}
	for _, mc := range s.Module {
		if n, _, ok := variant(mc); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return nil, invalid("no section %q on this radio (sections: %s)", section, strings.Join(names, ", "))
}

// setField sets path ("hop_limit", or "a.b" inside a nested message) from
// text, returning the shown values before and after.
func setField(section string, m protoreflect.Message, path, text string) (before, after any, err error) {
	name, rest, nested := strings.Cut(path, ".")
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return nil, nil, invalid("%s has no setting %q (see: config -r RADIO)", section, name)
	}
	full := section + "." + name
	if nested {
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() {
			return nil, nil, invalid("%s is not a group of settings", full)
		}
		return setField(full, m.Mutable(fd).Message(), rest, text)
	}
	if fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.MessageKind {
		return nil, nil, invalid("%s is a list or group and cannot be set from the command line", full)
	}
	secret := secretFields[full]
	show := func() any {
		if secret {
			return secretWord(m.Has(fd))
		}
		return scalar(fd, m.Get(fd), full)
	}
	before = show()
	v, err := parseValue(fd, full, text)
	if err != nil {
		return nil, nil, err
	}
	m.Set(fd, v)
	return before, show(), nil
}

func parseValue(fd protoreflect.FieldDescriptor, key, text string) (protoreflect.Value, error) {
	bad := func(want string) (protoreflect.Value, error) {
		return protoreflect.Value{}, invalid("%s: %q is not %s", key, text, want)
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch strings.ToLower(text) {
		case "true", "yes", "on", "1":
			return protoreflect.ValueOfBool(true), nil
		case "false", "no", "off", "0":
			return protoreflect.ValueOfBool(false), nil
		}
		return bad("true or false")
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		for i := 0; i < vals.Len(); i++ {
			if strings.EqualFold(string(vals.Get(i).Name()), text) {
				return protoreflect.ValueOfEnum(vals.Get(i).Number()), nil
			}
		}
		var names []string
		for i := 0; i < vals.Len(); i++ {
			names = append(names, string(vals.Get(i).Name()))
		}
		return protoreflect.Value{}, invalid("%s: %q is not one of %s", key, text, strings.Join(names, ", "))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return bad("a whole number")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return bad("a whole number")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(text, 10, 32)
		if err != nil {
			return bad("a whole number ≥ 0")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return bad("a whole number ≥ 0")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(text, 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(text), nil
	}
	return protoreflect.Value{}, invalid("%s cannot be set from the command line", key)
}

// checkConfig refuses values the firmware would reject or that would let
// the radio flood the mesh.
func checkConfig(configs map[string]*pb.Config, _ map[string]*pb.ModuleConfig) error {
	if c, ok := configs["lora"]; ok {
		if h := c.GetLora().GetHopLimit(); h > 7 {
			return invalid("lora.hop_limit %d: the firmware allows at most 7", h)
		}
	}
	return nil
}
