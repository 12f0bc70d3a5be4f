package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/vigil-sh/vigil/server/store/sqlitestore/walbatch"
)

// The schema. expires_at is unix milliseconds (so a 1s TTL is not rounded
// to a whole second); ttl_ns is the TTL as given, so Get returns the original
// TTL. A rowid table, not WITHOUT ROWID, because rows hold blobs of up to
// megabytes; the small columns come first, so reading them never reads a
// large row's overflow pages.
//
// There is no index on (kind, id). The ids are random, and such an index
// had every create and every one-time read dirty a random leaf of it: about
// 4 KiB more WAL, and a page more for the maintainer to copy, per
// operation. Each process finds rows through an in-memory map instead
// (idIndex), which it loads at Open and keeps up to date. rid is
// AUTOINCREMENT so that a rowid is never reused: a process learns what
// others added by reading the rows above the highest rowid it has seen.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS secrets_v2 (
		rid        INTEGER PRIMARY KEY AUTOINCREMENT,
		kind       INTEGER NOT NULL,
		id         TEXT    NOT NULL,
		expires_at INTEGER NOT NULL,
		one_time   INTEGER NOT NULL,
		ttl_ns     INTEGER NOT NULL,
		data       BLOB    NOT NULL
	)`,
	// The sweep's index, which also covers the id map's load at Open: with
	// kind and id in it, the load reads this index (about 40 bytes a
	// secret) instead of every page of the table.
	`DROP INDEX IF EXISTS secrets_v2_expires_at`, // expires_at alone, for a few builds
	`CREATE INDEX IF NOT EXISTS secrets_v2_expiry ON secrets_v2 (expires_at, kind, id)`,
}

// The table of files made before the id index moved into memory, with its
// (kind, id) primary key. initSchema moves its live rows into secrets_v2.
const (
	sqlV1Exists  = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'secrets'`
	sqlV1Migrate = `INSERT INTO secrets_v2 (kind, id, expires_at, one_time, ttl_ns, data)
		SELECT kind, id, expires_at, one_time, ttl_ns, data FROM secrets WHERE expires_at > ?1 ORDER BY rowid`
	sqlV1Drop = `DROP TABLE secrets`
)

// walAutoCheckpoint is the WAL size, in pages, past which the writer
// checkpoints (PASSIVE) after its commit; SQLite's default is 1000 pages. It
// is a backstop: the maintainer hands the writer a checkpoint at
// walRestartFrames (below), and this bounds the WAL at about 64 MiB if that
// does not happen (without any writer checkpoint the WAL grew to 10-170 MB
// in seconds).
//
// A checkpoint in the writer is on the path of every write: no batch runs
// meanwhile. With 4 KiB pages: at 4000 pages, with nothing prepared, the
// store benchmarks (random ids, 2 cores, BenchmarkCreateParallel and
// BenchmarkClaimOneTimeParallel, interleaved rounds) ran creates at a
// median 27.2k/s and one-time reads at 22.6k/s, against 34.3k/s and 27.4k/s
// at 16000. At 16000, under the server benchmark, the auto-checkpoints that
// did run took 30-80 ms each (see maintainer.afterCommits for why, and for
// what replaced them).
//
// Both limits were tuned in bytes with 4 KiB pages and are kept in bytes:
// a file made before pageSize was 8 KiB (it keeps 4 KiB pages) gets half
// the WAL, which only makes its checkpoints come more often.
const walAutoCheckpoint = 64 << 20 / pageSize

// walRestartFrames is the WAL length, in pages, past which the maintainer
// has the writer checkpoint before its next batch so that the WAL starts
// over (see maintainer.afterCommits): 16 MiB. The maintainer checks after
// each background copy, so under the server benchmark (4 KiB pages, about
// 30k frames a second) the WAL started over at 6000-12000 pages, and each
// of the writer's checkpoints took 2-22 ms, where its auto-checkpoints had
// taken 30-80 ms.
const walRestartFrames = 16 << 20 / pageSize

// pageSize is the page size of a new file: 8 KiB, twice SQLite's default.
// A leaf then holds seven ~1.1 KiB secrets instead of three, so the
// deletes of one-time reads leave a leaf under a third full (which makes
// SQLite rebalance it with its neighbours, reading and rewriting them) far
// less often. Against 4 KiB, in interleaved runs of bench/ab.py on the
// server: one-time GETs 1.08 and 1.11 times as fast (8 and 6 rounds;
// server CPU per GET 55.1 against 60.8 us), and 1.08 with the GETs in
// random order; creates 0.97, 1.00 and 1.01. Smaller pages were slower
// (1 and 2 KiB), and so were 16 KiB; with the (kind, id) index this
// table had before (see schema), 8 KiB made creates slower, since each
// random leaf of it that a create dirtied was twice the size.
const pageSize = 8192

