package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Per-user settings are JSON values keyed by (key fingerprint, name), so
// they follow a person from one login to the next whatever they change,
// without a schema change for each new preference.

// Well-known setting names.
const (
	SettingLastRadio = "last_radio" // string: the radio the user last picked
	SettingFilters   = "filters"    // the user's view filters
	SettingUI        = "ui"         // UI preferences (tab, columns, ...)
)

// MaxSettingBytes bounds one setting's JSON.
const MaxSettingBytes = 64 << 10

// PutSetting stores value (encoded as JSON) as the user's setting name.
func (s *Store) PutSetting(ctx context.Context, fingerprint, name string, value any) error {
	if strings.TrimSpace(fingerprint) == "" || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: a setting needs a fingerprint and a name", ErrInvalid)
	}
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("%w: setting %q: %w", ErrInvalid, name, err)
	}
	if len(b) > MaxSettingBytes {
		return fmt.Errorf("%w: setting %q is %d bytes, more than %d", ErrInvalid, name, len(b), MaxSettingBytes)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (fingerprint, name, value, updated_ms) VALUES ($1, $2, $3, $4)
ON CONFLICT (fingerprint, name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
			fingerprint, name, string(b), ms(s.opts.Now()))
		if err != nil {
			return fmt.Errorf("store: put setting: %w", err)
		}
		return nil
	})
}

// GetSetting decodes the user's setting name into dst. found is false
// (and dst untouched) when the user has no such setting.
func (s *Store) GetSetting(ctx context.Context, fingerprint, name string, dst any) (found bool, err error) {
	if err := s.check(); err != nil {
		return false, err
	}
	var v string
	err = s.rdb.QueryRowContext(ctx, `SELECT value FROM settings WHERE fingerprint = $1 AND name = $2`,
		fingerprint, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: setting: %w", err)
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		return true, fmt.Errorf("store: setting %q: %w", name, err)
	}
	return true, nil
}

// Settings returns all of a user's settings as raw JSON, by name.
func (s *Store) Settings(ctx context.Context, fingerprint string) (map[string]json.RawMessage, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT name, value FROM settings WHERE fingerprint = $1`, fingerprint)
	if err != nil {
		return nil, fmt.Errorf("store: settings: %w", err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var name, v string
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("store: settings: %w", err)
		}
		out[name] = json.RawMessage(v)
	}
	return out, rows.Err()
}

// DeleteSetting removes a user's setting; removing a missing one is not
// an error.
func (s *Store) DeleteSetting(ctx context.Context, fingerprint, name string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE fingerprint = $1 AND name = $2`, fingerprint, name); err != nil {
			return fmt.Errorf("store: delete setting: %w", err)
		}
		return nil
	})
}
