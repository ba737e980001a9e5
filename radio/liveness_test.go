package radio

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/sim"
)

// blackHole relays TCP connections to target until freeze is called; from
// then on the connections open so far carry nothing either way but stay
// open, as when a radio loses power behind a Wi-Fi access point: no reset
// ever reaches us. New connections are relayed again.
func blackHole(t *testing.T, target string) (addr string, freeze func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	frozen := make(chan struct{})
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			stop := frozen
			mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					n, err := src.Read(buf)
					select {
					case <-stop:
						_, _ = io.Copy(io.Discard, src) // swallow, never forward or close
						return
					default:
					}
					if n > 0 {
						if _, err := dst.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						dst.Close()
						return
					}
				}
			}
			wg.Add(2)
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() {
		mu.Lock()
		close(frozen)
		frozen = make(chan struct{})
		mu.Unlock()
	}
}

// A link that stays open but carries nothing (heartbeats unanswered) is
// declared dead and reconnected, and the status says why meanwhile.
func TestSilentLinkIsReconnected(t *testing.T) {
	_, simAddr := simRadio(t, sim.Config{Seed: 91, Nodes: 3})
	addr, freeze := blackHole(t, simAddr)
	b := startBroker(t, addr, Config{Client: meshtastic.Options{Heartbeat: 100 * time.Millisecond}, Silence: 500 * time.Millisecond})
	sub := b.Subscribe("u")
	defer sub.Close()
	waitState(t, b, Connected, 5*time.Second)
	time.Sleep(time.Second) // heartbeats answered: the link holds
	if st := b.Status(); st.State != Connected || st.Reconnects != 0 {
		t.Fatalf("a live link was dropped: %+v", st)
	}

	for len(sub.Events()) > 0 {
		<-sub.Events()
	}
	freeze()
	var down *Status
	deadline := time.After(5 * time.Second)
	for down == nil {
		select {
		case ev := <-sub.Events():
			if ev.Kind == EvStatus && ev.Status.State != Connected {
				down = ev.Status
			}
		case <-deadline:
			t.Fatalf("a silent link is still taken for connected: %+v", b.Status())
		}
	}
	if down.Reason != "the radio stopped answering" {
		t.Fatalf("while reconnecting: %+v", down)
	}
	deadline2 := time.Now().Add(5 * time.Second)
	for st := b.Status(); st.State != Connected || st.Reconnects != 1; st = b.Status() {
		if time.Now().After(deadline2) {
			t.Fatalf("not reconnected: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
