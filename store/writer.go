package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The history writer: a bounded queue in front of one goroutine that
// commits what it holds in batches, one transaction each. A transaction
// per record would cost a WAL append and lock round trip each; batching
// turns a busy radio's hundreds of records into a few commits a second.

// op is one queued history record; exactly one field is set.
type op struct {
	msg   *Message
	pkt   *PacketSummary
	dlv   *deliveryUpdate
	trace *Trace
	tel   *Telemetry
	flush chan struct{} // closed once everything before it is committed
}

type deliveryUpdate struct {
	radio    string
	packetID uint32
	state    Delivery
	errText  string
	ackFrom  string
}

type writer struct {
	db   *sql.DB
	opts Options
	log  *slog.Logger

	// mu orders enqueues against close: enqueue holds it shared, close
	// exclusively, so once closed is set nothing more enters q and the
	// goroutine can drain it to the end. q is never closed (a send on a
	// closed channel panics).
	mu     sync.RWMutex
	closed bool
	q      chan op
	stop   chan struct{}
	done   chan struct{}

	written, dropped, failed, batches, pruned atomic.Uint64
	gathered                                  atomic.Int64 // records in the batch being gathered
	lastErr                                   atomic.Pointer[string]
}

func newWriter(db *sql.DB, opts Options, log *slog.Logger) *writer {
	w := &writer{
		db: db, opts: opts, log: log,
		q:    make(chan op, opts.QueueSize),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.run()
	return w
}

// AddMessage queues a text message for the history. It never blocks: it
// returns false, and counts the record in Stats.Dropped, when the queue is
// full or the store is closed. A zero At is taken as now.
func (s *Store) AddMessage(m Message) bool {
	if m.At.IsZero() {
		m.At = s.opts.Now()
	}
	if m.Delivery == "" {
		m.Delivery = DeliveryReceived
	}
	return s.w.enqueue(op{msg: &m}, false)
}

// AddPacket queues a packet summary for the history. It never blocks;
// summaries are dropped (and counted) once the queue is three quarters
// full, keeping the rest for messages and delivery updates.
func (s *Store) AddPacket(p PacketSummary) bool {
	if p.At.IsZero() {
		p.At = s.opts.Now()
	}
	return s.w.enqueue(op{pkt: &p}, true)
}

// UpdateDelivery queues a change to the delivery state of the latest
// outgoing message with packetID on radio (an ack, a failure). Queued
// behind the message itself, it always applies after it. It never blocks.
func (s *Store) UpdateDelivery(radio string, packetID uint32, state Delivery, errText, ackFrom string) bool {
	return s.w.enqueue(op{dlv: &deliveryUpdate{radio, packetID, state, errText, ackFrom}}, false)
}

// AddTelemetry queues a node's metrics. It never blocks; like packet
// summaries, telemetry is dropped (and counted) once the queue is three
// quarters full. A zero At is now.
func (s *Store) AddTelemetry(t Telemetry) bool {
	if t.At.IsZero() {
		t.At = s.opts.Now()
	}
	return s.w.enqueue(op{tel: &t}, true)
}

// AddTrace queues a traceroute result. It never blocks. A zero At is now.
func (s *Store) AddTrace(t Trace) bool {
	if t.At.IsZero() {
		t.At = s.opts.Now()
	}
	return s.w.enqueue(op{trace: &t}, false)
}

func (w *writer) enqueue(o op, low bool) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed || low && len(w.q) >= cap(w.q)-cap(w.q)/4 {
		w.dropped.Add(1)
		return false
	}
	select {
	case w.q <- o:
		return true
	default:
		w.dropped.Add(1)
		return false
	}
}

