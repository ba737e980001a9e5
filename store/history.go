package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// where builds a WHERE clause with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; its one "?" becomes the next $n.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

// addIn appends "col IN (...)" with one argument per value; no values
// match nothing.
func (w *where) addIn(col string, values []string) {
	if len(values) == 0 {
		w.conds = append(w.conds, "0")
		return
	}
	ph := make([]string, len(values))
	for i, v := range values {
		w.args = append(w.args, v)
		ph[i] = "$" + strconv.Itoa(len(w.args))
	}
	w.conds = append(w.conds, col+" IN ("+strings.Join(ph, ", ")+")")
}

// page adds the Before cursor and returns the clause with ORDER BY and
// LIMIT: newest first, to be reversed by the caller.
func (w *where) page(p Page) string {
	if p.Before > 0 {
		w.add("id < ?", p.Before)
	}
	w.args = append(w.args, limitOf(p))
	q := ""
	if len(w.conds) > 0 {
		q = " WHERE " + strings.Join(w.conds, " AND ")
	}
	return q + " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(w.args))
}

// Messages returns radio's newest text messages, oldest first (see Page).
// It reads what is committed: a message queued a moment ago may not be
// there yet (Flush waits for it).
func (s *Store) Messages(ctx context.Context, radio string, p Page) ([]Message, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var w where
	w.add("radio = ?", radio)
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, radio, time_ms, packet_id, from_node, to_node, channel, text,
	reply_id, via_mqtt, hops, snr, rssi, outgoing, sent_by, delivery, error, ack_from FROM messages`+w.page(p), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return collect(rows, func(r *sql.Rows) (Message, error) {
		var m Message
		var t, id, from, to, reply int64
		var hops sql.NullInt64
		var snr float64
		var delivery string
		err := r.Scan(&m.Seq, &m.Radio, &t, &id, &from, &to, &m.Channel, &m.Text, &reply, &m.ViaMQTT, &hops,
			&snr, &m.RSSI, &m.Outgoing, &m.SentBy, &delivery, &m.Error, &m.AckFrom)
		m.At, m.ID, m.From, m.To, m.ReplyID = fromMS(t), uint32(id), uint32(from), uint32(to), uint32(reply)
		m.Hops, m.SNR, m.Delivery = u32Of(hops), float32(snr), Delivery(delivery)
		return m, err
	})
}

// Packets returns radio's newest packet summaries, oldest first.
func (s *Store) Packets(ctx context.Context, radio string, p Page) ([]PacketSummary, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var w where
	w.add("radio = ?", radio)
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, radio, time_ms, packet_id, from_node, to_node, channel,
	port_num, port, summary, snr, rssi, hops, via_mqtt FROM packets`+w.page(p), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: packets: %w", err)
	}
	return collect(rows, func(r *sql.Rows) (PacketSummary, error) {
		var ps PacketSummary
		var t, id, from, to int64
		var hops sql.NullInt64
		var snr float64
		err := r.Scan(&ps.Seq, &ps.Radio, &t, &id, &from, &to, &ps.Channel, &ps.PortNum, &ps.Port, &ps.Summary,
			&snr, &ps.RSSI, &hops, &ps.ViaMQTT)
		ps.At, ps.ID, ps.From, ps.To = fromMS(t), uint32(id), uint32(from), uint32(to)
		ps.Hops, ps.SNR = u32Of(hops), float32(snr)
		return ps, err
	})
}

