package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// The audit log is append-only: there is no method to change or remove an
// entry, and the database refuses UPDATE and DELETE on it. It is also
// exempt from retention; admin actions are few and small.

// AppendAudit writes an entry synchronously and returns its Seq. Use it
// for every admin action (reboot, shutdown, factory reset, configuration
// changes with Before and After, kicking a session); rule, filter and
// beacon changes are audited by the store itself. A zero At is now.
// Before and After, when set, must be valid JSON.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	if strings.TrimSpace(e.Action) == "" {
		return 0, fmt.Errorf("%w: audit entry has no action", ErrInvalid)
	}
	for _, v := range []json.RawMessage{e.Before, e.After} {
		if len(v) > 0 && !json.Valid(v) {
			return 0, fmt.Errorf("%w: audit before/after is not valid JSON", ErrInvalid)
		}
	}
	if e.At.IsZero() {
		e.At = s.opts.Now()
	}
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		seq, err = insertAudit(ctx, tx, e)
		return err
	})
	return seq, err
}

func insertAudit(ctx context.Context, tx *sql.Tx, e AuditEntry) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO audit (time_ms, user_name, fingerprint, radio, action, detail,
	before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		ms(e.At), cleanText(e.User), cleanText(e.Fingerprint), cleanText(e.Radio), cleanText(e.Action),
		cleanText(e.Detail), nullJSON(e.Before), nullJSON(e.After)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("store: audit: %w", err)
	}
	return seq, nil
}

// Audit returns the newest entries matching q, oldest first.
func (s *Store) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var w where
	if q.Radio != "" {
		w.add("radio = ?", q.Radio)
	}
	if q.Radios != nil {
		w.addIn("radio", q.Radios)
	}
	if q.Fingerprint != "" {
		w.add("fingerprint = ?", q.Fingerprint)
	}
	if q.Action != "" {
		w.add("action = ?", q.Action)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, time_ms, user_name, fingerprint, radio, action, detail,
	before_json, after_json FROM audit`+w.page(q.Page), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	return collect(rows, func(r *sql.Rows) (AuditEntry, error) {
		var e AuditEntry
		var at int64
		var before, after sql.NullString
		err := r.Scan(&e.Seq, &at, &e.User, &e.Fingerprint, &e.Radio, &e.Action, &e.Detail, &before, &after)
		e.At = fromMS(at)
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		return e, err
	})
}

func nullJSON(v json.RawMessage) any {
	if len(v) == 0 {
		return nil
	}
	return string(v)
}
