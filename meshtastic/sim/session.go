package sim

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// How long one write may block before the link is considered dead (TCP) or
// the bytes are considered lost in the void (a serial line nobody reads).
const (
	tcpWriteTimeout    = 10 * time.Second
	serialWriteTimeout = 2 * time.Second
	outputBatch        = 64
)

// session is one client link, the firmware's PhoneAPI instance: the
// send-state machine, the per-connection duplicate-id memory and rate-limit
// clocks, and the queues the writer drains.
type session struct {
	r      *Radio
	serial bool
	call   *serveCall // the Serve call that owns a TCP session
	out    io.Writer
	setWD  func(time.Time) error // write deadline, when the link has one
	closer func()                // tears the link down (TCP)
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once
	// lastContact is when the last frame arrived (unix ns); 0 means none
	// since the link (re)started, so the idle timer is not armed.
	lastContact atomic.Int64

	// Guarded by r.mu.
	configured bool             // config_complete sent; live packets flow
	stream     []*pb.FromRadio  // rest of the config stream
	urgent     []*pb.FromRadio  // queue statuses, notifications, log records
	replay     []*pb.MeshPacket // 2.8: NodeDB records replayed after the config
	heartbeat  bool             // a heartbeat awaits its queueStatus
	console    []outItem        // serial text-mode output
	protobufs  bool             // serial: the host has sent a valid frame
	asleep     bool             // serial: the radio is rebooting
	seen       [recentIDs]uint32
	seenNext   int
	lastPort   map[pb.PortNum]time.Time
	logN       int
	announced  bool // RebootedOnConnect: the rebooted frame went out
}

// serveCall identifies one Serve invocation, so it can close exactly the
// sessions it accepted.
type serveCall struct{}

// outItem is one thing to write: a line of console text or a frame.
type outItem struct {
	text string
	msg  *pb.FromRadio
}

func (r *Radio) newSession(serial bool, out io.Writer) *session {
	s := &session{
		r:        r,
		serial:   serial,
		out:      out,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		lastPort: make(map[pb.PortNum]time.Time),
	}
	if wd, ok := out.(interface{ SetWriteDeadline(time.Time) error }); ok {
		s.setWD = wd.SetWriteDeadline
	}
	return s
}

func (s *session) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// close ends the session; it is safe to call more than once.
func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		if s.closer != nil {
			s.closer()
		}
	})
}

// resetLocked is the firmware's PhoneAPI::close(): back to sending nothing
// until the next want_config_id. Queued mesh packets stay in the radio.
func (s *session) resetLocked() {
	s.configured = false
	s.stream = nil
	s.urgent = nil
	s.replay = nil
	s.heartbeat = false
}

// seenRecentlyLocked reports whether id is among the last client ids, and
// remembers it if not.
func (s *session) seenRecentlyLocked(id uint32) bool {
	for _, v := range s.seen {
		if v == id {
			return true
		}
	}
	s.seen[s.seenNext] = id
	s.seenNext = (s.seenNext + 1) % recentIDs
	return false
}

// readLoop feeds frames to the radio until the link fails. Bytes outside
// frames (the client's 0xC3 wake-up run, stray text) are ignored, as the
// firmware's parser ignores them.
func (s *session) readLoop(src io.Reader) error {
	// No partial-frame timeout: the firmware has none either; a truncated
	// frame is only cleared by the bytes that follow.
	fr := frame.NewReader(src, frame.WithPartialTimeout(0))
	s.r.mu.Lock()
	poll := &poller{idle: s.r.cfg.PollIdle, busy: s.r.cfg.PollBusy, rng: rand.New(rand.NewPCG(s.r.rng.Uint64(), 0x706f6c6c))}
	s.r.mu.Unlock()
	for {
		it, err := fr.Next()
		if err != nil {
			return err
		}
		if it.Kind != frame.KindFrame {
			continue
		}
		// Bytes already received are still read after the client hung up
		// or a write to it failed: the firmware's client counts as
		// connected while data is available, so a client that writes
		// begin, settings, commit and closes at once gets them all applied.
		if d := poll.wait(time.Now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-s.done:
				t.Stop()
			case <-t.C:
			}
		}
		poll.read(time.Now())
		s.r.handleFrame(s, it.Payload)
	}
}

// poller is the firmware's read schedule for one link: a poll that finds
// bytes is followed by polls every busy for 2 s, then every idle.
type poller struct {
	idle, busy time.Duration
	rng        *rand.Rand
	last       time.Time // the last poll that found bytes
}

