package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenCreatesPrivateWALDatabase(t *testing.T) {
	path := dbPath(t)
	s := openAt(t, path, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("database mode %v, want 0600", fi.Mode().Perm())
	}
	var mode, sync string
	if err := s.wdb.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	if err := s.wdb.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != "1" {
		t.Fatalf("synchronous %q %v (1 is NORMAL)", sync, err)
	}
	var fk, busy int
	if err := s.rdb.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys %d %v", fk, err)
	}
	if err := s.rdb.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 5000 {
		t.Fatalf("busy_timeout %d %v", busy, err)
	}
	if got, err := s.IntegrityCheck(ctx); err != nil || got != "ok" {
		t.Fatalf("integrity %q %v", got, err)
	}
	// Readers cannot write.
	if _, err := s.rdb.Exec(`DELETE FROM messages`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
	if _, err := Open(t.TempDir()+"/missing/dir/x.db", Options{}); err == nil {
		t.Fatal("opened a database in a missing directory")
	}
}

func TestPathWithURISyntax(t *testing.T) {
	path := t.TempDir() + "/odd?name#with%chars.db"
	s := openAt(t, path, Options{})
	addAll(s, Message{Radio: "r", Text: "x"})
	flush(t, s)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

func schemaVersion(t *testing.T, db *sql.DB) (max, rows int) {
	t.Helper()
	if err := db.QueryRow(`SELECT MAX(version), COUNT(*) FROM schema_migrations`).Scan(&max, &rows); err != nil {
		t.Fatal(err)
	}
	return max, rows
}

func TestMigrations(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, n := schemaVersion(t, s.rdb); v != SchemaVersion() || n != SchemaVersion() {
		t.Fatalf("fresh database at version %d with %d rows, want %d", v, n, SchemaVersion())
	}
	s.Close()

	// Reopening applies nothing again.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, n := schemaVersion(t, s.rdb); v != SchemaVersion() || n != SchemaVersion() {
		t.Fatalf("reopened database at version %d with %d rows", v, n)
	}
	if _, _, err := migrate(ctx, s.wdb, migrations, 0); err != nil {
		t.Fatalf("migrating a current database: %v", err)
	}
	s.Close()

	// A database from a newer build is refused, and left alone.
	db, err := sql.Open("sqlite", dsn(path, true, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestMigrationUpgradesStepByStep(t *testing.T) {
	path := dbPath(t)
	db, err := sql.Open("sqlite", dsn(path, true, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if from, to, err := migrate(ctx, db, migrations[:1], 0); err != nil || from != 0 || to != 1 {
		t.Fatalf("first step: %d -> %d, %v", from, to, err)
	}
	if _, err := db.Exec(`INSERT INTO messages (radio, time_ms, packet_id, from_node, to_node, channel, text, reply_id,
	via_mqtt, hops, snr, rssi, outgoing, sent_by, delivery, error, ack_from)
	VALUES ('base', $1, 7, 1, 2, 0, 'from v1', 0, FALSE, NULL, 0, 0, FALSE, '', 'received', '', '')`, t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// A broken step rolls back whole: no half-made tables, no version row.
	broken := append(append([]string{}, migrations[:1]...), `CREATE TABLE half (x INTEGER); CREATE TABLE oops (`)
	if _, _, err := migrate(ctx, db, broken, 0); err == nil {
		t.Fatal("broken migration applied")
	}
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'`).Scan(&n)
	if v, _ := schemaVersion(t, db); v != 1 || n != 0 {
		t.Fatalf("after a failed step: version %d, half table %d", v, n)
	}
	db.Close()

	s := openAt(t, path, Options{})
	if v, _ := schemaVersion(t, s.rdb); v != SchemaVersion() {
		t.Fatalf("upgraded to %d", v)
	}
	// Step 3 dropped the unused settings table that step 2 made.
	s.rdb.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'settings'`).Scan(&n)
	if n != 0 {
		t.Fatal("settings table survived the upgrade")
	}
	msgs, err := s.Messages(ctx, "base", all)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "from v1" {
		t.Fatalf("data from v1: %+v %v", msgs, err)
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	in := []Message{
		{Radio: "base", At: t0, ID: 0xdeadbeef, From: 0xa1, To: 0xffffffff, Channel: 1, Text: "hello", ViaMQTT: true,
			Hops: u32(3), SNR: 6.25, RSSI: -101},
		{Radio: "base", At: t0.Add(time.Second), ID: 2, From: 0xb2, To: 0xa1, Text: "re: hello", ReplyID: 0xdeadbeef,
			Outgoing: true, SentBy: "alice", Delivery: DeliveryPending},
		{Radio: "base", At: t0.Add(2 * time.Second), ID: 3, From: 0xa1, Text: "bad \xff utf8 and \x00 nul"},
		{Radio: "field", At: t0, ID: 4, From: 0xc3, Text: "other radio"},
	}
	addAll(s, in...)
	s.UpdateDelivery("base", 2, DeliveryAcked, "", "!000000a1")
	s.UpdateDelivery("base", 0xdeadbeef, DeliveryFailed, "not ours", "") // only outgoing messages change
	flush(t, s)

	got, err := s.Messages(ctx, "base", all)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d messages", len(got))
	}
	want0 := in[0]
	want0.Seq, want0.Delivery = got[0].Seq, DeliveryReceived
	if !got[0].At.Equal(want0.At) {
		t.Fatalf("time %v, want %v", got[0].At, want0.At)
	}
	got[0].At = want0.At
	if !reflect.DeepEqual(got[0], want0) {
		t.Fatalf("message 0:\n got %+v\nwant %+v", got[0], want0)
	}
	if m := got[1]; !m.Outgoing || m.SentBy != "alice" || m.Delivery != DeliveryAcked || m.AckFrom != "!000000a1" ||
		m.ReplyID != 0xdeadbeef || m.Hops != nil {
		t.Fatalf("message 1: %+v", m)
	}
	if got[2].Text != "bad \uFFFD utf8 and  nul" {
		t.Fatalf("text not cleaned: %q", got[2].Text)
	}
	if !(got[0].Seq < got[1].Seq && got[1].Seq < got[2].Seq) {
		t.Fatal("not oldest first")
	}

	// Paging: the newest two, then the one before them.
	page, _ := s.Messages(ctx, "base", Page{Limit: 2})
	if len(page) != 2 || page[0].ID != 2 || page[1].ID != 3 {
		t.Fatalf("newest page: %+v", page)
	}
	prev, _ := s.Messages(ctx, "base", Page{Limit: 2, Before: page[0].Seq})
	if len(prev) != 1 || prev[0].ID != 0xdeadbeef {
		t.Fatalf("previous page: %+v", prev)
	}
	if other, _ := s.Messages(ctx, "field", all); len(other) != 1 || other[0].Text != "other radio" {
		t.Fatalf("field: %+v", other)
	}
	if none, err := s.Messages(ctx, "nope", all); err != nil || len(none) != 0 {
		t.Fatalf("unknown radio: %v %v", none, err)
	}
}

func TestDeliveryUpdateHitsLatestOutgoing(t *testing.T) {
	s := openTest(t, Options{})
	addAll(s,
		Message{Radio: "r", ID: 9, Outgoing: true, Delivery: DeliveryPending, Text: "old"},
		Message{Radio: "r", ID: 9, Outgoing: true, Delivery: DeliveryPending, Text: "new"})
	s.UpdateDelivery("r", 9, DeliveryFailed, "no ack", "")
	flush(t, s)
	got, _ := s.Messages(ctx, "r", all)
	if got[0].Delivery != DeliveryPending || got[1].Delivery != DeliveryFailed || got[1].Error != "no ack" {
		t.Fatalf("%+v", got)
	}
}

func TestPacketsRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	p := PacketSummary{Radio: "base", At: t0, ID: 77, From: 1, To: 2, Channel: 3, PortNum: 3, Port: "POSITION",
		Summary: "52.52000, 13.40500", SNR: -7.5, RSSI: -120, Hops: u32(1), ViaMQTT: true}
	for !s.AddPacket(p) {
	}
	enc := PacketSummary{Radio: "base", At: t0.Add(time.Second), ID: 78, Port: "ENCRYPTED", Summary: "encrypted, 40 bytes"}
	for !s.AddPacket(enc) {
	}
	flush(t, s)
	got, err := s.Packets(ctx, "base", all)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	p.Seq = got[0].Seq
	got[0].At = p.At
	if !reflect.DeepEqual(got[0], p) {
		t.Fatalf("\n got %+v\nwant %+v", got[0], p)
	}
	if got[1].Hops != nil || got[1].Port != "ENCRYPTED" {
		t.Fatalf("%+v", got[1])
	}
}

func TestTracesRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	route := json.RawMessage(`{"towards":[{"num":7,"id":"!00000007","known":true,"snr":-3.5},{"num":2,"id":"!00000002","known":true,"snr":6.25}],` +
		`"back":[{"num":4294967295,"known":false,"snr":null},{"num":1,"id":"!00000001","known":true,"snr":5}],"back_known":true,"rtt":1.5}`)
	traces := []Trace{
		{Radio: "base", User: "SHA256:a", RequestedBy: "alice", Target: 2, At: t0, Outcome: TraceComplete, Route: route},
		{Radio: "base", User: "SHA256:a", Target: 3, At: t0, Sweep: "sweep-1", Outcome: TraceTimeout},
		{Radio: "base", User: "SHA256:b", Target: 4, At: t0, Sweep: "sweep-1", Outcome: TraceError, Error: "radio busy"},
		{Radio: "field", User: "SHA256:a", Target: 2, At: t0, Outcome: TraceComplete, Route: route},
	}
	for _, tr := range traces {
		for !s.AddTrace(tr) {
		}
	}
	flush(t, s)
	got, err := s.Traces(ctx, TraceQuery{Radio: "base"})
	if err != nil || len(got) != 3 {
		t.Fatalf("%v %v", got, err)
	}
	if string(got[0].Route) != string(route) || got[0].Outcome != TraceComplete || got[1].Route != nil ||
		got[2].Error != "radio busy" || got[2].User != "SHA256:b" || got[0].RequestedBy != "alice" || got[1].RequestedBy != "" {
		t.Fatalf("%+v", got)
	}
	r, err := got[0].DecodeRoute()
	if err != nil || len(r.Towards) != 2 || r.Towards[0].ID != "!00000007" || *r.Towards[0].SNR != -3.5 ||
		!r.BackKnown || r.Back[0].Known || r.Back[0].SNR != nil || r.Back[1].Num != 1 || r.RTT != 1.5 {
		t.Fatalf("route %+v %v", r, err)
	}
	if r, err := got[1].DecodeRoute(); r != nil || err != nil {
		t.Fatalf("no route: %+v %v", r, err)
	}
	for q, want := range map[*TraceQuery]int{
		{Sweep: "sweep-1"}: 2, {User: "SHA256:a"}: 3, {Target: 2}: 2, {Radio: "base", Target: 2}: 1,
		{Page: Page{Limit: 1}}: 1,
	} {
		if got, _ := s.Traces(ctx, *q); len(got) != want {
			t.Errorf("%+v: %d traces, want %d", *q, len(got), want)
		}
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	s := openTest(t, Options{})
	before, after := json.RawMessage(`{"hop_limit":3}`), json.RawMessage(`{"hop_limit":5}`)
	entries := []AuditEntry{
		{At: t0, User: "root", Fingerprint: "SHA256:r", Radio: "base", Action: "config.set", Before: before, After: after},
		{At: t0.Add(time.Second), User: "root", Fingerprint: "SHA256:r", Radio: "base", Action: "reboot"},
		{User: "ops", Fingerprint: "SHA256:o", Action: "session.kick", Detail: "kicked session 4 of bob"},
	}
	for _, e := range entries {
		if _, err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Audit(ctx, AuditQuery{})
	if err != nil || len(got) != 3 {
		t.Fatalf("%v %v", got, err)
	}
	if string(got[0].Before) != string(before) || string(got[0].After) != string(after) || got[1].Before != nil ||
		got[2].Detail != "kicked session 4 of bob" || got[2].At.IsZero() || got[2].Radio != "" {
		t.Fatalf("%+v", got)
	}
	for q, want := range map[*AuditQuery]int{
		{Radio: "base"}: 2, {Fingerprint: "SHA256:o"}: 1, {Action: "reboot"}: 1, {Page: Page{Limit: 2}}: 2,
		{Page: Page{Before: got[1].Seq}}: 1,
	} {
		if got, _ := s.Audit(ctx, *q); len(got) != want {
			t.Errorf("%+v: %d entries, want %d", *q, len(got), want)
		}
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{User: "x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no action: %v", err)
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{Action: "x", After: json.RawMessage(`{`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad JSON: %v", err)
	}
	// Not even SQL can change it.
	if _, err := s.wdb.Exec(`UPDATE audit SET user_name = 'mallory'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("update: %v", err)
	}
	if _, err := s.wdb.Exec(`DELETE FROM audit`); err == nil {
		t.Fatal("delete succeeded")
	}
	if got, _ := s.Audit(ctx, AuditQuery{}); len(got) != 3 || got[0].User != "root" {
		t.Fatalf("audit changed: %+v", got)
	}
}

func TestRetention(t *testing.T) {
	clk := &clock{now: t0}
	s := openTest(t, Options{
		Now:           clk.Now,
		Messages:      Retention{MaxRows: 10, MaxAge: 24 * time.Hour},
		Packets:       Retention{MaxRows: 6000, MaxAge: -1},
		Traces:        Retention{MaxRows: -1, MaxAge: time.Hour},
		PruneInterval: time.Hour,
	})
	for i := range 25 {
		addAll(s,
			Message{Radio: "base", At: t0.Add(time.Duration(i) * time.Minute), ID: uint32(i), Text: "m"},
			Message{Radio: "field", At: t0.Add(time.Duration(i) * time.Minute), ID: uint32(i), Text: "m"})
	}
	// Two days old: goes by age even though under the count.
	addAll(s, Message{Radio: "old", At: t0.Add(-48 * time.Hour), Text: "ancient"})
	for i := range 13000 { // more than two delete chunks
		for !s.AddPacket(PacketSummary{Radio: "base", At: t0.Add(-30 * 24 * time.Hour), ID: uint32(i)}) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for i := range 5 {
		for !s.AddTrace(Trace{Radio: "base", At: t0.Add(time.Duration(i-3) * 30 * time.Minute), Target: uint32(i), Outcome: TraceTimeout}) {
		}
	}
	flush(t, s)

	res, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 31 || res.Packets != 7000 || res.Traces != 1 {
		t.Fatalf("pruned %+v", res)
	}
	for _, radio := range []string{"base", "field"} {
		got, _ := s.Messages(ctx, radio, all)
		if len(got) != 10 || got[0].ID != 15 || got[9].ID != 24 {
			t.Fatalf("%s kept %d messages from %d", radio, len(got), got[0].ID)
		}
	}
	if got, _ := s.Messages(ctx, "old", all); len(got) != 0 {
		t.Fatal("old message kept")
	}
	if got, _ := s.Packets(ctx, "base", all); len(got) != 6000 || got[0].ID != 7000 {
		t.Fatalf("packets kept %d from %d", len(got), got[0].ID)
	}
	if got, _ := s.Traces(ctx, TraceQuery{}); len(got) != 4 || got[0].Target != 1 { // exactly an hour old stays
		t.Fatalf("traces %+v", got)
	}
	// A second pass has nothing to do.
	if res, _ := s.Prune(ctx); res != (PruneResult{}) {
		t.Fatalf("second pass %+v", res)
	}
	// Time passes: age applies to what is left.
	clk.Set(t0.Add(24*time.Hour + 20*time.Minute))
	// Minutes 15-19 of each radio are now past a day old.
	if res, _ := s.Prune(ctx); res.Messages != 2*5 || res.Traces != 4 {
		t.Fatalf("after a day: %+v", res)
	}
	if st := s.Stats(); st.Pruned != 31+7000+1+10+4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetentionRunsByItself(t *testing.T) {
	s := openTest(t, Options{Messages: Retention{MaxRows: 3}, PruneInterval: 20 * time.Millisecond})
	for i := range 10 {
		addAll(s, Message{Radio: "r", ID: uint32(i), Text: "x"})
	}
	flush(t, s)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := s.Messages(ctx, "r", all)
		if len(got) == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d messages", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	s := openTest(t, Options{QueueSize: 8, BatchSize: 2, FlushInterval: time.Hour})
	// Hold the only write connection so the writer stalls on its first batch.
	hold, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback() // before Close, even when the test fails
	start := time.Now()
	accepted, refused := 0, 0
	for i := range 100 {
		if s.AddMessage(Message{Radio: "r", ID: uint32(i), Text: "x"}) {
			accepted++
		} else {
			refused++
		}
	}
	// Packets stop at three quarters full; the queue is full by now.
	if s.AddPacket(PacketSummary{Radio: "r"}) {
		t.Fatal("packet accepted into a full queue")
	}
	if time.Since(start) > time.Second {
		t.Fatal("adding to a full queue blocked")
	}
	if refused == 0 || accepted > 8+2+1 {
		t.Fatalf("accepted %d, refused %d", accepted, refused)
	}
	// Queued is a snapshot; it settles once the writer is stuck.
	for deadline := time.Now().Add(2 * time.Second); s.Stats().Queued != accepted; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Stats.Queued %d while %d accepted records wait", s.Stats().Queued, accepted)
		}
	}
	hold.Rollback()
	flush(t, s)
	st := s.Stats()
	if st.Dropped != uint64(refused+1) || st.Written != uint64(accepted) || st.Failed != 0 {
		t.Fatalf("stats %+v (accepted %d refused %d)", st, accepted, refused)
	}
	got, _ := s.Messages(ctx, "r", all)
	if len(got) != accepted {
		t.Fatalf("%d stored, %d accepted", len(got), accepted)
	}
}

func TestPacketsYieldToMessages(t *testing.T) {
	s := openTest(t, Options{QueueSize: 8, BatchSize: 1, FlushInterval: time.Hour})
	hold, _ := s.wdb.BeginTx(ctx, nil)
	defer hold.Rollback()
	// Let the writer take one record and stall on it.
	s.AddMessage(Message{Radio: "r", Text: "first"})
	for len(s.w.q) > 0 || s.w.gathered.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	packets := 0
	for s.AddPacket(PacketSummary{Radio: "r"}) {
		packets++
	}
	messages := 0
	for s.AddMessage(Message{Radio: "r", Text: "m"}) {
		messages++
	}
	if packets != 6 || messages != 2 {
		t.Fatalf("queue of 8 took %d packets then %d messages", packets, messages)
	}
}

func TestCloseWritesTheQueue(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{FlushInterval: time.Hour, BatchSize: 100000, QueueSize: 20000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		addAll(s, Message{Radio: "r", ID: uint32(i), Text: "x"})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if s.AddMessage(Message{Radio: "r"}) || s.AddPacket(PacketSummary{}) || s.AddTrace(Trace{}) || s.UpdateDelivery("r", 1, DeliveryAcked, "", "") {
		t.Fatal("closed store accepted history")
	}
	if _, err := s.Messages(ctx, "r", all); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := s.AddRule(ctx, Actor{}, rule("r")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
	// The WAL was folded back into the database.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("WAL left with %d bytes", fi.Size())
	}
	s2 := openAt(t, path, Options{})
	if got, _ := s2.Messages(ctx, "r", all); len(got) != 5000 {
		t.Fatalf("%d of 5000 messages after close and reopen", len(got))
	}
}

func TestConcurrentUse(t *testing.T) {
	s := openTest(t, Options{QueueSize: 256, BatchSize: 64, FlushInterval: 5 * time.Millisecond})
	const writers, each = 6, 400
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				addAll(s, Message{Radio: fmt.Sprint("r", w%2), ID: uint32(w*each + i), Text: "x"})
				if i%4 == 0 {
					s.AddPacket(PacketSummary{Radio: "r0", ID: uint32(i)})
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 40 {
			if _, err := s.AddRule(ctx, Actor{"op", "SHA256:op"}, rule("r0")); err != nil {
				t.Error(err)
			}
			if _, err := s.AppendAudit(ctx, AuditEntry{Action: "test", Detail: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			for range 60 {
				if _, err := s.Messages(ctx, "r0", Page{Limit: 50}); err != nil {
					t.Error(err)
				}
				if _, err := s.Rules(ctx, ""); err != nil {
					t.Error(err)
				}
				_ = s.Stats()
				_ = s.Revision()
			}
		})
	}
	wg.Wait()
	flush(t, s)
	r0, _ := s.Messages(ctx, "r0", all)
	r1, _ := s.Messages(ctx, "r1", all)
	if len(r0)+len(r1) != writers*each {
		t.Fatalf("%d + %d messages, want %d", len(r0), len(r1), writers*each)
	}
	rules, _ := s.Rules(ctx, "r0")
	audit, _ := s.Audit(ctx, AuditQuery{Page: Page{Limit: 1000}})
	if len(rules) != 40 || len(audit) != 80 || s.Revision() != 40 {
		t.Fatalf("%d rules, %d audit entries, revision %d", len(rules), len(audit), s.Revision())
	}
	if st := s.Stats(); st.Failed != 0 || st.LastError != "" {
		t.Fatalf("stats %+v", st)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	by := Actor{"alice", "SHA256:alice"}
	addAll(s, Message{Radio: "base", ID: 1, Text: "before restart"})
	s.AddPacket(PacketSummary{Radio: "base", ID: 1, Port: "TEXT_MESSAGE"})
	s.AddTrace(Trace{Radio: "base", Target: 5, Outcome: TraceComplete})
	r, err := s.AddRule(ctx, by, rule("base"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.AddFilter(ctx, by, userFilter("SHA256:alice"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.PutBeacon(ctx, by, beacon("base"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{User: "root", Action: "reboot", Radio: "base"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, Options{})
	msgs, _ := s.Messages(ctx, "base", all)
	pkts, _ := s.Packets(ctx, "base", all)
	traces, _ := s.Traces(ctx, TraceQuery{})
	rules, _ := s.Rules(ctx, "base")
	filters, _ := s.Filters(ctx)
	gotB, _ := s.Beacon(ctx, "base")
	audit, _ := s.Audit(ctx, AuditQuery{})
	if len(msgs) != 1 || len(pkts) != 1 || len(traces) != 1 || len(rules) != 1 || !reflect.DeepEqual(rules[0], r) ||
		len(filters) != 1 || filters[0] != f || gotB != b || len(audit) != 4 {
		t.Fatalf("after restart: %d msgs, %d pkts, %d traces, rules %+v, filters %+v, beacon %+v, %d audit",
			len(msgs), len(pkts), len(traces), rules, filters, gotB, len(audit))
	}
}

// Step 6 rebuilds rules and filters for AUTOINCREMENT: rows saved before
// it keep their ids, and the next ids follow them.
func TestMigrationKeepsRuleAndFilterIDs(t *testing.T) {
	path := dbPath(t)
	db, err := sql.Open("sqlite", dsn(path, true, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, _, err := migrate(ctx, db, migrations[:5], 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO rules (id, radio, owner, owner_name, trigger_text, match_kind, reply, msg_type, source,
	channel, cooldown_ms, sender_cooldown_ms, enabled, dry_run, expires_ms, created_ms, updated_ms)
	VALUES (7, 'base', 'SHA256:op', 'op', 'ping', 'contains', 'pong', 'both', 'both', NULL, 60000, 0, TRUE, FALSE, NULL, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO filters (id, scope, owner, owner_name, radio, mode, kind, value, enabled, created_ms, updated_ms)
	VALUES (3, 'user', 'SHA256:op', 'op', 'base', 'block', 'node', '!a1b2c3d4', TRUE, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openAt(t, path, Options{})
	if r, err := s.Rule(ctx, 7); err != nil || r.Trigger != "ping" {
		t.Fatalf("rule 7 after the upgrade: %+v %v", r, err)
	}
	if f, err := s.Filter(ctx, 3); err != nil || f.Value != "!a1b2c3d4" {
		t.Fatalf("filter 3 after the upgrade: %+v %v", f, err)
	}
	if err := s.DeleteRule(ctx, byOp, 7); err != nil {
		t.Fatal(err)
	}
	if r, err := s.AddRule(ctx, byOp, rule("base")); err != nil || r.ID != 8 {
		t.Fatalf("the next rule: id %d, %v; want 8", r.ID, err)
	}
}

// Telemetry is kept per node as a time series, read back oldest first
// over a time range, and pruned by age and by count like the rest.
func TestTelemetry(t *testing.T) {
	clk := &clock{now: t0}
	s := openTest(t, Options{Now: clk.Now, Telemetry: Retention{MaxRows: 5, MaxAge: 24 * time.Hour}, PruneInterval: time.Hour})
	f := func(v float64) *float64 { return &v }
	for i := range 4 {
		at := t0.Add(time.Duration(i-3) * time.Hour)
		for !s.AddTelemetry(Telemetry{Radio: "base", Node: 7, At: at, BatteryLevel: u32(uint32(90 - i)), Voltage: f(4.1)}) {
		}
	}
	for !s.AddTelemetry(Telemetry{Radio: "base", Node: 7, At: t0, Temperature: f(21.5), RelativeHumidity: f(40), BarometricPressure: f(math.NaN())}) {
	}
	for !s.AddTelemetry(Telemetry{Radio: "base", Node: 8, At: t0, BatteryLevel: u32(50)}) {
	}
	for !s.AddTelemetry(Telemetry{Radio: "base", Node: 7, At: t0.Add(-48 * time.Hour), BatteryLevel: u32(1)}) {
	}
	flush(t, s)
	got, err := s.TelemetryOf(ctx, "base", 7, t0.Add(-2*time.Hour-time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || *got[0].BatteryLevel != 89 || got[3].BatteryLevel != nil || *got[3].Temperature != 21.5 ||
		got[3].BarometricPressure != nil || !got[0].At.Equal(t0.Add(-2*time.Hour)) {
		t.Fatalf("series: %+v", got)
	}
	if last, _ := s.TelemetryOf(ctx, "base", 7, time.Time{}, 2); len(last) != 2 || !last[1].At.Equal(t0) {
		t.Fatalf("the newest two, oldest first: %+v", last)
	}
	res, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The 48-hour-old row goes by age; then base keeps its newest 5 of 6.
	if res.Telemetry != 2 {
		t.Errorf("pruned %d telemetry rows, want 2", res.Telemetry)
	}
	if rest, _ := s.TelemetryOf(ctx, "base", 7, time.Time{}, 0); len(rest) != 4 || !rest[0].At.Equal(t0.Add(-2*time.Hour)) {
		t.Errorf("node 7 keeps %d rows, want its newest 4", len(rest))
	}
}
