package radio

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/format"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// Link errors the broker itself reports (Status.LastError wraps them).
var (
	// ErrSerialLost: a serial radio's link ended from the radio's side.
	// A serial port has one user, so this is never another app: the
	// radio reset (brown-out, boot loop, a DTR/RTS line) or its USB
	// connection went away.
	ErrSerialLost = errors.New("radio: serial link lost (the radio reset or its USB connection dropped)")
	// ErrUnstable: the radio keeps dropping a serial link soon after
	// connecting.
	ErrUnstable = errors.New("radio: the radio keeps resetting or dropping off USB")
	// ErrSilent: the link looked open but the radio stopped answering.
	ErrSilent = errors.New("radio: the radio stopped answering")
	// ErrYielded: the radio closed our link while nobody here needed it,
	// most likely because another app connected; meshgate leaves the
	// radio to it until someone uses the radio here.
	ErrYielded = errors.New("radio: another app took the radio (or it rebooted) while nobody here used it; left to it until someone does")
)

// linkPolicy decides what to do after a link ends or an attempt fails:
// which state to show, how long to wait, and what to tell users. It is
// owned by the broker's Run goroutine.
//
// The firmware serves one API client and closes the older connection when
// another arrives (APIServerPort::runOnce, "Force close previous TCP
// connection"). An app that reconnects a while after being kicked (the
// phone app does so after about 15 s) therefore closes our link some
// seconds after each connect. So a TCP link the radio closes within
// StableAfter of connecting is "short", and ContendedAfter short links
// within ContendedWithin mark the radio contended, whatever else happened
// in between (timeouts, failed handshakes) — with one exception: a refused
// dial. A radio another app holds still accepts connections (that is how
// it takes them from each other); a refused connection means nothing was
// listening, so the radio (or meshtasticd, or the bridge in front of it)
// was restarting, and the short links before it were restarts too. A
// radio restarting every few seconds was marked contended and left dark
// for five minutes (meshchaos flap).
//
// Only a link that stays up for StableAfter clears the short-link history.
// After the radio closes a TCP link, the first try comes FirstRetry later
// (a few hundred milliseconds), so that a restart shows as a refusal even
// when it lasts less than a second; the ordinary backoff then starts again
// from BackoffMin, as after every completed handshake on TCP: the radio
// was reachable a moment ago, so it is worth trying again soon. Two
// clients taking the radio from each other are caught by the short-link
// count after ContendedAfter rounds, not by the backoff.
type linkPolicy struct {
	cfg *Config

	backoff       time.Duration // next ordinary wait
	short         []time.Time   // when recent short links ended
	contended     bool          // sticky until a link stays up
	contendedWait time.Duration // next wait while contended
	early         time.Duration // the first retry's wait, taken off the next step
}

func newLinkPolicy(cfg *Config) *linkPolicy {
	return &linkPolicy{cfg: cfg, backoff: cfg.BackoffMin, contendedWait: cfg.ContendedRetry}
}

// outcome is what the broker does after a failure.
type outcome struct {
	state State
	wait  time.Duration
	err   error // what users are told (may wrap the original)
}

// closedOnPurpose records a link we closed ourselves (nobody needed it).
func (p *linkPolicy) closedOnPurpose(up time.Duration) {
	if up >= p.cfg.StableAfter {
		p.reset()
	}
}

func (p *linkPolicy) reset() {
	p.backoff, p.short, p.contended, p.contendedWait, p.early = p.cfg.BackoffMin, nil, false, p.cfg.ContendedRetry, 0
}

