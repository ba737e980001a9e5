// Package store keeps the gateway's durable state in an embedded SQLite
// database (pure Go, no cgo): the history of every text message and packet
// per radio, traceroute and sweep results, responder rules, message
// filters, beacons and an append-only audit log. A gateway restart, a
// crash or a dropped SSH connection loses none of it.
//
// # Writes
//
// History comes from the radio broker, which must never wait on a disk.
// AddMessage, AddPacket, UpdateDelivery and AddTrace therefore only queue
// the record (a bounded queue, default 8192 items) and return at once; one
// goroutine commits the queue in batches, one transaction per batch, every
// 250 ms or every 512 items, whichever comes first. When the queue is full
// the record is dropped and counted (Stats.Dropped) instead of blocking the
// caller; packet summaries are dropped earlier, once the queue is three
// quarters full, to keep room for text messages and delivery updates,
// which are rarer and matter more.
//
// A crash (kill -9 included) never corrupts the database and never loses
// a committed batch; it loses what was queued but not yet committed. At
// the rates a radio can produce (LoRa airtime caps a mesh at a few dozen
// packets a second, against a writer good for tens of thousands) that is
// the batch being gathered: at most FlushInterval of history. Only when
// the disk stalls and the queue backs up can it be more, bounded by the
// queue's size.
//
// Rules, filters, beacons and the audit log are written
// synchronously: they are rare, and a command that says "rule added" must
// mean it is on disk. Every rule, filter and beacon change writes its audit
// entry (who, before, after) in the same transaction as the change.
//
// # Durability settings
//
// The database runs in WAL mode with synchronous=NORMAL. In WAL mode a
// commit is appended to the write-ahead log before it returns, so a killed
// process (kill -9, a panic, the OOM killer) loses nothing committed; only
// a power cut or kernel crash can lose the last commits, and even then the
// database stays consistent. synchronous=FULL would close that last gap at
// the price of an fsync per commit, which on the SD cards gateways often
// run from costs more than the history is worth. busy_timeout lets a second
// process (sqlite3 on the command line, a backup) hold a lock briefly
// without failing our writes, and foreign keys are enforced.
//
// Within the process all writes go through one connection (SQLite has one
// writer at a time anyway, and queueing in Go is cheaper than lock
// retries); reads use a small pool of read-only connections that WAL lets
// run alongside the writer.
//
// # Portability
//
// The schema is created by numbered migrations applied in order, each in
// its own transaction, and recorded in schema_migrations; a database made
// by a newer build is refused (ErrSchemaTooNew) rather than misread. The
// queries use only plain SQL that PostgreSQL also accepts ($n parameters,
// RETURNING, ON CONFLICT, times as integer milliseconds, booleans as
// BOOLEAN), so a PostgreSQL backend for several gateways can implement the
// same methods with its own DDL. Callers that want to swap backends should
// depend on a small interface of the methods they use, declared on their
// side.
package store
