package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Sentinel errors.
var (
	ErrClosed       = errors.New("store: closed")
	ErrNotFound     = errors.New("store: not found")
	ErrSchemaTooNew = errors.New("store: database schema is newer than this build")
	ErrInvalid      = errors.New("store: invalid")
)

// Options tune a Store. Zero fields take the defaults documented on each.
type Options struct {
	// QueueSize bounds the history records waiting to be written. Default
	// 8192: at the ~10 packets/s of a busy mesh that is many minutes of a
	// stalled disk before anything drops.
	QueueSize int
	// BatchSize commits a batch once this many records are waiting.
	// Default 512.
	BatchSize int
	// FlushInterval commits a batch this long after its first record, so
	// history is on disk within this delay however quiet the radio.
	// Default 250 ms: the most a crash can lose.
	FlushInterval time.Duration
	// BusyTimeout is how long a write waits for another process's lock.
	// Default 5 s.
	BusyTimeout time.Duration
	// Retention per radio. Defaults: messages 100,000 rows and 365 days
	// (text is small and worth keeping); packet summaries 200,000 rows
	// and 7 days (a busy mesh makes ~1 million a day); traceroutes 10,000
	// rows and 90 days.
	Messages, Packets, Traces Retention
	// Telemetry per radio: default 200,000 rows and 30 days. A node
	// reports device metrics every 30 minutes by default and the
	// recorder keeps at most one row a minute per node and kind, so 30
	// days of a few hundred nodes fit.
	Telemetry Retention
	// PruneInterval is how often retention runs: first a minute after
	// Open (or after PruneInterval, if shorter), then every interval.
	// Default 10 minutes. It deletes in chunks of 5000 rows, so it never
	// holds the write lock long.
	PruneInterval time.Duration
	Logger        *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

func (o *Options) fill() {
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defRet := func(r *Retention, rows int, age time.Duration) {
		if r.MaxRows == 0 {
			r.MaxRows = rows
		}
		if r.MaxAge == 0 {
			r.MaxAge = age
		}
	}
	defInt(&o.QueueSize, 8192)
	defInt(&o.BatchSize, 512)
	defDur(&o.FlushInterval, 250*time.Millisecond)
	defDur(&o.BusyTimeout, 5*time.Second)
	defDur(&o.PruneInterval, 10*time.Minute)
	defRet(&o.Messages, 100_000, 365*24*time.Hour)
	defRet(&o.Packets, 200_000, 7*24*time.Hour)
	defRet(&o.Traces, 10_000, 90*24*time.Hour)
	defRet(&o.Telemetry, 200_000, 30*24*time.Hour)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	opts   Options
	log    *slog.Logger
	wdb    *sql.DB // the single writer connection
	rdb    *sql.DB // read-only connections
	w      *writer
	closed atomic.Bool

	// revision counts rule, filter and beacon changes, see Revision.
	revision atomic.Uint64

	cancel    context.CancelFunc
	pruneDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The file is created readable by its owner only: it
// holds everyone's messages. The directory must exist.
func Open(path string, opts Options) (*Store, error) {
	opts.fill()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f.Close()

	s := &Store{opts: opts, log: opts.Logger}
	s.wdb, err = sql.Open("sqlite", dsn(path, true, opts.BusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// One connection: SQLite has one writer at a time, and waiting in Go
	// is cheaper and fairer than retrying on SQLITE_BUSY. No idle expiry:
	// closing the last connection checkpoints the WAL, which should only
	// happen at Close.
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxIdleTime(0)
	s.wdb.SetConnMaxLifetime(0)

	ctx := context.Background()
	if err := s.checkWAL(ctx); err != nil {
		s.wdb.Close()
		return nil, err
	}
	from, to, err := migrate(ctx, s.wdb, migrations, opts.Now().UnixMilli())
	if err != nil {
		s.wdb.Close()
		return nil, err
	}
	if from != to {
		s.log.Info("database schema migrated", "path", path, "from", from, "to", to)
	}

	s.rdb, err = sql.Open("sqlite", dsn(path, false, opts.BusyTimeout))
	if err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.rdb.SetMaxOpenConns(4)
	s.rdb.SetMaxIdleConns(4)

	s.w = newWriter(s.wdb, opts, s.log)
	var pctx context.Context
	pctx, s.cancel = context.WithCancel(context.Background())
	s.pruneDone = make(chan struct{})
	go s.pruneLoop(pctx)
	return s, nil
}

// dsn builds the connection string. Pragmas go in the DSN so that every
// connection the pool opens gets them, not just the first.
func dsn(path string, writer bool, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		// Take the write lock when a transaction begins, not at its first
		// write: a transaction that upgrades from read to write can fail
		// with SQLITE_BUSY without waiting when another process wrote
		// in between.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	// In a file: URI, % ? and # are syntax; escape them in the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

// checkWAL makes sure the database really is in WAL mode: the durability
// promises above depend on it, and some filesystems (network mounts)
// cannot provide it.
func (s *Store) checkWAL(ctx context.Context) error {
	var mode string
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: database is in %q journal mode, WAL is required (is it on a network filesystem?)", mode)
	}
	return nil
}

// Close writes what the history queue holds, stops the background work
// and closes the database. History offered after Close is dropped; other
// calls return ErrClosed. Close may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.w.close()
		s.cancel()
		<-s.pruneDone
		// Fold the WAL back into the database so the file stands alone at
		// rest (a copy of just the .db file is then complete).
		if _, err := s.wdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			s.log.Warn("store: checkpoint at close", "err", err)
		}
		s.closeErr = errors.Join(s.rdb.Close(), s.wdb.Close())
	})
	return s.closeErr
}

// Stats describes the history writer and retention.
func (s *Store) Stats() Stats { return s.w.stats() }

// Flush waits until every history record queued before the call is
// committed (or ctx ends). Unlike the Add methods it blocks; it is meant
// for shutdown paths and tests, not for the broker's hot path.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.w.flush(ctx)
}

// Revision increases with every rule, filter and beacon change made
// through this Store. The broker compares it with the value it loaded at,
// an atomic read per packet, and reloads only when it moved. (A shared
// PostgreSQL backend would carry it in a table and use LISTEN/NOTIFY.)
func (s *Store) Revision() uint64 { return s.revision.Load() }

// IntegrityCheck runs SQLite's full consistency check and returns its
// verdict: "ok" for a sound database.
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	rows, err := s.rdb.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return "", fmt.Errorf("store: integrity check: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", fmt.Errorf("store: integrity check: %w", err)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

func (s *Store) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// inTx runs fn in a write transaction.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := s.check(); err != nil {
		return err
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the error that matters is fn's
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Times are stored as integer milliseconds since the epoch: exact, cheap
// to compare and index, and the same in every SQL dialect.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v) }

// limitOf applies Page's defaults.
func limitOf(p Page) int {
	switch {
	case p.Limit <= 0:
		return 100
	case p.Limit > 10000:
		return 10000
	}
	return p.Limit
}

// cleanText makes a string storable in any SQL text column: valid UTF-8
// and no NUL bytes (PostgreSQL rejects both; SQLite would keep them and
// hand them back to terminals).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}
