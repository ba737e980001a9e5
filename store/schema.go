package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema, as numbered steps: step i+1 is migrations[i].
// A released step is never edited, only followed by new ones, because
// databases in the field have already applied it. Each step runs in its own
// transaction together with the row recording it.
//
// This DDL is SQLite's ("INTEGER PRIMARY KEY" is its auto-increment rowid;
// the triggers use its syntax). Types are chosen to mean the same in
// PostgreSQL: BIGINT for millisecond times and 32-bit unsigned node
// numbers, BOOLEAN, REAL, TEXT. A PostgreSQL backend would carry its own
// DDL with identity columns, and reuse the queries.
var migrations = []string{
	// 1: history.
	`
CREATE TABLE messages (
	id        INTEGER PRIMARY KEY,
	radio     TEXT    NOT NULL,
	time_ms   BIGINT  NOT NULL,
	packet_id BIGINT  NOT NULL,
	from_node BIGINT  NOT NULL,
	to_node   BIGINT  NOT NULL,
	channel   INTEGER NOT NULL,
	text      TEXT    NOT NULL,
	reply_id  BIGINT  NOT NULL,
	via_mqtt  BOOLEAN NOT NULL,
	hops      INTEGER,
	snr       REAL    NOT NULL,
	rssi      INTEGER NOT NULL,
	outgoing  BOOLEAN NOT NULL,
	sent_by   TEXT    NOT NULL,
	delivery  TEXT    NOT NULL,
	error     TEXT    NOT NULL,
	ack_from  TEXT    NOT NULL
);
CREATE INDEX messages_radio ON messages (radio, id);
CREATE INDEX messages_time ON messages (time_ms);
CREATE INDEX messages_packet ON messages (radio, packet_id);

CREATE TABLE packets (
	id        INTEGER PRIMARY KEY,
	radio     TEXT    NOT NULL,
	time_ms   BIGINT  NOT NULL,
	packet_id BIGINT  NOT NULL,
	from_node BIGINT  NOT NULL,
	to_node   BIGINT  NOT NULL,
	channel   INTEGER NOT NULL,
	port_num  INTEGER NOT NULL,
	port      TEXT    NOT NULL,
	summary   TEXT    NOT NULL,
	snr       REAL    NOT NULL,
	rssi      INTEGER NOT NULL,
	hops      INTEGER,
	via_mqtt  BOOLEAN NOT NULL
);
CREATE INDEX packets_radio ON packets (radio, id);
CREATE INDEX packets_time ON packets (time_ms);

CREATE TABLE traces (
	id          INTEGER PRIMARY KEY,
	radio       TEXT   NOT NULL,
	fingerprint TEXT   NOT NULL,
	target      BIGINT NOT NULL,
	time_ms     BIGINT NOT NULL,
	sweep       TEXT   NOT NULL,
	outcome     TEXT   NOT NULL,
	route       TEXT,
	error       TEXT   NOT NULL
);
CREATE INDEX traces_radio ON traces (radio, id);
CREATE INDEX traces_time ON traces (time_ms);
`,
	// 2: people and configuration.
	`
CREATE TABLE settings (
	fingerprint TEXT   NOT NULL,
	name        TEXT   NOT NULL,
	value       TEXT   NOT NULL,
	updated_ms  BIGINT NOT NULL,
	PRIMARY KEY (fingerprint, name)
);

CREATE TABLE rules (
	id                 INTEGER PRIMARY KEY,
	radio              TEXT    NOT NULL,
	owner              TEXT    NOT NULL,
	owner_name         TEXT    NOT NULL,
	trigger_text       TEXT    NOT NULL,
	match_kind         TEXT    NOT NULL,
	reply              TEXT    NOT NULL,
	msg_type           TEXT    NOT NULL,
	source             TEXT    NOT NULL,
	channel            INTEGER,
	cooldown_ms        BIGINT  NOT NULL,
	sender_cooldown_ms BIGINT  NOT NULL,
	enabled            BOOLEAN NOT NULL,
	dry_run            BOOLEAN NOT NULL,
	expires_ms         BIGINT,
	created_ms         BIGINT  NOT NULL,
	updated_ms         BIGINT  NOT NULL
);
CREATE INDEX rules_radio ON rules (radio);

CREATE TABLE filters (
	id         INTEGER PRIMARY KEY,
	scope      TEXT    NOT NULL,
	owner      TEXT    NOT NULL,
	owner_name TEXT    NOT NULL,
	radio      TEXT    NOT NULL,
	mode       TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	enabled    BOOLEAN NOT NULL,
	created_ms BIGINT  NOT NULL,
	updated_ms BIGINT  NOT NULL
);

CREATE TABLE beacons (
	id          INTEGER PRIMARY KEY,
	radio       TEXT    NOT NULL UNIQUE,
	owner       TEXT    NOT NULL,
	owner_name  TEXT    NOT NULL,
	template    TEXT    NOT NULL,
	interval_ms BIGINT  NOT NULL,
	channel     INTEGER NOT NULL,
	enabled     BOOLEAN NOT NULL,
	created_ms  BIGINT  NOT NULL,
	updated_ms  BIGINT  NOT NULL
);

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	time_ms     BIGINT NOT NULL,
	user_name   TEXT   NOT NULL,
	fingerprint TEXT   NOT NULL,
	radio       TEXT   NOT NULL,
	action      TEXT   NOT NULL,
	detail      TEXT   NOT NULL,
	before_json TEXT,
	after_json  TEXT
);
-- The API has no way to change the audit log; these make sure nothing
-- else does by accident either.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`,
	// 3: per-user settings were never read by anything; drop their table.
	`
DROP TABLE IF EXISTS settings;
`,
	// 4: rules may no longer answer more often than every 30 s (rule
	// cooldown at least 30 s; sender cooldown 0 or at least 30 s, see
	// responder.MinCooldown). Raise the rules saved before that to the
	// minimum, rather than let the engine skip them as invalid, and say so
	// in the audit log.
	`
INSERT INTO audit (time_ms, user_name, fingerprint, radio, action, detail, before_json, after_json)
SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'meshgate', '', radio, 'rule.update',
	'rule ' || id || ': cooldowns raised to the 30s minimum', NULL, NULL
FROM rules WHERE cooldown_ms < 30000 OR (sender_cooldown_ms > 0 AND sender_cooldown_ms < 30000)
ORDER BY id;
UPDATE rules SET cooldown_ms = 30000 WHERE cooldown_ms < 30000;
UPDATE rules SET sender_cooldown_ms = 30000 WHERE sender_cooldown_ms > 0 AND sender_cooldown_ms < 30000;
`,
	// 5: traceroutes say who asked by name, and are looked up by target.
	`
ALTER TABLE traces ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
CREATE INDEX traces_target ON traces (radio, target, id);
`,
	// 6: rule and filter ids are never handed out again. A plain INTEGER
	// PRIMARY KEY gives a deleted row's id to the next one, so a script
	// (or an audit reader) holding "rule 3" could act on, or read about,
	// another rule (meshchaos crash saw rule 1 added and removed a
	// thousand times). AUTOINCREMENT needs the tables rebuilt; the rows
	// keep their ids.
	`
CREATE TABLE rules_v6 (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	radio              TEXT    NOT NULL,
	owner              TEXT    NOT NULL,
	owner_name         TEXT    NOT NULL,
	trigger_text       TEXT    NOT NULL,
	match_kind         TEXT    NOT NULL,
	reply              TEXT    NOT NULL,
	msg_type           TEXT    NOT NULL,
	source             TEXT    NOT NULL,
	channel            INTEGER,
	cooldown_ms        BIGINT  NOT NULL,
	sender_cooldown_ms BIGINT  NOT NULL,
	enabled            BOOLEAN NOT NULL,
	dry_run            BOOLEAN NOT NULL,
	expires_ms         BIGINT,
	created_ms         BIGINT  NOT NULL,
	updated_ms         BIGINT  NOT NULL
);
INSERT INTO rules_v6 (id, radio, owner, owner_name, trigger_text, match_kind, reply, msg_type, source, channel,
	cooldown_ms, sender_cooldown_ms, enabled, dry_run, expires_ms, created_ms, updated_ms)
SELECT id, radio, owner, owner_name, trigger_text, match_kind, reply, msg_type, source, channel,
	cooldown_ms, sender_cooldown_ms, enabled, dry_run, expires_ms, created_ms, updated_ms FROM rules;
DROP TABLE rules;
ALTER TABLE rules_v6 RENAME TO rules;
CREATE INDEX rules_radio ON rules (radio);

CREATE TABLE filters_v6 (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	scope      TEXT    NOT NULL,
	owner      TEXT    NOT NULL,
	owner_name TEXT    NOT NULL,
	radio      TEXT    NOT NULL,
	mode       TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	enabled    BOOLEAN NOT NULL,
	created_ms BIGINT  NOT NULL,
	updated_ms BIGINT  NOT NULL
);
INSERT INTO filters_v6 (id, scope, owner, owner_name, radio, mode, kind, value, enabled, created_ms, updated_ms)
SELECT id, scope, owner, owner_name, radio, mode, kind, value, enabled, created_ms, updated_ms FROM filters;
DROP TABLE filters;
ALTER TABLE filters_v6 RENAME TO filters;
`,
	// 7: telemetry history. Each row is one node's metrics at one time;
	// a packet carries device or environment metrics, so the others are
	// NULL. Read per node over a time range.
	`
CREATE TABLE telemetry (
	id                  INTEGER PRIMARY KEY,
	radio               TEXT    NOT NULL,
	node                BIGINT  NOT NULL,
	time_ms             BIGINT  NOT NULL,
	battery_level       INTEGER,
	voltage             REAL,
	channel_utilization REAL,
	air_util_tx         REAL,
	temperature         REAL,
	relative_humidity   REAL,
	barometric_pressure REAL
);
CREATE INDEX telemetry_node ON telemetry (radio, node, time_ms);
CREATE INDEX telemetry_radio ON telemetry (radio, id);
CREATE INDEX telemetry_time ON telemetry (time_ms);
`,
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings db up to len(steps), refusing a database that is ahead.
// Each step takes the write lock (the writer connection begins IMMEDIATE
// transactions), so two processes opening one database at once apply each
// step once.
func migrate(ctx context.Context, db *sql.DB, steps []string, nowMS int64) (from, to int, err error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_ms BIGINT NOT NULL
)`); err != nil {
		return 0, 0, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	for first := true; ; first = false {
		before, after, err := migrateOne(ctx, db, steps, nowMS)
		if first {
			from = before
		}
		if err != nil || after == before {
			return from, after, err
		}
	}
}

// migrateOne applies the next pending step, if any, and returns the
// database's version before and after.
func migrateOne(ctx context.Context, db *sql.DB, steps []string, nowMS int64) (before, after int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&cur); err != nil {
		return 0, 0, fmt.Errorf("store: read schema version: %w", err)
	}
	v := int(cur.Int64)
	switch {
	case v > len(steps):
		return v, v, fmt.Errorf("%w: database is at version %d, this build knows %d", ErrSchemaTooNew, v, len(steps))
	case v == len(steps):
		return v, v, nil
	}
	if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
		return v, v, fmt.Errorf("store: migration %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)`, v+1, nowMS); err != nil {
		return v, v, fmt.Errorf("store: record migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return v, v, fmt.Errorf("store: commit migration %d: %w", v+1, err)
	}
	return v, v + 1, nil
}
