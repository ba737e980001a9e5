package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/responder"
)

// Rules, filters and beacons are written synchronously, each change in one
// transaction with its audit entry, so "done" means durable and audited.
// The store checks that what it saves is valid (the Validate method of
// each type) but not who may change it: roles and ownership are the
// caller's to enforce before calling.

// querier is what *sql.DB and *sql.Tx share for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// changed records a successful configuration change.
func (s *Store) changed() { s.revision.Add(1) }

// auditChange writes the audit entry of a change inside its transaction.
func (s *Store) auditChange(ctx context.Context, tx *sql.Tx, by Actor, radio, action string, before, after any) error {
	e := AuditEntry{At: s.opts.Now(), User: by.Name, Fingerprint: by.Fingerprint, Radio: radio, Action: action}
	var err error
	if e.Before, err = jsonOf(before); err != nil {
		return err
	}
	if e.After, err = jsonOf(after); err != nil {
		return err
	}
	_, err = insertAudit(ctx, tx, e)
	return err
}

func jsonOf(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: audit value: %w", err)
	}
	return b, nil
}

func invalid(err error) error { return fmt.Errorf("%w: %w", ErrInvalid, err) }

func notFound(what string, id any) error { return fmt.Errorf("%w: %s %v", ErrNotFound, what, id) }

// ---- responder rules ----

const ruleColumns = `id, radio, owner, owner_name, trigger_text, match_kind, reply, msg_type, source, channel,
	cooldown_ms, sender_cooldown_ms, enabled, dry_run, expires_ms`

// AddRule validates and saves a new rule (its ID is ignored) and returns
// it with the ID assigned.
func (s *Store) AddRule(ctx context.Context, by Actor, r responder.Rule) (responder.Rule, error) {
	if err := r.Validate(); err != nil {
		return r, invalid(err)
	}
	now := ms(s.opts.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO rules (radio, owner, owner_name, trigger_text, match_kind, reply,
	msg_type, source, channel, cooldown_ms, sender_cooldown_ms, enabled, dry_run, expires_ms, created_ms, updated_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id`,
			r.Radio, r.Owner, r.OwnerName, r.Trigger, r.Match.String(), r.Reply, r.Type.String(), r.Source.String(),
			nullChannel(r.Channel), r.Cooldown.Milliseconds(), r.SenderCooldown.Milliseconds(), r.Enabled, r.DryRun,
			nullTime(r.Expires), now).Scan(&r.ID)
		if err != nil {
			return fmt.Errorf("store: add rule: %w", err)
		}
		return s.auditChange(ctx, tx, by, r.Radio, ActionRuleAdd, nil, r)
	})
	if err != nil {
		return r, err
	}
	s.changed()
	return r, nil
}

// UpdateRule replaces rule r.ID with r. The owner stays the one who made
// the rule (an admin editing it does not take it over).
func (s *Store) UpdateRule(ctx context.Context, by Actor, r responder.Rule) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := ruleByID(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		r.Owner, r.OwnerName = old.Owner, old.OwnerName
		if err := r.Validate(); err != nil {
			return invalid(err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE rules SET radio = $1, trigger_text = $2, match_kind = $3, reply = $4,
	msg_type = $5, source = $6, channel = $7, cooldown_ms = $8, sender_cooldown_ms = $9, enabled = $10,
	dry_run = $11, expires_ms = $12, updated_ms = $13 WHERE id = $14`,
			r.Radio, r.Trigger, r.Match.String(), r.Reply, r.Type.String(), r.Source.String(), nullChannel(r.Channel),
			r.Cooldown.Milliseconds(), r.SenderCooldown.Milliseconds(), r.Enabled, r.DryRun, nullTime(r.Expires),
			ms(s.opts.Now()), r.ID)
		if err != nil {
			return fmt.Errorf("store: update rule: %w", err)
		}
		return s.auditChange(ctx, tx, by, r.Radio, ActionRuleUpdate, old, r)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// SetRuleEnabled turns a rule on or off.
func (s *Store) SetRuleEnabled(ctx context.Context, by Actor, id int64, enabled bool) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := ruleByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rules SET enabled = $1, updated_ms = $2 WHERE id = $3`,
			enabled, ms(s.opts.Now()), id); err != nil {
			return fmt.Errorf("store: enable rule: %w", err)
		}
		nw := old
		nw.Enabled = enabled
		return s.auditChange(ctx, tx, by, old.Radio, pick(enabled, ActionRuleEnable, ActionRuleDisable), old, nw)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// DeleteRule removes a rule.
func (s *Store) DeleteRule(ctx context.Context, by Actor, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := ruleByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: delete rule: %w", err)
		}
		return s.auditChange(ctx, tx, by, old.Radio, ActionRuleDelete, old, nil)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// Rule returns one rule, or an error wrapping ErrNotFound.
func (s *Store) Rule(ctx context.Context, id int64) (responder.Rule, error) {
	if err := s.check(); err != nil {
		return responder.Rule{}, err
	}
	return ruleByID(ctx, s.rdb, id)
}

// Rules returns radio's rules ("" for every radio's), by ID.
func (s *Store) Rules(ctx context.Context, radio string) ([]responder.Rule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	q, args := `SELECT `+ruleColumns+` FROM rules ORDER BY id`, []any(nil)
	if radio != "" {
		q, args = `SELECT `+ruleColumns+` FROM rules WHERE radio = $1 ORDER BY id`, []any{radio}
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rules: %w", err)
	}
	return scanAll(rows, scanRule)
}

func ruleByID(ctx context.Context, q querier, id int64) (responder.Rule, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE id = $1`, id)
	if err != nil {
		return responder.Rule{}, fmt.Errorf("store: rule: %w", err)
	}
	list, err := scanAll(rows, scanRule)
	if err != nil {
		return responder.Rule{}, err
	}
	if len(list) == 0 {
		return responder.Rule{}, notFound("rule", id)
	}
	return list[0], nil
}

