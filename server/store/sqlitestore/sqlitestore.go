// Package sqlitestore is vigil-server's embedded store: one SQLite file in
// WAL mode (modernc.org/sqlite, pure Go) that several processes can share,
// such as the old and the new server during a reload.
//
// Each process has one writer connection, owned by a goroutine that runs the
// reads and writes of concurrent callers in one transaction (group commit);
// a pool of read-only connections for Status, Ping and the reads the writer
// cannot take at once (see Get); and a connection the maintenance goroutine
// copies the WAL into the database file through. The table has no index on
// the id; each process finds rows through an in-memory map (idIndex).
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/store"
)

// Store is a store.Store on one SQLite file. Open it with Open; it is safe
// for concurrent use by any number of goroutines and processes.
type Store struct {
	log     hclog.Logger
	readers *sql.DB
	reads   *readStmts
	writeDB *sql.DB
	ids     *idIndex
	w       *writer
	m       *maintainer

	readPatience time.Duration
	fallbacks    atomic.Int64 // reads done on the reader pool, for the tests

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at opts.Path, sets it to WAL
// mode, creates the schema if it is missing and starts the writer and the
// maintenance goroutines. Errors that mean the file cannot be used now (its
// directory is missing, it cannot be opened, the disk is full) wrap
// store.ErrUnavailable.
func Open(opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	writeDB, err := openWriterDB(opts)
	if err != nil {
		return nil, err
	}
	readers, err := openReaderDB(opts)
	if err != nil {
		writeDB.Close()
		return nil, err
	}
	reads, err := prepareReads(readers)
	if err != nil {
		readers.Close()
		writeDB.Close()
		return nil, err
	}
	ckptDB, err := openCheckpointDB(opts)
	if err != nil {
		reads.close()
		readers.Close()
		writeDB.Close()
		return nil, err
	}
	// Load the id index on the reader pool, which takes no lock; the
	// writer's first transaction adds what was committed meanwhile.
	ids := newIDIndex()
	start := time.Now()
	loaded, err := ids.load(context.Background(), readers, nowMillis())
	if err != nil {
		ckptDB.Close()
		reads.close()
		readers.Close()
		writeDB.Close()
		return nil, classify("open "+opts.Path+": load the id index", err)
	}
	w, err := startWriter(writeDB, ids, opts.Logger.Named("writer"), opts.testHookBatch)
	if err != nil {
		ckptDB.Close()
		reads.close()
		readers.Close()
		writeDB.Close()
		return nil, err
	}
	s := &Store{log: opts.Logger, readers: readers, reads: reads, writeDB: writeDB, ids: ids, w: w,
		readPatience: opts.readPatience}
	s.m = startMaintainer(writeDB, ckptDB, ids, w.committed, w.askCheckpoint, opts)
	opts.Logger.Debug("sqlite store open", "path", opts.Path, "synchronous", opts.Synchronous,
		"busy_timeout", opts.BusyTimeout, "secrets", loaded, "index_load", time.Since(start))
	return s, nil
}

// Create stores sec under (kind, id). It returns store.ErrExists if a
// secret that has not expired has the id; an expired one is replaced. A nil
// error means the transaction holding it has committed: with the default
// synchronous=NORMAL it survives a crash of this process, with "full" also a
// power loss.
func (s *Store) Create(ctx context.Context, kind store.Kind, id string, sec store.Secret) error {
	if err := checkCreate(kind, id, sec); err != nil {
		return err
	}
	_, err := s.w.do(ctx, createOp(kind, id, sec))
	return err
}

// defaultReadPatience is how long Get waits for the writer goroutine to
// take its read before it reads on the reader pool instead: the writer may
// be held up, waiting for a lock another process holds, and reads must go
// on.
const defaultReadPatience = 50 * time.Millisecond

// Get returns the secret. A one-time secret is deleted in the transaction
// that reads it, which holds the write lock, so exactly one of any number of
// concurrent readers in any number of processes gets it.
//
// Reads are batched in the writer (see writer): should it not take this one
// within defaultReadPatience, Get reads on the reader pool instead and claims a
// one-time secret with a single DELETE ... RETURNING through the writer.
func (s *Store) Get(ctx context.Context, kind store.Kind, id string) (store.Secret, error) {
	sec, taken, err := s.w.doWithin(ctx, s.readPatience, getOp(kind, id))
	if taken {
		return sec, err
	}
	s.fallbacks.Add(1)
	sec, err = s.read(ctx, kind, id)
	if err != nil || !sec.OneTime {
		return sec, err
	}
	return s.w.do(ctx, claimOp(kind, id))
}

// Delete removes the secret; store.ErrNotFound if there was none or it had
// expired.
func (s *Store) Delete(ctx context.Context, kind store.Kind, id string) error {
	_, err := s.w.do(ctx, deleteOp(kind, id))
	return err
}

// Status reports whether the secret is one-time; it reads only.
func (s *Store) Status(ctx context.Context, kind store.Kind, id string) (bool, error) {
	if s.closed.Load() {
		return false, store.ErrClosed
	}
	var oneTime bool
	err := s.byID(ctx, kind, id, func(r idRow, now int64) error {
		return s.reads.status.QueryRowContext(ctx, r.rid, int64(kind), id, now).Scan(&oneTime)
	})
	return oneTime, s.readErr(ctx, "read status", err)
}

// Ping runs SELECT 1 on a reader connection; it never writes.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var one int
	err := s.reads.ping.QueryRowContext(ctx).Scan(&one)
	return s.readErr(ctx, "ping", err)
}

