package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// consoleEvery is how often the serial console prints a log line while it
// is in text mode.
const consoleEvery = 2 * time.Second

// Serve runs the TCP API on ln, like the firmware's port 4403 server: one
// client at a time, and a new connection force-closes the previous one.
// While the radio reboots, connections are accepted and closed at once.
//
// Serve closes ln. It returns nil when ctx is cancelled or after an admin
// shutdown, and the Accept error otherwise; either way every connection and
// goroutine it started has ended.
func (r *Radio) Serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		return errors.New("sim: nil listener")
	}
	if err := r.startEngine(); err != nil {
		_ = ln.Close()
		return nil // shut down for good: nothing to serve
	}
	defer r.stopEngine()

	call := &serveCall{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-r.downCh:
		case <-stop:
		}
		_ = ln.Close()
	}()

	var err error
	var backoff time.Duration
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil || r.isDown() {
				break
			}
			var ne net.Error
			if errors.As(aerr, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				continue
			}
			err = fmt.Errorf("sim: accept: %w", aerr)
			break
		}
		backoff = 0
		s := r.acceptTCP(c, call)
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runTCP(s, c)
		}()
	}
	close(stop)
	r.mu.Lock()
	for s := range r.sessions {
		if s.call == call {
			s.close()
		}
	}
	r.mu.Unlock()
	wg.Wait()
	return err
}

func (r *Radio) isDown() bool {
	select {
	case <-r.downCh:
		return true
	default:
		return false
	}
}

// acceptTCP registers a new TCP client, kicking the previous one, or
// refuses it while rebooting.
func (r *Radio) acceptTCP(c net.Conn, call *serveCall) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rebooting || r.down {
		r.stats.refused.Add(1)
		_ = c.Close()
		return nil
	}
	s := r.newSession(false, c)
	s.call = call
	s.closer = func() { _ = c.Close() }
	if old := r.tcp; old != nil {
		r.log.Info("sim: force close previous TCP connection")
		r.stats.kicked.Add(1)
		old.close()
	}
	r.tcp = s
	r.sessions[s] = struct{}{}
	r.stats.accepted.Add(1)
	return s
}

func (r *Radio) runTCP(s *session, c net.Conn) {
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		if err := s.writeLoop(nil); err != nil {
			r.log.Debug("sim: TCP write failed, closing", "err", err)
		}
		s.close()
	}()
	_ = s.readLoop(c)
	s.close()
	<-wdone
	r.mu.Lock()
	delete(r.sessions, s)
	if r.tcp == s {
		r.tcp = nil
	}
	r.mu.Unlock()
}

// ServeStream runs one serial console on rw until ctx is cancelled, the
// radio shuts down, or the stream fails. Like the firmware's console it
// first prints plain-text boot log lines (and, as 2.7 does, a `rebooted`
// frame), keeps printing a line now and then, and switches to protobuf-only
// output once the first valid frame arrives. There is no newest-wins rule:
// a console is one stream.
//
// To stop on cancellation, ServeStream needs to interrupt a blocked Read:
// it sets a past read deadline when rw has SetReadDeadline (an *os.File
// from OpenPTY does; it is cleared again before returning), and otherwise
// closes rw if it is an io.Closer. It returns nil on cancellation,
// shutdown or end of stream, and the I/O error otherwise.
func (r *Radio) ServeStream(ctx context.Context, rw io.ReadWriter) error {
	if rw == nil {
		return errors.New("sim: nil stream")
	}
	if err := r.startEngine(); err != nil {
		return nil
	}
	defer r.stopEngine()

	src := &stopReader{r: rw}
	s := r.newSession(true, rw)
	r.mu.Lock()
	r.sessions[s] = struct{}{}
	if r.rebooting {
		s.asleep = true
	} else {
		r.bootLogLocked(s)
	}
	r.mu.Unlock()

	type readDeadliner interface{ SetReadDeadline(time.Time) error }
	past := time.Unix(1, 0)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-r.downCh:
		case <-s.done:
		}
		src.stopped.Store(true)
		if rd, ok := rw.(readDeadliner); ok && rd.SetReadDeadline(past) == nil {
			if s.setWD != nil {
				_ = s.setWD(past)
			}
			return
		}
		if c, ok := rw.(io.Closer); ok {
			_ = c.Close()
		}
	}()
	var werr error
	go func() {
		defer wg.Done()
		tick := time.NewTicker(r.consoleEvery)
		defer tick.Stop()
		werr = s.writeLoop(tick.C)
		s.close()
	}()
	rerr := s.readLoop(src)
	s.close()
	wg.Wait()
	if rd, ok := rw.(readDeadliner); ok {
		_ = rd.SetReadDeadline(time.Time{})
	}
	if s.setWD != nil {
		_ = s.setWD(time.Time{})
	}
	r.mu.Lock()
	delete(r.sessions, s)
	r.mu.Unlock()

	switch {
	case ctx.Err() != nil || r.isDown():
		return nil
	case werr != nil:
		return fmt.Errorf("sim: console write: %w", werr)
	case rerr != nil && !errors.Is(rerr, io.EOF) && !src.stopped.Load():
		return fmt.Errorf("sim: console read: %w", rerr)
	}
	return nil
}

