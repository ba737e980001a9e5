package sim

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/meshtastic/frame"
	"github.com/meshgate/meshgate/meshtastic/pb"
)

// streamItem is a frame (decoded) or a log line read from a console.
type streamItem struct {
	text string
	msg  *pb.FromRadio
}

func readStream(t *testing.T, src interface{ Read([]byte) (int, error) }) chan streamItem {
	ch := make(chan streamItem, 1024)
	go func() {
		defer close(ch)
		fr := frame.NewReader(src)
		for {
			it, err := fr.Next()
			if err != nil {
				return
			}
			if it.Kind == frame.KindLog {
				ch <- streamItem{text: it.Text}
				continue
			}
			m := &pb.FromRadio{}
			if err := proto.Unmarshal(it.Payload, m); err != nil {
				t.Errorf("undecodable frame on the console: %v", err)
				continue
			}
			ch <- streamItem{msg: m}
		}
	}()
	return ch
}

func next(ch chan streamItem, d time.Duration) (streamItem, bool) {
	select {
	case it, ok := <-ch:
		return it, ok
	case <-time.After(d):
		return streamItem{}, false
	}
}

func TestSerialConsoleOverPTY(t *testing.T) {
	r, err := New(fastConfig(41))
	if err != nil {
		t.Fatal(err)
	}
	r.consoleEvery = 50 * time.Millisecond
	master, slave, err := OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer master.Close()
	port, err := serial.Open(slave, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("open %s: %v", slave, err)
	}
	defer port.Close()
	items := readStream(t, port)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ServeStream(ctx, master) }()

	// Boot text, the 2.7-style rebooted frame, then periodic lines.
	var lines []string
	rebooted := false
	for len(lines) < 7 || !rebooted {
		it, ok := next(items, waitLong)
		if !ok {
			t.Fatalf("console went quiet; lines so far %q", lines)
		}
		if it.msg != nil {
			if !it.msg.GetRebooted() {
				t.Fatalf("frame before the host spoke: %v", it.msg)
			}
			rebooted = true
			continue
		}
		lines = append(lines, it.text)
	}
	for _, l := range lines {
		if !strings.Contains(l, " | ") {
			t.Errorf("odd console line %q", l)
		}
	}
	if !strings.HasPrefix(lines[0], "INFO  | ") {
		t.Errorf("first line %q", lines[0])
	}

	// Wake-up bytes, then the handshake: protobuf mode from now on.
	wake := bytes.Repeat([]byte{0xC3}, 32)
	want, _ := proto.Marshal(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 4242}})
	buf, _ := frame.Append(wake, want)
	if _, err := port.Write(buf); err != nil {
		t.Fatal(err)
	}
	var got []*pb.FromRadio
	for {
		it, ok := next(items, waitLong)
		if !ok {
			t.Fatal("no config over the console")
		}
		if it.msg == nil {
			continue // text already in flight before the switch
		}
		got = append(got, it.msg)
		if isComplete(it.msg) {
			break
		}
	}
	if got[0].GetMyInfo().GetMyNodeNum() != r.MyNodeNum() || got[len(got)-1].GetConfigCompleteId() != 4242 {
		t.Errorf("console handshake %v ... %v", got[0], got[len(got)-1])
	}
	hb, _ := proto.Marshal(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
	buf, _ = frame.Append(nil, hb)
	if _, err := port.Write(buf); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitLong)
	for gotStatus := false; !gotStatus; {
		select {
		case it := <-items:
			if it.msg == nil {
				t.Fatalf("plain text after protobuf mode: %q", it.text)
			}
			gotStatus = it.msg.GetQueueStatus() != nil
		case <-deadline:
			t.Fatal("no queueStatus over the console")
		}
	}
	// Several console periods later: still no text.
	if it, ok := next(items, 300*time.Millisecond); ok {
		t.Errorf("console output after protobuf mode: %+v", it)
	}

	// A client that closes and reopens the port finds the radio still there.
	_ = port.Close()
	port, err = serial.Open(slave, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	items = readStream(t, port)
	if _, err := port.Write(buf); err != nil {
		t.Fatal(err)
	}
	if it, ok := next(items, waitLong); !ok || it.msg.GetQueueStatus() == nil {
		t.Errorf("after reopening: %+v", it)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeStream: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("ServeStream did not return after cancel")
	}
}

func TestStreamRebootShowsBootLogAgain(t *testing.T) {
	r, err := New(fastConfig(42))
	if err != nil {
		t.Fatal(err)
	}
	radioSide, hostSide := net.Pipe()
	defer hostSide.Close()
	items := readStream(t, hostSide)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.ServeStream(ctx, radioSide) }()

	send := func(m *pb.ToRadio) {
		b, _ := proto.Marshal(m)
		f, _ := frame.Append(nil, b)
		if _, err := hostSide.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_WantConfigId{WantConfigId: 5}})
	for {
		it, ok := next(items, waitLong)
		if !ok {
			t.Fatal("no config")
		}
		if it.msg != nil && isComplete(it.msg) {
			break
		}
	}
	send(&pb.ToRadio{PayloadVariant: &pb.ToRadio_Packet{Packet: admin(r, 1, false,
		&pb.AdminMessage{PayloadVariant: &pb.AdminMessage_RebootSeconds{RebootSeconds: 0}})}})
	var text, reboot bool
	for !text || !reboot {
		it, ok := next(items, waitLong)
		if !ok {
			t.Fatal("no boot log after the reboot")
		}
		text = text || strings.Contains(it.text, "[Main]")
		reboot = reboot || it.msg.GetRebooted()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeStream: %v", err)
	}
}

func TestGoroutinesReturnToBaseline(t *testing.T) {
	time.Sleep(50 * time.Millisecond) // let earlier tests' stragglers finish
	base := runtime.NumGoroutine()

	cfg := fastConfig(51)
	cfg.TrafficInterval = 2 * time.Millisecond
	cfg.AckDelay = time.Hour // leave timers pending at shutdown
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := mustListen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	radioSide, hostSide := net.Pipe()
	sdone := make(chan error, 1)
	go func() { sdone <- r.ServeStream(ctx, radioSide) }()
	go func() { _, _ = bytesDrain(hostSide) }()

	var clients []*client
	for range 3 {
		clients = append(clients, dial(t, ln.Addr().String()))
	}
	c := clients[2]
	c.handshake(1)
	pe := peerWhere(t, r, func(p *peer) bool { return p.reachable && !p.viaMQTT })
	dm := text(pe.num, 0xE001, "pending")
	dm.WantAck = true
	c.packet(dm)
	c.waitFor(waitLong, "live traffic", func(m *pb.FromRadio) bool { return m.GetPacket() != nil })

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := <-sdone; err != nil {
		t.Errorf("ServeStream: %v", err)
	}
	_ = hostSide.Close()
	for _, c := range clients {
		_ = c.conn.Close()
	}
	if err := eventually(2*time.Second, func() bool { return runtime.NumGoroutine() <= base }); err != nil {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}

func bytesDrain(c net.Conn) (int64, error) {
	var n int64
	buf := make([]byte, 4096)
	for {
		k, err := c.Read(buf)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}
