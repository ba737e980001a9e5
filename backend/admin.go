package backend

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
)

// ActionResult is what an admin action on a radio did.
type ActionResult struct {
	Radio  string `json:"radio"`
	Action string `json:"action"`
	// Accepted is true once the radio accepted the request.
	Accepted bool `json:"accepted"`
}

// Reboot restarts the radio after delay (0-1h; default 5 s).
func (b *Backend) Reboot(ctx context.Context, c Caller, radioName string, delay time.Duration) (ActionResult, error) {
	if delay < 0 || delay > time.Hour {
		return ActionResult{}, invalid("delay %s: want 0s-1h", delay)
	}
	secs := int32(delay.Seconds())
	return b.radioAction(ctx, c, OpReboot, radioName, "reboot", fmt.Sprintf("in %ds", secs),
		func(ctx context.Context, cl *meshtastic.Client) error { return cl.Reboot(ctx, secs) })
}

// Shutdown powers the radio off; it stays off until someone presses its
// button.
func (b *Backend) Shutdown(ctx context.Context, c Caller, radioName string) (ActionResult, error) {
	return b.radioAction(ctx, c, OpShutdown, radioName, "shut down", "",
		func(ctx context.Context, cl *meshtastic.Client) error { return cl.Shutdown(ctx, 5) })
}

// FactoryReset restores factory settings; device also wipes the keys and
// the NodeDB.
func (b *Backend) FactoryReset(ctx context.Context, c Caller, radioName string, device bool) (ActionResult, error) {
	what, detail := "factory-reset the settings of", "settings only"
	if device {
		what, detail = "factory-reset (settings, keys and NodeDB)", "settings, keys and NodeDB"
	}
	return b.radioAction(ctx, c, OpFactoryReset, radioName, what, detail,
		func(ctx context.Context, cl *meshtastic.Client) error { return cl.FactoryReset(ctx, device) })
}

// NodeDBReset empties the radio's node database.
func (b *Backend) NodeDBReset(ctx context.Context, c Caller, radioName string, keepFavorites bool) (ActionResult, error) {
	detail := ""
	if keepFavorites {
		detail = "favourites kept"
	}
	return b.radioAction(ctx, c, OpNodeDBReset, radioName, "empty the node database of", detail,
		func(ctx context.Context, cl *meshtastic.Client) error { return cl.ResetNodeDB(ctx, keepFavorites) })
}

// radioAction runs an admin action: everyone else on the radio is told
// first, then it is sent, then audited with its outcome.
func (b *Backend) radioAction(ctx context.Context, c Caller, op Op, radioName, what, detail string,
	f func(context.Context, *meshtastic.Client) error) (ActionResult, error) {
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return ActionResult{}, err
	}
	br, err := b.radio(c, radioName)
	if err != nil {
		return ActionResult{}, err
	}
	release, err := b.connected(ctx, c, br, 0)
	if err != nil {
		return ActionResult{}, err
	}
	defer release()
	br.Announce(fmt.Sprintf("%s is about to %s this radio", c.Name, what))
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = br.Admin(actx, f)
	outcome := "accepted by the radio"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	if detail != "" {
		outcome = detail + "; " + outcome
	}
	b.audit(c, br.Name(), string(op), outcome)
	if err != nil {
		return ActionResult{}, failed(err)
	}
	return ActionResult{Radio: br.Name(), Action: string(op), Accepted: true}, nil
}

// MQTTHealth is how much of a radio's recent traffic came via MQTT.
type MQTTHealth struct {
	// Window is the number of recent packets looked at.
	Window    int       `json:"window"`
	RF        int       `json:"rf_packets"`
	MQTT      int       `json:"mqtt_packets"`
	MQTTShare float64   `json:"mqtt_share"` // 0-1
	LastRF    time.Time `json:"last_rf,omitzero"`
	LastMQTT  time.Time `json:"last_mqtt,omitzero"`
	// MQTTOnly lists nodes heard only via MQTT in the window.
	MQTTOnly []NodeRef `json:"mqtt_only_nodes"`
}

// MQTTStatus is a radio's MQTT settings next to its traffic.
type MQTTStatus struct {
	Radio string `json:"radio"`
	// Config is the MQTT module config (password as SecretSet or
	// SecretNotSet); null when the radio did not report one.
	Config map[string]any `json:"config"`
	Health MQTTHealth     `json:"health"`
}

// MQTT reads a radio's MQTT settings and how much traffic arrives via MQTT.
func (b *Backend) MQTT(ctx context.Context, c Caller, radioName string) (MQTTStatus, error) {
	br, release, err := b.useRadio(ctx, c, OpMQTT, radioName, 0)
	if err != nil {
		return MQTTStatus{}, err
	}
	defer release()
	out := MQTTStatus{Radio: br.Name()}
	if m := br.View().Radio.MQTT(); m != nil {
		out.Config = fields("mqtt", m.ProtoReflect())
	}
	pkts := br.RecentPackets(0)
	h := MQTTHealth{Window: len(pkts), MQTTOnly: []NodeRef{}}
	rf, mq := map[uint32]bool{}, map[uint32]bool{}
	for _, p := range pkts {
		if viaMQTT(p.P) {
			h.MQTT++
			h.LastMQTT = utc(p.At)
			mq[p.P.GetFrom()] = true
		} else {
			h.RF++
			h.LastRF = utc(p.At)
			rf[p.P.GetFrom()] = true
		}
	}
	if total := h.RF + h.MQTT; total > 0 {
		h.MQTTShare = float64(h.MQTT) / float64(total)
	}
	for n := range mq {
		if !rf[n] {
			h.MQTTOnly = append(h.MQTTOnly, nodeRef(n))
		}
	}
	slices.SortFunc(h.MQTTOnly, func(a, b NodeRef) int { return cmp.Compare(a.Num, b.Num) })
	out.Health = h
	return out, nil
}