// wait is how long after now (when a frame became readable) the firmware's
// next poll reads it.
func (p *poller) wait(now time.Time) time.Duration {
	if p.idle < 0 {
		return 0
	}
	jitter := time.Duration(p.rng.Int64N(int64(p.busy)))
	if !p.last.IsZero() && now.Sub(p.last) < pollBusyWindow {
		return jitter
	}
	var anchor time.Time
	if p.last.IsZero() {
		// A new link: the idle polls run at a phase of their own.
		anchor = now.Add(-time.Duration(p.rng.Int64N(int64(p.idle))))
	} else {
		anchor = p.last.Add(pollBusyWindow)
	}
	k := (now.Sub(anchor) + p.idle - 1) / p.idle
	return anchor.Add(k*p.idle).Sub(now) + jitter
}

func (p *poller) read(at time.Time) { p.last = at }

// handleFrame processes one frame from the client.
func (r *Radio) handleFrame(s *session, payload []byte) {
	r.stats.framesIn.Add(1)
	// Any frame counts as contact, even one that fails to decode: the
	// firmware stamps lastContactMsec before decoding.
	s.lastContact.Store(time.Now().UnixNano())
	msg := &pb.ToRadio{}
	if err := proto.Unmarshal(payload, msg); err != nil || !fitsNanopb(msg) {
		r.stats.malformed.Add(1)
		r.log.Debug("sim: ignoring malformed ToRadio", "len", len(payload), "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.asleep || r.down || r.vanished {
		return
	}
	if s.serial {
		if !r.set.security().GetSerialEnabled() {
			return // the console ignores frames while serial API is off
		}
		if !s.protobufs {
			// The first valid frame switches the console to protobuf
			// mode for good: no more plain text.
			s.protobufs = true
			s.console = nil
		}
	}
	switch v := msg.PayloadVariant.(type) {
	case *pb.ToRadio_WantConfigId:
		if r.dropConfig {
			r.dropConfig = false
			r.log.Info("sim: want_config_id lost right after the reboot", "nonce", v.WantConfigId)
			return
		}
		r.stats.handshakes.Add(1)
		s.resetLocked()
		if r.cfg.RebootedOnConnect && !s.announced {
			s.announced = true
			s.urgent = append(s.urgent, &pb.FromRadio{PayloadVariant: &pb.FromRadio_Rebooted{Rebooted: true}})
		}
		s.stream = r.configStreamLocked(v.WantConfigId)
		s.replay = r.replayLocked(v.WantConfigId)
		r.log.Debug("sim: config requested", "nonce", v.WantConfigId, "frames", len(s.stream))
	case *pb.ToRadio_Heartbeat:
		if v.Heartbeat.GetNonce() == 1 {
			// Re-announce our NodeInfo to the mesh; the client gets nothing.
			r.log.Debug("sim: broadcasting own NodeInfo on request")
			break
		}
		s.heartbeat = true
	case *pb.ToRadio_Disconnect:
		s.resetLocked()
		if !s.serial {
			s.close()
		}
		s.lastContact.Store(0)
	case *pb.ToRadio_Packet:
		if v.Packet != nil {
			r.clientPacketLocked(s, v.Packet)
		}
	default:
		// Empty ToRadio, XModem, MQTT proxy: nothing to simulate.
	}
	s.notify()
}

// fitsNanopb rejects what the firmware's fixed-size decoder cannot hold,
// so it is dropped as undecodable there: a Data payload over 233 bytes.
func fitsNanopb(m *pb.ToRadio) bool {
	return len(m.GetPacket().GetDecoded().GetPayload()) <= 233
}

// takeOutputLocked picks the next things to write, in the firmware's order
// of precedence: heartbeat answer, other queue statuses and notifications,
// the config stream, then (only once configured) mesh packets.
func (r *Radio) takeOutputLocked(s *session) []outItem {
	if s.asleep || r.vanished {
		return nil
	}
	if s.serial && !s.protobufs {
		items := s.console
		s.console = nil
		return items
	}
	var items []outItem
	if s.heartbeat {
		s.heartbeat = false
		items = append(items, outItem{msg: wrapFromRadio(r.queueStatusLocked(0, 0))})
	}
	for len(items) < outputBatch && len(s.urgent) > 0 {
		items = append(items, outItem{msg: s.urgent[0]})
		s.urgent = s.urgent[1:]
	}
	for len(items) < outputBatch && len(s.stream) > 0 {
		f := s.stream[0]
		s.stream = s.stream[1:]
		if _, ok := f.PayloadVariant.(*pb.FromRadio_ConfigCompleteId); ok {
			s.configured = true
		}
		items = append(items, outItem{msg: f})
	}
	for s.configured && len(items) < outputBatch && len(r.toPhone) > 0 {
		p := r.toPhone[0]
		r.toPhone[0] = nil
		r.toPhone = r.toPhone[1:]
		r.stats.delivered.Add(1)
		items = append(items, outItem{msg: wrapFromRadio(p)})
	}
	// Replayed records come last: live traffic goes first.
	for s.configured && len(items) < outputBatch && len(s.replay) > 0 {
		items = append(items, outItem{msg: wrapFromRadio(s.replay[0])})
		s.replay = s.replay[1:]
	}
	return items
}

// queueStatusLocked describes the TX queue. The simulation transmits at
// once, so the queue is nearly empty; packets sent within the last second
// count as still in flight, but free never reaches zero, which would make a
// careful client wait for a status that is only sent on request.
func (r *Radio) queueStatusLocked(res int32, id uint32) *pb.QueueStatus {
	cut := time.Now().Add(-time.Second)
	keep := r.txTimes[:0]
	for _, t := range r.txTimes {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	r.txTimes = keep
	inFlight := min(len(keep), txQueueMax-1)
	return &pb.QueueStatus{Res: res, Free: uint32(txQueueMax - inFlight), Maxlen: txQueueMax, MeshPacketId: id}
}

// writeLoop writes whatever the radio has for this client until the
// session ends. It also runs the idle timeout and, for a serial console,
// the periodic log line (tick may be nil).
func (s *session) writeLoop(tick <-chan time.Time) error {
	r := s.r
	var idleT *time.Timer
	var idleC <-chan time.Time
	if r.cfg.IdleTimeout > 0 {
		idleT = time.NewTimer(r.cfg.IdleTimeout)
		defer idleT.Stop()
		idleC = idleT.C
	}
	var buf []byte
	for {
		r.mu.Lock()
		items := r.takeOutputLocked(s)
		r.mu.Unlock()
		if len(items) == 0 {
			select {
			case <-s.done:
				return nil
			case <-s.wake:
			case <-tick:
				r.consoleTick(s)
			case <-idleC:
				if s.idleCheck(idleT) {
					return nil
				}
			}
			continue
		}
		for _, it := range items {
			var err error
			if buf, err = s.writeItem(it, buf); err != nil {
				return err
			}
		}
		// Keep the timers serviced while output never runs dry.
		select {
		case <-s.done:
			return nil
		case <-tick:
			r.consoleTick(s)
		case <-idleC:
			if s.idleCheck(idleT) {
				return nil
			}
		default:
		}
	}
}

// idleCheck handles the idle timer firing. It reports whether the session
// has ended.
func (s *session) idleCheck(t *time.Timer) bool {
	idle := s.r.cfg.IdleTimeout
	last := s.lastContact.Load()
	s.r.mu.Lock()
	gone := s.r.vanished
	s.r.mu.Unlock()
	if last == 0 || gone {
		t.Reset(idle) // never armed before the first frame
		return false
	}
	if el := time.Since(time.Unix(0, last)); el < idle {
		t.Reset(idle - el)
		return false
	}
	s.r.stats.idle.Add(1)
	s.r.log.Info("sim: client idle, dropping it", "serial", s.serial)
	if !s.serial {
		s.close()
		return true
	}
	// A serial console cannot hang up; it just stops talking until the
	// next want_config_id.
	s.r.mu.Lock()
	s.resetLocked()
	s.r.mu.Unlock()
	s.lastContact.Store(0)
	t.Reset(idle)
	return false
}

func (s *session) writeItem(it outItem, buf []byte) ([]byte, error) {
	if it.msg == nil {
		buf = append(append(buf[:0], it.text...), '\r', '\n')
		return buf, s.write(buf)
	}
	payload, err := proto.Marshal(it.msg)
	if err != nil {
		s.r.log.Debug("sim: cannot encode FromRadio", "err", err)
		return buf, nil
	}
	buf, err = frame.Append(buf[:0], payload)
	if err != nil {
		s.r.log.Debug("sim: FromRadio too large, dropped", "len", len(payload))
		return buf, nil
	}
	s.r.stats.framesOut.Add(1)
	return buf, s.write(buf)
}

func (s *session) write(b []byte) error {
	timeout := tcpWriteTimeout
	if s.serial {
		timeout = serialWriteTimeout
	}
	if s.setWD != nil {
		_ = s.setWD(time.Now().Add(timeout))
	}
	_, err := s.out.Write(b)
	if err != nil && s.serial && errors.Is(err, os.ErrDeadlineExceeded) {
		select {
		case <-s.done:
		default:
			return nil // nobody is reading the console; the bytes are gone
		}
	}
	return err
}
