package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

func (e *execEnv) cmdSend(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	to := fs.String("to", "", "destination node (!id); empty sends to the channel")
	channel := fs.Uint("channel", 0, "channel index 0-7")
	noWait := fs.Bool("no-wait", false, "do not wait for the ack")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the ack")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	text := strings.Join(pos, " ")
	if strings.TrimSpace(text) == "" {
		return e.usage("send", "nothing to send (give the text after the flags)")
	}
	if *channel > 7 {
		return e.usage("send", "--channel must be 0-7")
	}
	var dest uint32
	if *to != "" {
		n, err := meshtastic.ParseNodeID(*to)
		if err != nil {
			return e.usage("send", err.Error())
		}
		dest = n
	}
	if limit := meshtastic.MaxTextBytes(false, false); len(text) > limit {
		return e.usage("send", fmt.Sprintf("text is %d bytes; at most %d fit in one packet", len(text), limit))
	}
	b, _, detach, code, ok := e.open("send", *rname, *wait)
	if !ok {
		return code
	}
	defer detach()
	msg, err := b.SendText(e.ctx, e.id.Name, meshtastic.Text{To: dest, Channel: uint32(*channel), Text: text, WantAck: !*noWait})
	if err != nil {
		return e.fail("send", exitFailed, err)
	}
	e.s.log.Info("radio action", "session", e.rec.ID(), "user", e.id.Name, "radio", b.Name(), "action", "send",
		"to", meshtastic.NodeID(msg.To), "id", msg.ID)
	if *noWait {
		fmt.Fprintf(e.out, "sent %#08x\n", msg.ID)
		return exitOK
	}
	// Follow the message's delivery state in the broker's history.
	deadline := time.NewTimer(*timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, ok := b.Message(msg.ID); ok {
			switch m.Delivery {
			case radio.Acked:
				fmt.Fprintf(e.out, "sent %#08x, acked by %s\n", m.ID, m.AckFrom)
				return exitOK
			case radio.Failed:
				return e.fail("send", exitFailed, fmt.Errorf("message %#08x not delivered: %s", m.ID, m.Error))
			}
		}
		select {
		case <-e.ctx.Done():
			return exitFailed
		case <-deadline.C:
			return e.fail("send", exitTimeout, fmt.Errorf("message %#08x sent, no ack within %s", msg.ID, *timeout))
		case <-tick.C:
		}
	}
}

func (e *execEnv) cmdTraceroute(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usage("traceroute", "want exactly one node (!id)")
	}
	dest, err := meshtastic.ParseNodeID(pos[0])
	if err != nil || dest == meshtastic.Broadcast {
		return e.usage("traceroute", fmt.Sprintf("%q is not a node id", pos[0]))
	}
	b, _, detach, code, ok := e.open("traceroute", *rname, *wait)
	if !ok {
		return code
	}
	defer detach()
	e.s.log.Info("radio action", "session", e.rec.ID(), "user", e.id.Name, "radio", b.Name(), "action", "traceroute",
		"to", meshtastic.NodeID(dest))
	var lastAhead = -1
	onPos := func(p radio.Position) {
		if p.Ahead != lastAhead && p.Ahead > 0 && !*asJSON {
			fmt.Fprintf(e.errOut, "meshgate: traceroute queued, %d ahead, starts in about %s\n", p.Ahead,
				time.Until(p.ETA).Round(time.Second))
		}
		lastAhead = p.Ahead
	}
	// The reply wait per traceroute is the broker's; the queue wait ends
	// when the user disconnects.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	route, err := b.Traceroute(ctx, dest, meshtastic.TraceOptions{}, onPos)
	res := tracePayload(dest, route, err)
	e.rec.AddTrace(sessions.TraceResult{Target: dest, At: time.Now(), Route: route, Err: err})
	if *asJSON {
		code := e.writeJSON(res)
		if err != nil {
			return exitFailed
		}
		return code
	}
	if err != nil {
		code := exitFailed
		if errors.Is(err, meshtastic.ErrNoResponse) {
			code = exitTimeout
		}
		return e.fail("traceroute", code, err)
	}
	v := b.View()
	fmt.Fprintf(e.out, "route to %s:\n  %s\n", nodeName(v, dest), routeLine(v, route.From, route.Towards))
	if route.BackKnown {
		fmt.Fprintf(e.out, "route back:\n  %s\n", routeLine(v, route.To, route.Back))
	}
	fmt.Fprintf(e.out, "took %s\n", route.RTT.Round(time.Millisecond))
	return exitOK
}

