package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// The schema. expires_at is unix milliseconds (so a 1s TTL is not rounded
// to a whole second); ttl_ns is the TTL as given, so Get returns the original
// TTL. A rowid table, not WITHOUT ROWID, because rows hold blobs of up to
// megabytes.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS secrets (
		kind       INTEGER NOT NULL,
		id         TEXT    NOT NULL,
		data       BLOB    NOT NULL,
		ttl_ns     INTEGER NOT NULL,
		one_time   INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		PRIMARY KEY (kind, id)
	)`,
	`CREATE INDEX IF NOT EXISTS secrets_expires_at ON secrets (expires_at)`,
}

// mmapSize is how much of the database file each connection maps.
const mmapSize = 256 << 20

// dsn builds the connection string. The pragmas go in the DSN so that every
// connection the pool ever opens gets them, busy_timeout first (the driver
// applies it before the others).
func dsn(o Options, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous("+o.Synchronous+")")
	// Zero deleted content so claimed ciphertext does not linger in free
	// pages of the file.
	q.Add("_pragma", "secure_delete(ON)")
	// Map the file: in WAL mode every commit resets the other connections'
	// page caches, so each read would otherwise pread its whole B-tree path
	// again; mapped pages come straight from the OS page cache.
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapSize))
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		// BEGIN IMMEDIATE takes the write lock up front, so two processes
		// wait for each other under busy_timeout instead of one failing
		// with SQLITE_BUSY_SNAPSHOT when it upgrades a read transaction.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(ON)")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: o.Path, RawQuery: q.Encode()}
	return u.String()
}

// openWriterDB opens the one writer connection of this process, switches
// the file to WAL and creates the schema.
func openWriterDB(o Options) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(o, true))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := initSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	return db, nil
}

// openReaderDB opens the pool of read-only connections. query_only makes a
// write through it an error, so reads can never take the write lock.
func openReaderDB(o Options) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(o, false))
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
// take turns and both find the schema.
func initSchema(db *sql.DB) error {
	ctx := context.Background()
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return classify("open database", err)
	}
	// SQLite silently keeps the old mode when it cannot switch (WAL needs
	// shared memory, so no NFS); running without WAL would break readers.
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL: is the file on a local disk?", mode)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return classify("create schema", err)
	}
	defer tx.Rollback()
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return classify("create schema", err)
		}
	}
	return classify("create schema", tx.Commit())
}