// writerCacheKiB is the writer's page cache (SQLite's default is 2000 KiB).
// It was sized for the (kind, id) index the table had before (see schema):
// every create and every read touched a random leaf of it, a few MiB for a
// few hundred thousand secrets, and with the default cache those leaves
// were read back from the file (under the server benchmark, 2-3 KB more
// read per one-time GET). It now holds the table's interior pages and its
// recent leaves; it has not been measured again since. SQLite allocates it
// as pages are used. The file is not memory-mapped: that saved no measurable CPU here,
// and an I/O error on a mapped page is a SIGBUS, not an error code.
const writerCacheKiB = 16 << 10

// Connection roles: each gets its own pragmas.
const (
	roleWriter       = iota // the one connection that writes
	roleReader              // the pool for Status, Ping and the reads Get makes there
	roleCheckpointer        // the maintainer's, which only checkpoints
)

// dsn builds the connection string. The pragmas go in the DSN so that every
// connection the pool ever opens gets them. The driver (modernc.org/sqlite
// v1.62) runs busy_timeout first and the other _pragma values in
// alphabetical order, not in the order given, so none of these may depend
// on another running first. Those that must run in order (page_size, then
// journal_mode) are in initSchema.
func dsn(o Options, role int) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	// On every connection: a checkpoint syncs as its connection's setting
	// says.
	q.Add("_pragma", "synchronous("+o.Synchronous+")")
	// Zero deleted content so claimed ciphertext does not linger in free
	// pages of the file.
	q.Add("_pragma", "secure_delete(ON)")
	switch role {
	case roleWriter:
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutoCheckpoint))
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", writerCacheKiB))
		// BEGIN IMMEDIATE takes the write lock up front, so two processes
		// wait for each other under busy_timeout instead of one failing
		// with SQLITE_BUSY_SNAPSHOT when it upgrades a read transaction.
		q.Set("_txlock", "immediate")
		q.Set("vfs", walbatch.Name)
	case roleReader:
		q.Add("_pragma", "query_only(ON)")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: o.Path, RawQuery: q.Encode()}
	return u.String()
}

// openWriterDB opens the one writer connection of this process, switches
// the file to WAL and creates the schema.
func openWriterDB(o Options) (*sql.DB, error) {
	if err := walbatch.Register(); err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	db, err := sql.Open("sqlite", dsn(o, roleWriter))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	moved, err := initSchema(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	if moved >= 0 {
		o.Logger.Info("moved the live secrets of the old table into the new one", "path", o.Path, "secrets", moved)
	}
	return db, nil
}

// openCheckpointDB opens the maintainer's one connection for checkpoints.
func openCheckpointDB(o Options) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(o, roleCheckpointer))
	if err != nil {
		return nil, fmt.Errorf("open %s for checkpoints: %w", o.Path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, classify("open "+o.Path+" for checkpoints", err)
	}
	return db, nil
}

// openReaderDB opens the pool of read-only connections. query_only makes a
// write through it an error, so reads can never take the write lock.
func openReaderDB(o Options) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(o, roleReader))
	if err != nil {
		return nil, fmt.Errorf("open %s for reading: %w", o.Path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, classify("open "+o.Path+" for reading", err)
	}
	return db, nil
}

// initSchema checks that the file is in WAL mode and creates the schema in
// one IMMEDIATE transaction, so two processes opening a new file at once
// take turns and both find the schema. A file from before secrets_v2 has
// its live secrets moved into it, and its old table dropped (secure_delete
// zeroes its pages), in the same transaction; moved is how many, or -1 if
// there was no old table.
func initSchema(db *sql.DB) (moved int64, err error) {
	ctx := context.Background()
	// A new file gets pageSize; an existing one keeps its own. It must come
	// before journal_mode: switching to WAL writes the first page, which
	// fixes the size.
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return 0, classify("open database", err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return 0, classify("open database", err)
	}
	// SQLite silently keeps the old mode when it cannot switch (WAL needs
	// shared memory, so no NFS); running without WAL would break readers.
	if !strings.EqualFold(mode, "wal") {
		return 0, fmt.Errorf("journal mode is %q, not WAL: is the file on a local disk?", mode)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, classify("create schema", err)
	}
	defer tx.Rollback()
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return 0, classify("create schema", err)
		}
	}
	var v1 int
	if err := tx.QueryRowContext(ctx, sqlV1Exists).Scan(&v1); err != nil {
		return 0, classify("create schema", err)
	}
	moved = -1
	if v1 > 0 {
		res, err := tx.ExecContext(ctx, sqlV1Migrate, nowMillis())
		if err != nil {
			return 0, classify("move secrets to the new table", err)
		}
		if moved, err = res.RowsAffected(); err != nil {
			return 0, classify("move secrets to the new table", err)
		}
		if _, err := tx.ExecContext(ctx, sqlV1Drop); err != nil {
			return 0, classify("drop the old table", err)
		}
	}
	return moved, classify("create schema", tx.Commit())
}