// Traces returns the newest traceroute results matching q, oldest first.
func (s *Store) Traces(ctx context.Context, q TraceQuery) ([]Trace, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var w where
	if q.Radio != "" {
		w.add("radio = ?", q.Radio)
	}
	if q.User != "" {
		w.add("fingerprint = ?", q.User)
	}
	if q.Target != 0 {
		w.add("target = ?", int64(q.Target))
	}
	if q.Sweep != "" {
		w.add("sweep = ?", q.Sweep)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, radio, fingerprint, target, time_ms, sweep, outcome, route, error,
	requested_by FROM traces`+w.page(q.Page), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: traces: %w", err)
	}
	return collect(rows, func(r *sql.Rows) (Trace, error) {
		var t Trace
		var target, at int64
		var outcome string
		var route sql.NullString
		err := r.Scan(&t.Seq, &t.Radio, &t.User, &target, &at, &t.Sweep, &outcome, &route, &t.Error, &t.RequestedBy)
		t.Target, t.At, t.Outcome = uint32(target), fromMS(at), TraceOutcome(outcome)
		if route.Valid {
			t.Route = json.RawMessage(route.String)
		}
		return t, err
	})
}

// collect scans rows, which come newest first, into a slice oldest first.
// TelemetryOf returns one node's metrics on radio from since on, oldest
// first, at most limit rows (the newest of them; 0: 10,000).
func (s *Store) TelemetryOf(ctx context.Context, radio string, node uint32, since time.Time, limit int) ([]Telemetry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 10_000
	}
	// Newest first, limited; collect turns them oldest first.
	rows, err := s.rdb.QueryContext(ctx, `SELECT time_ms, battery_level, voltage, channel_utilization, air_util_tx,
	temperature, relative_humidity, barometric_pressure FROM telemetry
	WHERE radio = $1 AND node = $2 AND time_ms >= $3 ORDER BY time_ms DESC, id DESC LIMIT $4`,
		radio, int64(node), ms(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: telemetry: %w", err)
	}
	return collect(rows, func(r *sql.Rows) (Telemetry, error) {
		t := Telemetry{Radio: radio, Node: node}
		var at int64
		var bat sql.NullInt64
		var v, cu, au, temp, hum, pres sql.NullFloat64
		err := r.Scan(&at, &bat, &v, &cu, &au, &temp, &hum, &pres)
		t.At, t.BatteryLevel = fromMS(at), u32Of(bat)
		t.Voltage, t.ChannelUtilization, t.AirUtilTx = f64Of(v), f64Of(cu), f64Of(au)
		t.Temperature, t.RelativeHumidity, t.BarometricPressure = f64Of(temp), f64Of(hum), f64Of(pres)
		return t, err
	})
}

func f64Of(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return &v.Float64
}

func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	out, err := scanAll(rows, scan)
	slices.Reverse(out)
	return out, err
}

func u32Of(v sql.NullInt64) *uint32 {
	if !v.Valid {
		return nil
	}
	u := uint32(v.Int64)
	return &u
}

// pruneChunk bounds one DELETE, so retention never holds the write lock
// for long and the history writer gets its turn between chunks.
const pruneChunk = 5000

// Prune applies the retention limits now. It runs by itself every
// PruneInterval; calling it is only needed to force a pass.
func (s *Store) Prune(ctx context.Context) (PruneResult, error) {
	if err := s.check(); err != nil {
		return PruneResult{}, err
	}
	var res PruneResult
	now := s.opts.Now()
	var err error
	if res.Messages, err = s.pruneTable(ctx, "messages", s.opts.Messages, now); err != nil {
		return res, err
	}
	if res.Packets, err = s.pruneTable(ctx, "packets", s.opts.Packets, now); err != nil {
		return res, err
	}
	if res.Traces, err = s.pruneTable(ctx, "traces", s.opts.Traces, now); err != nil {
		return res, err
	}
	if res.Telemetry, err = s.pruneTable(ctx, "telemetry", s.opts.Telemetry, now); err != nil {
		return res, err
	}
	s.w.pruned.Add(uint64(res.Messages + res.Packets + res.Traces + res.Telemetry))
	return res, nil
}

// pruneTable deletes table's rows older than the age limit, then each
// radio's rows beyond the count limit. Both go by index (time_ms; radio,
// id), so a pass with nothing to do costs a few index probes per radio.
func (s *Store) pruneTable(ctx context.Context, table string, r Retention, now time.Time) (int64, error) {
	var total int64
	if r.MaxAge > 0 {
		cutoff := ms(now.Add(-r.MaxAge))
		n, err := s.deleteChunks(ctx, `DELETE FROM `+table+` WHERE id IN
	(SELECT id FROM `+table+` WHERE time_ms < $2 ORDER BY id LIMIT $1)`, cutoff)
		total += n
		if err != nil {
			return total, err
		}
	}
	if r.MaxRows <= 0 {
		return total, nil
	}
	radios, err := s.radiosIn(ctx, table)
	if err != nil {
		return total, err
	}
	for _, radio := range radios {
		// The id of the newest row past the limit; it and everything
		// older on this radio go.
		var edge int64
		err := s.rdb.QueryRowContext(ctx, `SELECT id FROM `+table+` WHERE radio = $1 ORDER BY id DESC LIMIT 1 OFFSET $2`,
			radio, r.MaxRows).Scan(&edge)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return total, fmt.Errorf("store: prune %s: %w", table, err)
		}
		n, err := s.deleteChunks(ctx, `DELETE FROM `+table+` WHERE id IN
	(SELECT id FROM `+table+` WHERE radio = $2 AND id <= $3 ORDER BY id LIMIT $1)`, radio, edge)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// deleteChunks runs a DELETE whose $1 is the chunk size until it removes
// less than a chunk; args fill $2 on.
func (s *Store) deleteChunks(ctx context.Context, query string, args ...any) (int64, error) {
	var total int64
	full := append([]any{pruneChunk}, args...)
	for {
		res, err := s.wdb.ExecContext(ctx, query, full...)
		if err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < pruneChunk || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// radiosIn lists the radios with rows in table. It skips from one radio
// to the next through the (radio, id) index instead of reading every row
// (the "loose index scan" that PostgreSQL needs spelled out the same way).
func (s *Store) radiosIn(ctx context.Context, table string) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `WITH RECURSIVE r (radio) AS (
	SELECT MIN(radio) FROM `+table+`
	UNION ALL
	SELECT (SELECT MIN(radio) FROM `+table+` WHERE radio > r.radio) FROM r WHERE r.radio IS NOT NULL
)
SELECT radio FROM r WHERE radio IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("store: list radios: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("store: list radios: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// pruneLoop runs retention until ctx ends: a minute after Open (so a
// gateway that restarts often still prunes, without slowing its start),
// then every PruneInterval.
func (s *Store) pruneLoop(ctx context.Context) {
	defer close(s.pruneDone)
	t := time.NewTimer(min(s.opts.PruneInterval, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := s.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed):
			s.w.setErr(err)
			s.log.Warn("store: retention failed", "err", err)
		case res.Messages+res.Packets+res.Traces > 0:
			s.log.Info("store: retention pruned history", "messages", res.Messages, "packets", res.Packets, "traces", res.Traces)
		}
		t.Reset(s.opts.PruneInterval)
	}
}