func (w *writer) flush(ctx context.Context) error {
	o := op{flush: make(chan struct{})}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	// A flush may wait for room: its caller asked to wait.
	select {
	case w.q <- o:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case <-o.flush:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops new records, then waits for the goroutine to commit the
// queue's contents and exit.
func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
}

func (w *writer) stats() Stats {
	s := Stats{
		Queued: len(w.q) + int(w.gathered.Load()), Written: w.written.Load(), Dropped: w.dropped.Load(),
		Failed: w.failed.Load(), Batches: w.batches.Load(), Pruned: w.pruned.Load(),
	}
	if e := w.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

func (w *writer) setErr(err error) {
	msg := err.Error()
	w.lastErr.Store(&msg)
}

// run gathers records into a batch and commits it when it is full, when
// FlushInterval has passed since its first record, when a flush asks, or
// when the store closes.
func (w *writer) run() {
	defer close(w.done)
	batch := make([]op, 0, w.opts.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var timerC <-chan time.Time // nil while the batch is empty

	add := func(o op) {
		batch = append(batch, o)
		w.gathered.Store(int64(len(batch)))
		if len(batch) == 1 {
			timer.Reset(w.opts.FlushInterval)
			timerC = timer.C
		}
		if len(batch) >= w.opts.BatchSize || o.flush != nil {
			batch = w.commit(batch)
			timer.Stop()
			timerC = nil
		}
	}
	for {
		select {
		case o := <-w.q:
			add(o)
		case <-timerC:
			batch = w.commit(batch)
			timerC = nil
		case <-w.stop:
			// Nothing enters the queue any more (closed is set): drain it.
			for len(w.q) > 0 {
				add(<-w.q)
			}
			w.commit(batch)
			return
		}
	}
}

// commit writes a batch in one transaction and releases its flush
// waiters. A record that fails on its own (SQLite keeps the transaction
// going) is counted as failed; if the transaction itself fails, the whole
// batch is. Nothing is retried: the queue behind it must keep moving.
// It returns the emptied batch slice for reuse.
func (w *writer) commit(batch []op) []op {
	if len(batch) == 0 {
		return batch
	}
	defer func() {
		w.gathered.Store(0)
		for _, o := range batch {
			if o.flush != nil {
				close(o.flush)
			}
		}
	}()
	records := 0
	for _, o := range batch {
		if o.flush == nil {
			records++
		}
	}
	if records == 0 {
		return batch[:0]
	}

	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		w.fail(records, fmt.Errorf("store: history batch: %w", err))
		return batch[:0]
	}
	st := batchStmts{tx: tx}
	ok := 0
	for _, o := range batch {
		var err error
		switch {
		case o.msg != nil:
			err = st.message(ctx, o.msg)
		case o.pkt != nil:
			err = st.packet(ctx, o.pkt)
		case o.dlv != nil:
			err = st.delivery(ctx, o.dlv)
		case o.trace != nil:
			err = st.trace(ctx, o.trace)
		case o.tel != nil:
			err = st.telemetry(ctx, o.tel)
		default:
			continue
		}
		if err != nil {
			w.fail(1, fmt.Errorf("store: history record: %w", err))
			continue
		}
		ok++
	}
	st.close()
	if err := tx.Commit(); err != nil {
		tx.Rollback() //nolint:errcheck // reporting the commit error
		w.fail(ok, fmt.Errorf("store: history commit: %w", err))
		return batch[:0]
	}
	w.written.Add(uint64(ok))
	w.batches.Add(1)
	return batch[:0]
}

func (w *writer) fail(n int, err error) {
	w.failed.Add(uint64(n))
	w.setErr(err)
	w.log.Warn("store: history write failed", "records", n, "err", err)
}

// batchStmts prepares each statement once per batch, on first use.
type batchStmts struct {
	tx                                  *sql.Tx
	msgSt, pktSt, dlvSt, traceSt, telSt *sql.Stmt
}

func (b *batchStmts) prepared(ctx context.Context, slot **sql.Stmt, query string) (*sql.Stmt, error) {
	if *slot == nil {
		st, err := b.tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		*slot = st
	}
	return *slot, nil
}

func (b *batchStmts) close() {
	for _, st := range []*sql.Stmt{b.msgSt, b.pktSt, b.dlvSt, b.traceSt, b.telSt} {
		if st != nil {
			st.Close()
		}
	}
}

const insertMessage = `INSERT INTO messages (radio, time_ms, packet_id, from_node, to_node, channel, text,
	reply_id, via_mqtt, hops, snr, rssi, outgoing, sent_by, delivery, error, ack_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

func (b *batchStmts) message(ctx context.Context, m *Message) error {
	st, err := b.prepared(ctx, &b.msgSt, insertMessage)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, cleanText(m.Radio), ms(m.At), int64(m.ID), int64(m.From), int64(m.To),
		int64(m.Channel), cleanText(m.Text), int64(m.ReplyID), m.ViaMQTT, nullU32(m.Hops),
		float64(m.SNR), int64(m.RSSI), m.Outgoing, cleanText(m.SentBy), string(m.Delivery),
		cleanText(m.Error), cleanText(m.AckFrom))
	return err
}

const insertPacket = `INSERT INTO packets (radio, time_ms, packet_id, from_node, to_node, channel,
	port_num, port, summary, snr, rssi, hops, via_mqtt)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

func (b *batchStmts) packet(ctx context.Context, p *PacketSummary) error {
	st, err := b.prepared(ctx, &b.pktSt, insertPacket)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, cleanText(p.Radio), ms(p.At), int64(p.ID), int64(p.From), int64(p.To),
		int64(p.Channel), int64(p.PortNum), cleanText(p.Port), cleanText(p.Summary), float64(p.SNR),
		int64(p.RSSI), nullU32(p.Hops), p.ViaMQTT)
	return err
}

// The latest outgoing message with the id: packet ids are random 32-bit
// numbers, so an old message may share one.
const updateDelivery = `UPDATE messages SET delivery = $1, error = $2, ack_from = $3
WHERE id = (SELECT MAX(id) FROM messages WHERE radio = $4 AND packet_id = $5 AND outgoing = TRUE)`

func (b *batchStmts) delivery(ctx context.Context, d *deliveryUpdate) error {
	st, err := b.prepared(ctx, &b.dlvSt, updateDelivery)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, string(d.state), cleanText(d.errText), cleanText(d.ackFrom), d.radio, int64(d.packetID))
	return err
}