func scanRule(rows *sql.Rows) (responder.Rule, error) {
	var r responder.Rule
	var match, typ, src string
	var channel, expires sql.NullInt64
	var cd, scd int64
	if err := rows.Scan(&r.ID, &r.Radio, &r.Owner, &r.OwnerName, &r.Trigger, &match, &r.Reply, &typ, &src,
		&channel, &cd, &scd, &r.Enabled, &r.DryRun, &expires); err != nil {
		return r, err
	}
	r.Cooldown, r.SenderCooldown = time.Duration(cd)*time.Millisecond, time.Duration(scd)*time.Millisecond
	if channel.Valid {
		c := uint32(channel.Int64)
		r.Channel = &c
	}
	if expires.Valid {
		r.Expires = fromMS(expires.Int64)
	}
	var err1, err2, err3 error
	r.Match, err1 = responder.ParseMatchKind(match)
	r.Type, err2 = responder.ParseMsgType(typ)
	r.Source, err3 = responder.ParseSource(src)
	if err := errors.Join(err1, err2, err3); err != nil {
		return r, fmt.Errorf("rule %d: %w", r.ID, err)
	}
	return r, nil
}

// ---- message filters ----

const filterColumns = `id, scope, owner, owner_name, radio, mode, kind, value, enabled`

// AddFilter validates and saves a new filter and returns it with its ID.
func (s *Store) AddFilter(ctx context.Context, by Actor, f filter.Filter) (filter.Filter, error) {
	if err := f.Validate(); err != nil {
		return f, invalid(err)
	}
	now := ms(s.opts.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO filters (scope, owner, owner_name, radio, mode, kind, value, enabled,
	created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
			f.Scope.String(), f.Owner, f.OwnerName, f.Radio, f.Mode.String(), f.Kind.String(), f.Value, f.Enabled, now).Scan(&f.ID)
		if err != nil {
			return fmt.Errorf("store: add filter: %w", err)
		}
		return s.auditChange(ctx, tx, by, f.Radio, ActionFilterAdd, nil, f)
	})
	if err != nil {
		return f, err
	}
	s.changed()
	return f, nil
}

// SetFilterEnabled turns a filter on or off.
func (s *Store) SetFilterEnabled(ctx context.Context, by Actor, id int64, enabled bool) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := filterByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE filters SET enabled = $1, updated_ms = $2 WHERE id = $3`,
			enabled, ms(s.opts.Now()), id); err != nil {
			return fmt.Errorf("store: enable filter: %w", err)
		}
		nw := old
		nw.Enabled = enabled
		return s.auditChange(ctx, tx, by, old.Radio, pick(enabled, ActionFilterEnable, ActionFilterDisable), old, nw)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// DeleteFilter removes a filter.
func (s *Store) DeleteFilter(ctx context.Context, by Actor, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := filterByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM filters WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: delete filter: %w", err)
		}
		return s.auditChange(ctx, tx, by, old.Radio, ActionFilterDelete, old, nil)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// Filter returns one filter, or an error wrapping ErrNotFound.
func (s *Store) Filter(ctx context.Context, id int64) (filter.Filter, error) {
	if err := s.check(); err != nil {
		return filter.Filter{}, err
	}
	return filterByID(ctx, s.rdb, id)
}

// Filters returns every filter, by ID; filter.RadioWide and
// filter.Personal pick the ones a radio or a user's view applies.
func (s *Store) Filters(ctx context.Context) ([]filter.Filter, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+filterColumns+` FROM filters ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: filters: %w", err)
	}
	return scanAll(rows, scanFilter)
}

func filterByID(ctx context.Context, q querier, id int64) (filter.Filter, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+filterColumns+` FROM filters WHERE id = $1`, id)
	if err != nil {
		return filter.Filter{}, fmt.Errorf("store: filter: %w", err)
	}
	list, err := scanAll(rows, scanFilter)
	if err != nil {
		return filter.Filter{}, err
	}
	if len(list) == 0 {
		return filter.Filter{}, notFound("filter", id)
	}
	return list[0], nil
}

