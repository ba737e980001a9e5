package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Delivery is the state of a text message. The words match the radio
// broker's delivery states, so it converts with
// store.Delivery(state.String()).
type Delivery string

// Delivery states.
const (
	DeliveryReceived Delivery = "received" // not ours
	DeliveryPending  Delivery = "pending"  // sent, waiting for the ack
	DeliverySent     Delivery = "sent"     // sent without asking for an ack
	DeliveryAcked    Delivery = "acked"
	DeliveryFailed   Delivery = "failed"
)

// String is the state's word.
func (d Delivery) String() string { return string(d) }

// Message is a text message heard or sent on a radio: the one message
// type of the gateway (the radio broker keeps the same values in memory).
// The JSON shape users see is backend.Message.
type Message struct {
	Seq      int64     `json:"seq"` // the store's id, increasing; a paging cursor
	Radio    string    `json:"radio"`
	At       time.Time `json:"time"`
	ID       uint32    `json:"id"` // the packet id
	From     uint32    `json:"from"`
	To       uint32    `json:"to"`
	Channel  uint32    `json:"channel"`
	Text     string    `json:"text"`
	ReplyID  uint32    `json:"reply_id,omitempty"`
	ViaMQTT  bool      `json:"via_mqtt"`
	Hops     *uint32   `json:"hops,omitempty"` // nil when unknown
	SNR      float32   `json:"snr,omitempty"`
	RSSI     int32     `json:"rssi,omitempty"`
	Outgoing bool      `json:"outgoing"`
	SentBy   string    `json:"sent_by,omitempty"` // the gateway user who sent it
	Delivery Delivery  `json:"delivery"`
	Error    string    `json:"error,omitempty"`
	AckFrom  string    `json:"ack_from,omitempty"`
}

// Direct reports whether the message was addressed to one node (not to
// the broadcast address).
func (m *Message) Direct() bool { return m.To != 0xffffffff }

// PacketSummary is one line of a radio's packet log.
type PacketSummary struct {
	Seq     int64     `json:"seq"`
	Radio   string    `json:"radio"`
	At      time.Time `json:"time"`
	ID      uint32    `json:"id"`
	From    uint32    `json:"from"`
	To      uint32    `json:"to"`
	Channel uint32    `json:"channel"`
	PortNum uint32    `json:"port_num"` // 0 (UNKNOWN_APP) for encrypted packets
	Port    string    `json:"port"`     // its name as shown ("TEXT_MESSAGE", "ENCRYPTED")
	Summary string    `json:"summary"`
	SNR     float32   `json:"snr,omitempty"`
	RSSI    int32     `json:"rssi,omitempty"`
	Hops    *uint32   `json:"hops,omitempty"`
	ViaMQTT bool      `json:"via_mqtt"`
}

// TraceOutcome is how a traceroute ended.
type TraceOutcome string

// Trace outcomes.
const (
	TraceComplete TraceOutcome = "complete"
	TraceTimeout  TraceOutcome = "timeout"
	TraceError    TraceOutcome = "error"
)

// Trace is the result of one traceroute, on its own or as part of a sweep.
type Trace struct {
	Seq         int64        `json:"seq"`
	Radio       string       `json:"radio"`
	User        string       `json:"user"`                   // key fingerprint of who asked; "" for the gateway itself
	RequestedBy string       `json:"requested_by,omitempty"` // who asked, as shown (a user's name)
	Target      uint32       `json:"target"`
	At          time.Time    `json:"time"`            // when it was sent
	Sweep       string       `json:"sweep,omitempty"` // a label shared by one sweep's results; "" alone
	Outcome     TraceOutcome `json:"outcome"`
	// Route is the route found, when complete: JSON in the shape of
	// TraceRoute (see DecodeRoute).
	Route json.RawMessage `json:"route,omitempty"`
	Error string          `json:"error,omitempty"`
}

// TraceRoute is the route a traceroute found, as stored in Trace.Route.
type TraceRoute struct {
	// Towards runs from the first relay to the target; Back from the
	// first relay on the way back to the radio. Each ends with the
	// endpoint, whose SNR is the last leg's.
	Towards []TraceHop `json:"towards"`
	Back    []TraceHop `json:"back,omitempty"`
	// BackKnown: the answer carried a usable return path (firmware 2.5
	// and later).
	BackKnown bool    `json:"back_known"`
	RTT       float64 `json:"rtt"` // seconds from request to answer
}