const insertTrace = `INSERT INTO traces (radio, fingerprint, target, time_ms, sweep, outcome, route, error, requested_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func (b *batchStmts) trace(ctx context.Context, t *Trace) error {
	st, err := b.prepared(ctx, &b.traceSt, insertTrace)
	if err != nil {
		return err
	}
	var route any
	if len(t.Route) > 0 {
		route = string(t.Route)
	}
	_, err = st.ExecContext(ctx, cleanText(t.Radio), cleanText(t.User), int64(t.Target), ms(t.At),
		cleanText(t.Sweep), string(t.Outcome), route, cleanText(t.Error), cleanText(t.RequestedBy))
	return err
}

const insertTelemetry = `INSERT INTO telemetry (radio, node, time_ms, battery_level, voltage, channel_utilization,
	air_util_tx, temperature, relative_humidity, barometric_pressure)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

func (b *batchStmts) telemetry(ctx context.Context, t *Telemetry) error {
	st, err := b.prepared(ctx, &b.telSt, insertTelemetry)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, cleanText(t.Radio), int64(t.Node), ms(t.At), nullU32(t.BatteryLevel), nullF64(t.Voltage),
		nullF64(t.ChannelUtilization), nullF64(t.AirUtilTx), nullF64(t.Temperature), nullF64(t.RelativeHumidity),
		nullF64(t.BarometricPressure))
	return err
}

// nullF64 stores a metric, or NULL; NaN and infinities, which no sensor
// means, are NULL too.
func nullF64(p *float64) any {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	return *p
}

func nullU32(p *uint32) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}