// Close stops the maintenance goroutine, lets the writer finish every
// operation already queued (they complete and report their real result;
// calls made after Close get store.ErrClosed), checkpoints the WAL into the
// database file one last time and closes the connections. It is safe to call
// more than once; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.w.close()
		s.m.close()
		if err := checkpoint(context.Background(), s.writeDB, s.log.Named("maintenance")); err != nil {
			s.log.Warn("final checkpoint failed; the WAL keeps the data", "error", err)
		}
		s.reads.close()
		s.closeErr = errors.Join(s.readers.Close(), s.writeDB.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close sqlite store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// read fetches a live secret on the reader pool. For a one-time secret it
// leaves Data empty: the claim in the writer returns it.
func (s *Store) read(ctx context.Context, kind store.Kind, id string) (store.Secret, error) {
	if s.closed.Load() {
		return store.Secret{}, store.ErrClosed
	}
	var sec store.Secret
	var ttl int64
	err := s.byID(ctx, kind, id, func(r idRow, now int64) error {
		return s.reads.get.QueryRowContext(ctx, r.rid, int64(kind), id, now).Scan(&sec.Data, &ttl, &sec.OneTime)
	})
	sec.TTL = time.Duration(ttl)
	return sec, s.readErr(ctx, "read secret", err)
}

// byID runs query, a read on the reader pool, on the row the id index has
// for (kind, id). query returns sql.ErrNoRows if that row is gone or
// expired. The index may lag what other processes did since this one last
// looked (created the secret, or deleted it and created it again under the
// same id): if the id is missing, expired or gone, the index catches up
// and query runs again if that found another row.
func (s *Store) byID(ctx context.Context, kind store.Kind, id string, query func(r idRow, now int64) error) error {
	now := nowMillis()
	k := idKey{kind: kind, id: id}
	r, ok := s.ids.get(k)
	if ok && r.expires > now {
		if err := query(r, now); !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if err := s.ids.catchUpDB(ctx, s.reads.catchUp); err != nil {
		return err
	}
	r2, ok2 := s.ids.get(k)
	if !ok2 || r2.expires <= now || (ok && r2 == r) {
		return sql.ErrNoRows
	}
	return query(r2, now)
}

// readErr turns a reader's error into the store's errors.
func (s *Store) readErr(ctx context.Context, doing string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case s.closed.Load():
		return store.ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", doing, ctx.Err())
	}
	return classify(doing, err)
}

// checkCreate rejects input that could not be stored as asked.
func checkCreate(kind store.Kind, id string, sec store.Secret) error {
	switch {
	case kind != store.KindSecret && kind != store.KindFile:
		return fmt.Errorf("create: unknown kind %d", kind)
	case id == "":
		return errors.New("create: empty id")
	case sec.TTL < time.Millisecond:
		return fmt.Errorf("create: TTL %v is not positive (at least 1ms)", sec.TTL)
	}
	return nil
}

// nowMillis is the clock every query compares expires_at (unix
// milliseconds) with.
func nowMillis() int64 { return time.Now().UnixMilli() }

// commitCount is how many write transactions this store has committed; the
// group-commit test compares it with the number of writes.
func (s *Store) commitCount() int64 { return s.w.commits.Load() }
