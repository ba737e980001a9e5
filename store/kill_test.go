package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// killChildEnv switches the test binary into the writer child of TestKill9.
const killChildEnv = "MESHGATE_STORE_KILL9_CHILD"

// TestKill9 kills a process with SIGKILL while it writes history as fast
// as it can, then checks what it left: the database opens, passes SQLite's
// integrity check, holds an unbroken prefix of what was written, and
// holds at least everything the child had seen committed.
func TestKill9(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := dbPath(t)
	const rounds = 3
	for round := range rounds {
		radio := fmt.Sprint("round-", round)
		committed, enqueued := runAndKill(t, path, radio)

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		verdict, err := s.IntegrityCheck(ctx)
		if err != nil || verdict != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, verdict, err)
		}
		msgs, err := s.Messages(ctx, radio, Page{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		// Messages returns the newest page; count and check the prefix
		// through SQL to cover every row.
		var n, maxID, sum int64
		if err := s.rdb.QueryRow(`SELECT COUNT(*), COALESCE(MAX(packet_id), -1), COALESCE(SUM(packet_id), 0)
FROM messages WHERE radio = $1`, radio).Scan(&n, &maxID, &sum); err != nil {
			t.Fatal(err)
		}
		// Ids 0..n-1 each once: the rows are exactly a prefix of the stream.
		if maxID != n-1 || sum != n*(n-1)/2 {
			t.Fatalf("round %d: %d rows, max id %d, sum %d: not a prefix", round, n, maxID, sum)
		}
		if n < committed {
			t.Fatalf("round %d: %d rows survived, but the child had seen %d committed", round, n, committed)
		}
		if len(msgs) > 0 && msgs[len(msgs)-1].Text != "message "+strconv.FormatInt(n-1, 10) {
			t.Fatalf("round %d: last row %+v", round, msgs[len(msgs)-1])
		}
		t.Logf("round %d: killed with >= %d queued, %d seen committed; %d rows survived, an unbroken prefix; integrity ok",
			round, enqueued, committed, n)
		s.Close()
	}
}

// runAndKill starts the child writing to radio, waits until it reports at
// least target records committed, kills it, and returns the highest
// committed and enqueued counts it reported.
func runAndKill(t *testing.T, path, radio string) (committed, enqueued int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path, "MESHGATE_STORE_KILL9_RADIO="+radio)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-done
	}()

	type report struct{ committed, enqueued int64 }
	lines := make(chan report, 1024)
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var r report
			if _, err := fmt.Sscanf(sc.Text(), "committed %d enqueued %d", &r.committed, &r.enqueued); err == nil {
				lines <- r
			}
		}
	}()
	take := func(r report) {
		committed, enqueued = max(committed, r.committed), max(enqueued, r.enqueued)
	}

	deadline := time.After(60 * time.Second)
	var kill <-chan time.Time // armed once a few batches are in
wait:
	for {
		select {
		case r, ok := <-lines:
			if !ok {
				t.Fatal("child exited before being killed")
			}
			take(r)
			if kill == nil && committed >= 3*512 {
				kill = time.After(time.Duration(50+rand.IntN(250)) * time.Millisecond)
			}
		case <-kill:
			break wait
		case <-deadline:
			t.Fatalf("child reported only %d committed in 60 s", committed)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for r := range lines {
		take(r)
	}
	return committed, enqueued
}

// killChild writes numbered messages as fast as the writer takes them,
// waiting for room rather than dropping (so the stream has no gaps), and
// reports the committed count every millisecond until it is killed.
func killChild(path string) {
	radio := os.Getenv("MESHGATE_STORE_KILL9_RADIO")
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var enqueued atomic.Int64
	go func() {
		for range time.Tick(time.Millisecond) {
			// Read enqueued first: it is then a lower bound at the time
			// the committed count is read.
			e := enqueued.Load()
			fmt.Printf("committed %d enqueued %d\n", s.Stats().Written, e)
		}
	}()
	// A bound, in case the parent dies without killing us.
	stop := time.Now().Add(2 * time.Minute)
	for i := 0; time.Now().Before(stop); i++ {
		m := Message{Radio: radio, ID: uint32(i), From: 0xa1b2c3d4, To: 0xffffffff,
			Text: "message " + strconv.Itoa(i), SNR: 5.5, RSSI: -90}
		for !s.AddMessage(m) {
			time.Sleep(20 * time.Microsecond)
		}
		enqueued.Store(int64(i + 1))
	}
	os.Exit(3)
}