// TraceHop is one node of a traced route and the SNR it heard the packet
// at.
type TraceHop struct {
	Num   uint32   `json:"num"`
	ID    string   `json:"id,omitempty"` // "!%08x"; empty for a relay that did not identify itself
	Known bool     `json:"known"`
	SNR   *float32 `json:"snr"` // dB; null when not reported
}

// DecodeRoute returns the trace's route (nil when it has none).
func (t *Trace) DecodeRoute() (*TraceRoute, error) {
	if len(t.Route) == 0 {
		return nil, nil
	}
	var r TraceRoute
	if err := json.Unmarshal(t.Route, &r); err != nil {
		return nil, fmt.Errorf("store: trace %d: route: %w", t.Seq, err)
	}
	return &r, nil
}

// Actor is who made a change: their name and key fingerprint.
type Actor struct {
	Name        string
	Fingerprint string
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Seq         int64           `json:"seq"`
	At          time.Time       `json:"time"`
	User        string          `json:"user"`
	Fingerprint string          `json:"fingerprint"`
	Radio       string          `json:"radio,omitempty"`  // "" when not about one radio
	Action      string          `json:"action"`           // "reboot", "config.set", "rule.add", ...
	Detail      string          `json:"detail,omitempty"` // free text ("kicked session 4 of bob")
	Before      json.RawMessage `json:"before,omitempty"` // for changes: the old value
	After       json.RawMessage `json:"after,omitempty"`  // for changes: the new value
}

// Audit actions written by the store itself, for every rule, filter and
// beacon change. Other actions (reboot, config changes, kicks) are named
// by the caller.
const (
	ActionRuleAdd       = "rule.add"
	ActionRuleUpdate    = "rule.update"
	ActionRuleDelete    = "rule.delete"
	ActionRuleEnable    = "rule.enable"
	ActionRuleDisable   = "rule.disable"
	ActionFilterAdd     = "filter.add"
	ActionFilterUpdate  = "filter.update"
	ActionFilterDelete  = "filter.delete"
	ActionFilterEnable  = "filter.enable"
	ActionFilterDisable = "filter.disable"
	ActionBeaconSet     = "beacon.set"
	ActionBeaconDelete  = "beacon.delete"
	ActionBeaconEnable  = "beacon.enable"
	ActionBeaconDisable = "beacon.disable"
)

// Page selects the newest rows of a list: at most Limit rows (0: a default
// of 100; capped at 10000) with a Seq below Before (0: from the newest).
// Lists come back oldest first, like the tail of a log; pass the first
// row's Seq as Before to get the page before it.
type Page struct {
	Limit  int
	Before int64
}

// TraceQuery selects traceroute results; empty fields match everything.
type TraceQuery struct {
	Page
	Radio  string
	User   string
	Target uint32
	Sweep  string
}

// AuditQuery selects audit entries; empty fields match everything.
type AuditQuery struct {
	Page
	Radio string
	// Radios, when not nil, keeps only entries of these radios: a key
	// limited to some radios reads nothing about the others (nor entries
	// that name no radio). An empty, non-nil list matches nothing.
	Radios      []string
	Fingerprint string
	Action      string
}

// Retention bounds one kind of history, per radio: at most MaxRows rows,
// none older than MaxAge. Zero takes the default; a negative value means
// no limit.
type Retention struct {
	MaxRows int
	MaxAge  time.Duration
}

// Stats describes the history writer.
type Stats struct {
	Queued    int    `json:"queued"`     // records accepted and not yet committed
	Written   uint64 `json:"written"`    // records committed
	Dropped   uint64 `json:"dropped"`    // records refused: queue full or store closed
	Failed    uint64 `json:"failed"`     // records lost to a failed write
	Batches   uint64 `json:"batches"`    // transactions committed
	Pruned    uint64 `json:"pruned"`     // rows removed by retention
	LastError string `json:"last_error"` // the last write or prune error, if any
}

// PruneResult counts the rows one retention pass removed.
type PruneResult struct {
	Messages, Packets, Traces, Telemetry int64
}

// Telemetry is one node's metrics at one time, as a telemetry packet
// carried them: device metrics (battery, voltage, channel and airtime
// use) or environment metrics (temperature, humidity, pressure). What the
// packet did not carry is nil.
type Telemetry struct {
	Radio string
	Node  uint32
	At    time.Time

	BatteryLevel       *uint32  // percent; 101 means powered
	Voltage            *float64 // V
	ChannelUtilization *float64 // percent of airtime the radio hears in use
	AirUtilTx          *float64 // percent of airtime the node transmits
	Temperature        *float64 // °C
	RelativeHumidity   *float64 // percent
	BarometricPressure *float64 // hPa
}
