package tui

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// session is a model driven the way a program drives it, without a
// terminal: events in, then a frame. It measures the UI's own cost.
type session struct {
	m    *Model
	rec  *sessions.Session
	link *Link
}

func newSessions(tb testing.TB, fx *fixture, n int, t string) []*session {
	tb.Helper()
	id := auth.Identity{Name: "load", Role: auth.Operator}
	warm := fx.broker(tb, "base").Subscribe("warm-up") // keep the link up while sessions come
	defer warm.Close()
	if err := fx.broker(tb, "base").WaitConnected(context.Background()); err != nil {
		tb.Fatal(err)
	}
	out := make([]*session, n)
	for i := range out {
		rec, err := fx.mgr.Open(sessions.User{Name: "load", Kind: sessions.TUI})
		if err != nil {
			tb.Fatal(err)
		}
		caller := backend.Caller{Identity: id, Session: rec, Via: "tui"}
		link := NewLink(fx.core, caller)
		r, err := link.Bind("base")
		if err != nil {
			tb.Fatal(err)
		}
		m := New(Config{Context: context.Background(), Backend: fx.core, Caller: caller, Radios: link, Radio: r})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		m.show(m.paneNamed(t))
		m.View()
		out[i] = &session{m: m, rec: rec, link: link}
	}
	tb.Cleanup(func() {
		for _, s := range out {
			s.link.Close()
			s.rec.Close()
		}
	})
	return out
}

// Memory one session's UI holds with a 1,000-node radio on screen: the
// model, its caches and its radio subscription, without Bubble Tea's
// renderer or the SSH connection (see the server's measurement for those).
func TestModelMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement")
	}
	fx := newFixture(t, fixtureOpts{nodes: 1000})
	b := fx.broker(t, "base")
	sub := b.Subscribe("warm-up") // connect once: the shared View is not per session
	defer sub.Close()
	if err := b.WaitConnected(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, tab string }{{"nodes", "Nodes"}, {"chat", "Chat"}, {"packets", "Packets"}} {
		before := liveBytes()
		const n = 50
		ss := newSessions(t, fx, n, c.tab)
		per := (liveBytes() - before) / n
		t.Logf("%s tab at 120×40, 1,000 nodes: %d KiB per session", c.name, per/1024)
		if per > 256<<10 {
			t.Errorf("%s: %d KiB per session, want at most 256", c.name, per/1024)
		}
		runtime.KeepAlive(ss)
	}
}

// BenchmarkBusyRadio: one radio, many sessions, every packet reaching
// every session's screen. An op is one packet heard by the radio and
// drawn by all sessions (each draws a frame per event batch here: the
// worst case, without the frame timer's coalescing).
func BenchmarkBusyRadio(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, t := range []string{"Nodes", "Packets", "Chat"} {
			b.Run(fmt.Sprintf("sessions=%d/tab=%s", n, t), func(b *testing.B) { benchBusy(b, n, t) })
		}
	}
}

func benchBusy(b *testing.B, n int, t string) {
	fx := newFixture(b, fixtureOpts{nodes: 200})
	ss := newSessions(b, fx, n, t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var drawn atomic.Int64
	for _, s := range ss {
		ch := make(chan tea.Msg, 16)
		wg.Add(2)
		go func() { defer wg.Done(); s.link.Run(ctx, func(msg tea.Msg) { ch <- msg }) }()
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case msg := <-ch:
					s.m.Update(msg)
					s.m.Update(frameMsg{})
					s.m.View()
					if em, ok := msg.(eventsMsg); ok {
						for _, ev := range em.events {
							if ev.Packet != nil {
								drawn.Add(1)
							}
						}
					}
				}
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	r := fx.sims["base"]
	var from []uint32
	for _, node := range r.Nodes() {
		if node.GetNum() != r.MyNodeNum() {
			from = append(from, node.GetNum())
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		r.Inject(&pb.MeshPacket{From: from[i%len(from)], To: 0xFFFFFFFF, HopStart: 3, HopLimit: 2, RxSnr: 5,
			PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP, Payload: []byte("load test")}}})
		want := int64(i+1) * int64(n)
		for drawn.Load() < want {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per.Nanoseconds())/float64(n), "ns/session")
}

