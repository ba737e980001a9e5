package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/radio"
)

// FlashMsg shows Text on the status line until the next key, as the
// model's own flashes do; Bad shows it as an error. The server uses it
// for what the model cannot see, such as a paste cut short before it.
type FlashMsg struct {
	Text string
	Bad  bool
}

// eventsMsg carries a batch of one radio's events from the link.
type eventsMsg struct {
	radio   string
	events  []*radio.Event
	dropped bool // the session's queue lost events since the last batch
}

// frameMsg ends the coalescing delay: apply what radio events changed.
type frameMsg struct{}

// idleMsg asks the model to look at the idle clock again.
type idleMsg struct{}

// lobbyTickMsg refreshes the lobby while it is on screen.
type lobbyTickMsg struct{ gen int }

// traceTickMsg updates the traceroute countdown.
type traceTickMsg struct{ gen int }

// tracePosMsg reports where a traceroute stands in the radio's queue.
type tracePosMsg struct {
	job int
	pos radio.Position
}

// traceDoneMsg is a finished traceroute.
type traceDoneMsg struct {
	job    int
	target uint32
	trace  backend.Trace
	err    error
}

// sweepMsg says the sweep published progress in the session record.
type sweepMsg struct{ gen int }

// sweepDoneMsg is the end of a sweep: what the core counted, or why it
// did not run.
type sweepDoneMsg struct {
	gen int
	sum backend.SweepSummary
	err error
}

// sentMsg is the core's answer to a send.
type sentMsg struct {
	seq  int    // which send
	text string // what the user typed, given back if it never reached the radio
	msg  backend.Message
	err  error
}

// adminDoneMsg is the outcome of an admin operation.
type adminDoneMsg struct {
	what string
	note string // said instead of "accepted" when set
	err  error
}

// after returns a command that delivers msg after d, or nothing if ctx
// ends first. Bubble Tea cannot cancel a running command, so every timer
// must watch the session's context or it would outlive the session.
func after(ctx context.Context, d time.Duration, msg tea.Msg) tea.Cmd {
	return func() tea.Msg {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return msg
		case <-ctx.Done():
			return nil
		}
	}
}

// listen returns a command that delivers the next value from ch wrapped by
// wrap, or nothing once done is closed or ctx ends. The model issues it
// again after each value, so exactly one listener runs per source.
func listen[T any](ctx context.Context, ch <-chan T, done <-chan struct{}, wrap func(T) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		select {
		case v := <-ch:
			return wrap(v)
		case <-done:
			select { // a last value may have raced the close
			case v := <-ch:
				return wrap(v)
			default:
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// offer puts v in a one-slot channel, replacing what is there: the reader
// only ever wants the latest value, and the writer must never block.
func offer[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