// failed records a failure: a dial or handshake that failed (linked false)
// or a link that was up for up and ended with err. kind is the link's kind
// when it was opened ("" if the dial failed).
func (p *linkPolicy) failed(kind transport.Kind, linked bool, up time.Duration, err error, now time.Time) outcome {
	if linked && up >= p.cfg.StableAfter {
		p.reset()
	}
	if linked && kind != transport.Serial {
		// Not on serial: opening the port can reset the board (DTR/RTS),
		// so quick reopens could keep a boot-looping radio looping.
		p.backoff = p.cfg.BackoffMin
	}
	if !linked && kind != transport.Serial && errors.Is(err, syscall.ECONNREFUSED) {
		// Nothing listening: restarting, not taken (see linkPolicy).
		p.short, p.contended, p.contendedWait = nil, false, p.cfg.ContendedRetry
	}
	byRadio := closedByRadio(err)
	if kind == transport.Serial && (byRadio || errors.Is(err, meshtastic.ErrContended)) {
		// The client calls an early close "contended"; on a serial line
		// it cannot be another app.
		err = serialLost(linked, up, err)
		byRadio = true
	}
	if byRadio && (!linked || up < p.cfg.StableAfter) {
		p.short = append(p.short, now)
	}
	cut := now.Add(-p.cfg.ContendedWithin)
	for len(p.short) > 0 && !p.short[0].After(cut) {
		p.short = p.short[1:]
	}
	n := len(p.short)
	isShort := n > 0 && p.short[n-1].Equal(now)

	if kind == transport.Serial {
		if isShort && n >= p.cfg.ContendedAfter {
			err = fmt.Errorf("%w: the serial link dropped %d times within %s of connecting in the last %s (boot loop, brown-out, DTR/RTS settings or a loose cable): %w",
				ErrUnstable, n, format.Typed(p.cfg.StableAfter), format.Typed(p.cfg.ContendedWithin), err)
		}
		return p.ordinary(err)
	}
	if isShort && n >= p.cfg.ContendedAfter {
		p.contended = true
	}
	if !p.contended || !isShort {
		if linked && byRadio && kind != transport.Serial {
			// The radio closed the link: look again soon. A restart
			// refuses this dial, even one so short that the first
			// BackoffMin step would find the radio back up and take it
			// for another app's doing; otherwise it is the reconnect the
			// users wait for. The steps keep their times from the drop.
			p.early = jitter(p.cfg.FirstRetry)
			return outcome{state: Backoff, wait: p.early, err: err}
		}
		// Not contended, or contended but this failure is something else
		// (the radio is unreachable): plain backoff; the flag stays until
		// a link holds, so the next short link is contended at once.
		return p.ordinary(err)
	}
	wait := jitter(p.contendedWait)
	every := p.contendedWait
	p.early = 0
	p.contendedWait = min(2*p.contendedWait, p.cfg.ContendedRetryMax)
	return outcome{state: Contended, wait: wait, err: fmt.Errorf(
		"%w: %d times within %s of connecting in the last %s; the radio serves one app at a time, so meshgate steps back and tries again in %s: %w",
		meshtastic.ErrContended, n, format.Typed(p.cfg.StableAfter), format.Typed(p.cfg.ContendedWithin), format.Typed(every), err)}
}

func (p *linkPolicy) ordinary(err error) outcome {
	wait := max(jitter(p.backoff)-p.early, 0)
	p.early = 0
	p.backoff = min(2*p.backoff, p.cfg.BackoffMax)
	return outcome{state: Backoff, wait: wait, err: err}
}

// closedByRadio reports whether the radio ended the link: end of stream,
// a reset, or the client's own verdict that it was dropped right after
// connecting.
func closedByRadio(err error) bool {
	return errors.Is(err, meshtastic.ErrContended) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// serialLost relabels the end of a serial link.
func serialLost(linked bool, up time.Duration, err error) error {
	when := "during the handshake"
	if linked {
		when = up.Round(time.Millisecond).String() + " after connecting"
	}
	if errors.Is(err, meshtastic.ErrContended) {
		// Its message blames another client; keep only what happened.
		return fmt.Errorf("%w (%s)", ErrSerialLost, when)
	}
	return fmt.Errorf("%w (%s): %w", ErrSerialLost, when, err)
}