func routeLine(v *radio.View, start uint32, hops []meshtastic.Hop) string {
	var b strings.Builder
	b.WriteString(nodeName(v, start))
	for _, h := range hops {
		b.WriteString(" -> ")
		if h.Known {
			b.WriteString(nodeName(v, h.Num))
		} else {
			b.WriteString("?")
		}
		if h.SNRKnown {
			fmt.Fprintf(&b, " (%.2f dB)", h.SNR)
		} else {
			b.WriteString(" (? dB)")
		}
	}
	return b.String()
}

type hopJSON struct {
	Node string   `json:"node"`
	SNR  *float32 `json:"snr"`
}

func tracePayload(dest uint32, r *meshtastic.Route, err error) map[string]any {
	out := map[string]any{"target": meshtastic.NodeID(dest), "ok": err == nil}
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	conv := func(hs []meshtastic.Hop) []hopJSON {
		res := make([]hopJSON, len(hs))
		for i, h := range hs {
			res[i].Node = "unknown"
			if h.Known {
				res[i].Node = meshtastic.NodeID(h.Num)
			}
			if h.SNRKnown {
				s := h.SNR
				res[i].SNR = &s
			}
		}
		return res
	}
	out["towards"] = conv(r.Towards)
	if r.BackKnown {
		out["back"] = conv(r.Back)
	}
	out["rtt_ms"] = r.RTT.Milliseconds()
	return out
}

// destructive runs an admin action on a radio after the --yes check,
// telling everyone else on the radio first and logging who did it.
func (e *execEnv) destructive(cmd, what string, rname string, yes bool, wait time.Duration,
	f func(context.Context, *meshtastic.Client) error) int {
	b, code, ok := e.pickRadio(cmd, rname)
	if !ok {
		return code
	}
	if !yes {
		return e.usage(cmd, fmt.Sprintf("this will %s radio %s; add --yes to confirm", what, b.Name()))
	}
	_, detach, code, ok := e.attach(cmd, b, wait)
	if !ok {
		return code
	}
	defer detach()
	b.Announce(fmt.Sprintf("%s is about to %s this radio", e.id.Name, what))
	e.s.log.Warn("radio action", "session", e.rec.ID(), "user", e.id.Name, "fingerprint", e.id.Fingerprint,
		"radio", b.Name(), "action", cmd)
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	err := b.Admin(ctx, f)
	detail := "accepted by the radio"
	if err != nil {
		detail = "failed: " + err.Error()
	}
	e.s.audit(e.id, b.Name(), cmd, detail)
	if err != nil {
		return e.fail(cmd, exitFailed, err)
	}
	fmt.Fprintf(e.out, "%s: radio %s accepted the request\n", cmd, b.Name())
	return exitOK
}

func (e *execEnv) cmdReboot(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	yes := fs.Bool("yes", false, "confirm")
	delay := fs.Duration("delay", 5*time.Second, "reboot after this long")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *delay < 0 || *delay > time.Hour {
		return e.usage("reboot", "--delay must be 0-1h")
	}
	secs := int32(delay.Seconds())
	return e.destructive("reboot", "reboot", *rname, *yes, *wait, func(ctx context.Context, c *meshtastic.Client) error {
		return c.Reboot(ctx, secs)
	})
}

func (e *execEnv) cmdShutdown(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	yes := fs.Bool("yes", false, "confirm")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	return e.destructive("shutdown", "shut down", *rname, *yes, *wait, func(ctx context.Context, c *meshtastic.Client) error {
		return c.Shutdown(ctx, 5)
	})
}

func (e *execEnv) cmdFactoryReset(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	yes := fs.Bool("yes", false, "confirm")
	device := fs.Bool("device", false, "also wipe the device keys and NodeDB (factory_reset_device)")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	what := "factory-reset the settings of"
	if *device {
		what = "factory-reset (settings, keys and NodeDB)"
	}
	return e.destructive("factory-reset", what, *rname, *yes, *wait, func(ctx context.Context, c *meshtastic.Client) error {
		return c.FactoryReset(ctx, *device)
	})
}

func (e *execEnv) cmdNodeDBReset(fs *flag.FlagSet, args []string) int {
	rname := radioFlag(fs)
	yes := fs.Bool("yes", false, "confirm")
	keep := fs.Bool("keep-favorites", false, "keep favourite nodes")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the radio to connect")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	return e.destructive("nodedb-reset", "empty the node database of", *rname, *yes, *wait, func(ctx context.Context, c *meshtastic.Client) error {
		return c.ResetNodeDB(ctx, *keep)
	})
}