// stopReader hides the stream's deadline methods from the frame reader (so
// it never resets the deadline used for cancellation) and turns the
// interrupted read into a clean end of stream.
type stopReader struct {
	r       io.Reader
	stopped atomic.Bool
}

func (s *stopReader) Read(p []byte) (int, error) {
	if s.stopped.Load() {
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	if err != nil && s.stopped.Load() {
		return n, io.EOF
	}
	return n, err
}

// consoleStamp formats the time and uptime prefix of a console line.
func (r *Radio) consoleStamp() string {
	now := r.now()
	return fmt.Sprintf("%s %d", now.Format("15:04:05"), max(0, int64(now.Sub(r.bootAt)/time.Second)))
}

// bootLogLocked queues what a console shows right after boot: a few log
// lines and, as firmware 2.7 does, one `rebooted` frame mixed in with them.
func (r *Radio) bootLogLocked(s *session) {
	ts := r.consoleStamp()
	lora := r.set.lora()
	lines := []string{
		fmt.Sprintf("INFO  | %s [Main] Simulated Meshtastic radio starting, firmware %s", ts, r.cfg.Firmware),
		fmt.Sprintf("INFO  | %s [Main] Board %s, node %s \"%s\", boot #%d", ts, r.mesh.pioEnv, nodeID(r.myNum), r.set.owner.GetLongName(), r.rebootCount),
		fmt.Sprintf("INFO  | %s [RadioIf] Region %s, preset %s, hop limit %d", ts, lora.GetRegion(), lora.GetModemPreset(), r.set.hopLimit()),
		fmt.Sprintf("INFO  | %s [NodeDB] %d nodes loaded from flash", ts, len(r.db)),
	}
	for _, l := range lines {
		s.console = append(s.console, outItem{text: l})
	}
	s.console = append(s.console, outItem{msg: &pb.FromRadio{PayloadVariant: &pb.FromRadio_Rebooted{Rebooted: true}}})
	s.console = append(s.console, outItem{text: fmt.Sprintf("INFO  | %s [SerialConsole] Waiting for a client frame to start the API", ts)})
	s.notify()
}

// consoleTick prints the console's periodic line: plain text before the
// host has spoken, afterwards a LogRecord frame if the client enabled
// security.debug_log_api_enabled, else nothing.
func (r *Radio) consoleTick(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.asleep {
		return
	}
	s.logN++
	ts := r.consoleStamp()
	own := r.mesh.own
	var level, source, msg string
	switch s.logN % 3 {
	case 0:
		level, source = "DEBUG", "Power"
		msg = "Battery: usbPower=1, isCharging=0, batPct=101"
	case 1:
		level, source = "INFO", "DeviceTelemetry"
		msg = fmt.Sprintf("Channel utilization %.2f%%, air util tx %.2f%%", own.chUtil, own.airUtil)
	default:
		level, source = "DEBUG", "Router"
		msg = fmt.Sprintf("%d nodes in NodeDB, %d packets waiting for the client", len(r.db), len(r.toPhone))
	}
	if !s.protobufs {
		s.console = append(s.console, outItem{text: fmt.Sprintf("%-5s | %s [%s] %s", level, ts, source, msg)})
		s.notify()
		return
	}
	if r.set.security().GetDebugLogApiEnabled() {
		lvl := pb.LogRecord_INFO
		if level == "DEBUG" {
			lvl = pb.LogRecord_DEBUG
		}
		s.urgent = append(s.urgent, wrapFromRadio(&pb.LogRecord{Message: msg, Time: r.nowSecs(), Source: source, Level: lvl}))
		s.notify()
	}
}