func scanFilter(rows *sql.Rows) (filter.Filter, error) {
	var f filter.Filter
	var scope, mode, kind string
	if err := rows.Scan(&f.ID, &scope, &f.Owner, &f.OwnerName, &f.Radio, &mode, &kind, &f.Value, &f.Enabled); err != nil {
		return f, err
	}
	var err1, err2, err3 error
	f.Scope, err1 = filter.ParseScope(scope)
	f.Mode, err2 = filter.ParseMode(mode)
	f.Kind, err3 = filter.ParseKind(kind)
	if err := errors.Join(err1, err2, err3); err != nil {
		return f, fmt.Errorf("filter %d: %w", f.ID, err)
	}
	return f, nil
}

// ---- beacons ----

const beaconColumns = `id, radio, owner, owner_name, template, interval_ms, channel, enabled`

// PutBeacon validates and saves radio b.Radio's beacon, replacing the one
// it had (a radio has at most one), and returns it with its ID. b.Owner
// is saved as given: the caller sets it to whoever is setting the beacon.
func (s *Store) PutBeacon(ctx context.Context, by Actor, b responder.Beacon) (responder.Beacon, error) {
	if err := b.Validate(); err != nil {
		return b, invalid(err)
	}
	now := ms(s.opts.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := beaconByRadio(ctx, tx, b.Radio)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO beacons (radio, owner, owner_name, template, interval_ms, channel,
	enabled, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (radio) DO UPDATE SET owner = excluded.owner, owner_name = excluded.owner_name,
	template = excluded.template, interval_ms = excluded.interval_ms, channel = excluded.channel,
	enabled = excluded.enabled, updated_ms = excluded.updated_ms
RETURNING id`,
			b.Radio, b.Owner, b.OwnerName, b.Template, b.Interval.Milliseconds(), int64(b.Channel), b.Enabled, now).Scan(&b.ID)
		if err != nil {
			return fmt.Errorf("store: put beacon: %w", err)
		}
		var before any
		if old.ID != 0 {
			before = old
		}
		return s.auditChange(ctx, tx, by, b.Radio, ActionBeaconSet, before, b)
	})
	if err != nil {
		return b, err
	}
	s.changed()
	return b, nil
}

// SetBeaconEnabled starts or stops radio's beacon.
func (s *Store) SetBeaconEnabled(ctx context.Context, by Actor, radio string, enabled bool) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := beaconByRadio(ctx, tx, radio)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE beacons SET enabled = $1, updated_ms = $2 WHERE id = $3`,
			enabled, ms(s.opts.Now()), old.ID); err != nil {
			return fmt.Errorf("store: enable beacon: %w", err)
		}
		nw := old
		nw.Enabled = enabled
		return s.auditChange(ctx, tx, by, radio, pick(enabled, ActionBeaconEnable, ActionBeaconDisable), old, nw)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// DeleteBeacon removes radio's beacon.
func (s *Store) DeleteBeacon(ctx context.Context, by Actor, radio string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := beaconByRadio(ctx, tx, radio)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM beacons WHERE id = $1`, old.ID); err != nil {
			return fmt.Errorf("store: delete beacon: %w", err)
		}
		return s.auditChange(ctx, tx, by, radio, ActionBeaconDelete, old, nil)
	})
	if err == nil {
		s.changed()
	}
	return err
}

// Beacon returns radio's beacon, or an error wrapping ErrNotFound.
func (s *Store) Beacon(ctx context.Context, radio string) (responder.Beacon, error) {
	if err := s.check(); err != nil {
		return responder.Beacon{}, err
	}
	return beaconByRadio(ctx, s.rdb, radio)
}

// Beacons returns every radio's beacon, by radio name.
func (s *Store) Beacons(ctx context.Context) ([]responder.Beacon, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+beaconColumns+` FROM beacons ORDER BY radio`)
	if err != nil {
		return nil, fmt.Errorf("store: beacons: %w", err)
	}
	return scanAll(rows, scanBeacon)
}

func beaconByRadio(ctx context.Context, q querier, radio string) (responder.Beacon, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+beaconColumns+` FROM beacons WHERE radio = $1`, radio)
	if err != nil {
		return responder.Beacon{}, fmt.Errorf("store: beacon: %w", err)
	}
	list, err := scanAll(rows, scanBeacon)
	if err != nil {
		return responder.Beacon{}, err
	}
	if len(list) == 0 {
		return responder.Beacon{}, notFound("beacon of radio", radio)
	}
	return list[0], nil
}

func scanBeacon(rows *sql.Rows) (responder.Beacon, error) {
	var b responder.Beacon
	var interval int64
	err := rows.Scan(&b.ID, &b.Radio, &b.Owner, &b.OwnerName, &b.Template, &interval, &b.Channel, &b.Enabled)
	b.Interval = time.Duration(interval) * time.Millisecond
	return b, err
}

// ---- helpers ----

// scanAll reads every row with scan, in query order.
func scanAll[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read: %w", err)
	}
	return out, nil
}

func nullChannel(c *uint32) any {
	if c == nil {
		return nil
	}
	return int64(*c)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

func pick[T any](cond bool, yes, no T) T {
	if cond {
		return yes
	}
	return no
}
