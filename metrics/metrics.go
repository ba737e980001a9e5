// Package metrics exports the gateway's numbers in the Prometheus text
// format. It reads them from the server, session manager and radio
// registry at scrape time, so those packages keep plain counters and know
// nothing about Prometheus.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/server"
	"github.com/meshgate/meshgate/sessions"
)

// Sources are what the exporter reads.
type Sources struct {
	Server   *server.Server
	Sessions *sessions.Manager
	Radios   *radio.Registry
	// Automation, when set, adds the responder and filter counters.
	Automation *radio.Automation
}

// Collector implements prometheus.Collector over Sources.
type Collector struct {
	src Sources

	sessionsOpen, sessionsTotal, sessionsRefused    *prometheus.Desc
	connections, refusedPreAuth, unauth, authFailed *prometheus.Desc
	radioState, reconnects, packetsIn, packetsOut   *prometheus.Desc
	drops, traceQueue, radioUsers                   *prometheus.Desc
	replies, dryRuns, filtered, dbDropped           *prometheus.Desc
	authenticated, limitRefused, closedNoSession    *prometheus.Desc
	forwardsRefused, nodeRefused                    *prometheus.Desc
	vClients, vFramesOut, vAnswers, vRefused        *prometheus.Desc
	vPacketsIn, vDrops                              *prometheus.Desc
}

// NewCollector describes every metric.
func NewCollector(src Sources) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("meshgate_"+name, help, labels, nil)
	}
	return &Collector{
		src:             src,
		sessionsOpen:    d("sessions_open", "SSH sessions open now."),
		sessionsTotal:   d("sessions_total", "SSH sessions opened since start."),
		sessionsRefused: d("sessions_refused_total", "Logins refused because the gateway was full."),
		connections:     d("connections_total", "TCP connections accepted for an SSH handshake."),
		refusedPreAuth:  d("connections_refused_total", "Connections refused by the unauthenticated-connection limits."),
		unauth:          d("connections_unauthenticated", "Connections still authenticating now."),
		authFailed:      d("auth_failures_total", "Failed public-key attempts by reason.", "reason"),
		radioState:      d("radio_state", "1 for the radio's current link state.", "radio", "state"),
		reconnects:      d("radio_reconnects_total", "Times the radio link came back after the first connect.", "radio"),
		packetsIn:       d("radio_packets_in_total", "Packets received from the radio.", "radio"),
		packetsOut:      d("radio_packets_out_total", "Packets and requests sent to the radio.", "radio"),
		drops:           d("radio_fanout_drops_total", "Events dropped because a session fell behind.", "radio"),
		traceQueue:      d("radio_traceroute_queue", "Traceroutes waiting or running.", "radio"),
		radioUsers:      d("radio_subscribers", "Sessions subscribed to the radio now.", "radio"),
		replies:         d("responder_replies_total", "Automatic replies sent by responder rules."),
		dryRuns:         d("responder_dry_runs_total", "Replies dry-run rules would have sent."),
		filtered:        d("filtered_packets_total", "Packets radio-wide filters kept out of history and the responder."),
		dbDropped:       d("history_dropped_total", "History records the database could not queue."),
		authenticated:   d("connections_authenticated", "Authenticated SSH connections open now."),
		limitRefused:    d("connections_limit_refused_total", "Connections and logins refused by a connection limit, by reason.", "reason"),
		closedNoSession: d("connections_closed_no_session_total", "Authenticated connections closed for having no session."),
		forwardsRefused: d("forwards_refused_total", "SSH forward requests refused (not a radio's virtual node, radio not allowed, gateway full)."),
		nodeRefused:     d("node_listener_refused_total", "Connections a node listener refused, by reason.", "reason"),
		vClients:        d("radio_virtual_clients", "Virtual node clients (apps) on the radio now.", "radio"),
		vFramesOut:      d("radio_virtual_frames_out_total", "Frames handed to the radio's virtual node clients.", "radio"),
		vAnswers:        d("radio_virtual_answers_total", "Answers routed to the virtual node client that asked.", "radio"),
		vRefused:        d("radio_virtual_refused_total", "Virtual node clients' packets refused (role, rate limit, link down).", "radio"),
		vPacketsIn:      d("radio_virtual_packets_in_total", "Virtual node clients' packets sent on to the radio.", "radio"),
		vDrops:          d("radio_virtual_drops_total", "Frames lost by virtual node clients that read too slowly.", "radio"),
	}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sessionsOpen, c.sessionsTotal, c.sessionsRefused, c.connections,
		c.refusedPreAuth, c.unauth, c.authFailed, c.radioState, c.reconnects, c.packetsIn, c.packetsOut,
		c.drops, c.traceQueue, c.radioUsers, c.replies, c.dryRuns, c.filtered, c.dbDropped,
		c.authenticated, c.limitRefused, c.closedNoSession, c.forwardsRefused, c.nodeRefused,
		c.vClients, c.vFramesOut, c.vAnswers, c.vRefused, c.vPacketsIn, c.vDrops} {
		ch <- d
	}
}