// BenchmarkFrame is one session's cost for one packet on screen: the
// events, then the frame they cause.
func BenchmarkFrame(b *testing.B) {
	for _, t := range []string{"Nodes", "Packets", "Chat"} {
		b.Run("tab="+t, func(b *testing.B) {
			fx := newFixture(b, fixtureOpts{nodes: 200})
			s := newSessions(b, fx, 1, t)[0]
			v := s.m.view()
			var nodes []*meshtastic.Node
			for _, n := range v.Nodes {
				nodes = append(nodes, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				n := nodes[i%len(nodes)]
				p := &radio.Packet{At: time.Now(), P: &pb.MeshPacket{From: n.Num, To: 0xFFFFFFFF, RxSnr: 5, HopStart: 3, HopLimit: 3,
					PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TELEMETRY_APP}}}}
				s.rec.Observe(p.P, p.At)
				s.m.Update(eventsMsg{radio: "base", events: []*radio.Event{
					{Kind: radio.EvNode, Node: n}, {Kind: radio.EvPacket, Packet: p}}})
				s.m.Update(frameMsg{})
				s.m.View()
			}
		})
	}
}

// BenchmarkScreenFrame is what Bubble Tea's renderer does with a frame
// (clear its cell buffer, draw the view's string into it, diff it against
// the screen, write the difference), for a one-line view as a trivial
// program has and for our Chat tab as each new text arrives. It
// separates the renderer's fixed cost per frame from what a full screen
// adds. ns/op of the Chat case includes our Update and View.
func BenchmarkScreenFrame(b *testing.B) {
	b.Run("one-line", func(b *testing.B) {
		benchScreen(b, func(i int) string { return "trivial: marker " + strconv.Itoa(i) })
	})
	b.Run("Chat", func(b *testing.B) {
		fx := newFixture(b, fixtureOpts{nodes: 40})
		s := newSessions(b, fx, 1, "Chat")[0]
		v := s.m.view()
		var from []uint32
		for _, n := range v.Nodes {
			if n.Num != v.MyNodeNum {
				from = append(from, n.Num)
			}
		}
		benchScreen(b, func(i int) string {
			msg := &radio.Message{Radio: "base", At: time.Now(), ID: uint32(i + 1), From: from[(i+len(from))%len(from)],
				To: meshtastic.Broadcast, Text: "marker " + strconv.Itoa(i) + " and a few words of text"}
			s.m.Update(eventsMsg{radio: "base", events: []*radio.Event{{Kind: radio.EvMessage, At: msg.At, Message: msg}}})
			s.m.Update(frameMsg{})
			return s.m.View().Content
		})
	})
}

func benchScreen(b *testing.B, next func(i int) string) {
	var out countingWriter
	scr := uv.NewTerminalRenderer(&out, []string{"TERM=xterm-256color"})
	scr.SetColorProfile(colorprofile.TrueColor)
	scr.SetFullscreen(true)
	scr.SetScrollOptim(true) // as Bubble Tea sets it on Unix
	scr.Resize(120, 40)
	buf := uv.NewScreenBuffer(120, 40)
	frame := func(content string) {
		buf.Clear()
		uv.NewStyledString(content).Draw(buf, buf.Bounds())
		scr.Render(buf.RenderBuffer)
		_ = scr.Flush()
	}
	frame(next(-1))
	out = 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		frame(next(i))
	}
	b.ReportMetric(float64(out)/float64(b.N), "bytes/frame")
	b.StopTimer()
	// What the renderer holds after the frames: its screens of cells and
	// every older frame a cell still points into, since a cell's text is a
	// slice of the frame string it was drawn from, kept until that cell
	// changes on screen.
	held := liveBytes()
	runtime.KeepAlive(scr)
	runtime.KeepAlive(buf)
	scr, buf, frame = nil, uv.ScreenBuffer{}, nil
	b.ReportMetric(float64(held-liveBytes())/1024, "held-KiB")
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