var states = []radio.State{radio.Idle, radio.Connecting, radio.Connected, radio.Backoff, radio.Contended, radio.Stopped}

// Collect reads the current values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	if c.src.Sessions != nil {
		gauge(c.sessionsOpen, float64(c.src.Sessions.Count()))
	}
	if c.src.Server != nil {
		st := c.src.Server.Stats()
		counter(c.sessionsTotal, st.SessionsOpened)
		counter(c.sessionsRefused, st.SessionsRefused)
		counter(c.connections, st.Connections)
		counter(c.refusedPreAuth, st.RefusedPreAuth)
		gauge(c.unauth, float64(st.Unauthenticated))
		for reason, n := range st.AuthFailures {
			counter(c.authFailed, n, reason)
		}
		gauge(c.authenticated, float64(st.Authenticated))
		for reason, n := range st.Refused {
			counter(c.limitRefused, n, reason)
		}
		counter(c.closedNoSession, st.ClosedNoSession)
		counter(c.forwardsRefused, st.ForwardsRefused)
		for reason, n := range st.NodeRefused {
			counter(c.nodeRefused, n, reason)
		}
	}
	if a := c.src.Automation; a != nil {
		st := a.Stats()
		counter(c.replies, st.Replies)
		counter(c.dryRuns, st.DryRuns)
		counter(c.filtered, st.Filtered)
		counter(c.dbDropped, st.Dropped)
	}
	if c.src.Radios == nil {
		return
	}
	for _, name := range c.src.Radios.Names() {
		b, err := c.src.Radios.Get(name)
		if err != nil {
			continue
		}
		st := b.Status()
		for _, s := range states {
			v := 0.0
			if st.State == s {
				v = 1
			}
			gauge(c.radioState, v, name, s.String())
		}
		counter(c.reconnects, uint64(st.Reconnects), name)
		counter(c.packetsIn, st.PacketsIn, name)
		counter(c.packetsOut, st.PacketsOut, name)
		counter(c.drops, st.Drops, name)
		gauge(c.traceQueue, float64(b.QueueLen()), name)
		gauge(c.radioUsers, float64(st.Subscribers), name)
		vs := b.VirtualStats()
		gauge(c.vClients, float64(vs.Clients), name)
		counter(c.vFramesOut, vs.FramesOut, name)
		counter(c.vAnswers, vs.Answers, name)
		counter(c.vRefused, vs.Refused, name)
		counter(c.vPacketsIn, vs.PacketsIn, name)
		counter(c.vDrops, vs.Drops, name)
	}
}

// Handler returns the /metrics handler, with Go runtime and process
// metrics next to ours.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("meshgate metrics: /metrics\n"))
	})
	return mux
}

// Serve runs the metrics endpoint on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, src Sources, logger *slog.Logger) error {
	hs := &http.Server{Handler: Handler(src), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
