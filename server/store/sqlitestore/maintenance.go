package sqlitestore

import (
	"context"
	"database/sql"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// sweepChunk bounds how many rows one DELETE of the sweep removes, so the
// sweep never holds the write lock for long.
const sweepChunk = 500

// copyPace is the least time between two background checkpoints. Waiting
// lets commits pile up, so that one checkpoint copies a page rewritten by
// many of them once, with one pair of fsyncs: at most 5 pairs a second.
// With walAutoCheckpoint at 16000 4 KiB pages (64 MiB), 200 ms used
// slightly less CPU per operation than 50 ms in the store benchmarks
// (median 30.7 against 32.2 us per create, 38.1 against 38.5 per one-time
// read); 500 ms was slower. On
// the server benchmark (two interleaved pairs of runs) 200 ms answered more
// (creates 16.4k and 16.3k/s against 13.3k and 15.3k, one-time reads 13.2k
// and 14.1k against 11.7k and 13.2k) but with a longer tail, as each copy
// and its fsyncs are bigger: p99 30-35 ms against 17-18 for creates, 69-70
// against 43-47 for one-time reads.
//
// The copies take the checkpoint's work off the writer goroutine, through
// which every write passes. Measured on the server benchmark (2 cores, five
// interleaved rounds with and without): creates ran about 10% faster
// (median 17.6k against 15.6k per second) and the server used less CPU per
// create (median 58 against 67 us), at the cost of about 1 KB more written
// and 1 KB more read per create (pages copied more than once).
const copyPace = 200 * time.Millisecond

// maintainer runs in one goroutine: it copies the WAL into the database
// file in the background after commits (PASSIVE checkpoints, which never
// block the writer), truncates the WAL every CheckpointInterval, and deletes
// expired rows. Checkpoints use a connection of their own, so the writer
// never waits for their copying and fsyncs; the sweep deletes through the
// writer's connection, whose pool of one serialises it with the batches.
type maintainer struct {
	db        *sql.DB // the writer's
	ckptDB    *sql.DB // checkpoints only
	ids       *idIndex
	log       hclog.Logger
	opts      Options
	ctx       context.Context
	cancel    context.CancelFunc
	committed <-chan struct{} // a signal from the writer after a commit
	// handOff asks the writer to checkpoint before its next batch.
	handOff func()
	// dbFile is the database file, open only to sync it (see settle); nil
	// if it could not be opened.
	dbFile        *os.File
	restartFrames int // WAL length that calls for a hand-off
	handedAt      int // WAL length at the last hand-off
	exited        chan struct{}
	onExpired     func(int)
}

func startMaintainer(db, ckptDB *sql.DB, ids *idIndex, committed <-chan struct{}, handOff func(), opts Options) *maintainer {
	ctx, cancel := context.WithCancel(context.Background())
	m := &maintainer{
		db: db, ckptDB: ckptDB, ids: ids, log: opts.Logger.Named("maintenance"), opts: opts,
		ctx: ctx, cancel: cancel, committed: committed, handOff: handOff, exited: make(chan struct{}),
		onExpired: opts.OnExpired, restartFrames: opts.walRestartFrames,
	}
	f, err := os.Open(opts.Path)
	if err != nil {
		m.log.Warn("cannot open the database file to sync it; the writer's own checkpoints will hold up writes longer",
			"error", err)
	}
	m.dbFile = f
	go m.loop()
	return m
}

func (m *maintainer) loop() {
	defer close(m.exited)
	ckpt := time.NewTicker(m.opts.CheckpointInterval)
	defer ckpt.Stop()
	sweep := time.NewTicker(m.opts.SweepInterval)
	defer sweep.Stop()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		select {
		case <-m.committed:
			m.afterCommits()
			// Let the next commits pile up; the truncate and the sweep
			// wait at most this long.
			pace.Reset(copyPace)
			select {
			case <-pace.C:
			case <-m.ctx.Done():
				return
			}
		case <-ckpt.C:
			// The truncate holds up writes while it works: leave it
			// little to copy and to sync.
			if _, all := m.copyWAL(); all {
				m.settle()
			}
			if err := checkpoint(m.ctx, m.ckptDB, m.log); err != nil && m.ctx.Err() == nil {
				m.log.Warn("WAL checkpoint failed", "error", err)
			}
		case <-sweep.C:
			m.sweep()
		case <-m.ctx.Done():
			return
		}
	}
}

// copyWAL copies what it can of the WAL into the database file without
// waiting for any lock: another checkpoint under way (the writer's, or
// another process's) makes it give up until the next commit. It returns the
// WAL's length in frames and whether every frame in it is now copied.
func (m *maintainer) copyWAL() (walFrames int, all bool) {
	var busy, moved int
	err := m.ckptDB.QueryRowContext(m.ctx, sqlCheckpoint).Scan(&busy, &walFrames, &moved)
	if err != nil {
		if m.ctx.Err() == nil {
			m.log.Warn("background WAL checkpoint failed", "error", classify("checkpoint WAL", err))
		}
		return 0, false
	}
	m.log.Trace("WAL copied", "wal_frames", walFrames, "checkpointed", moved, "busy", busy != 0)
	return walFrames, busy == 0 && moved == walFrames
}

// afterCommits copies the WAL into the database file and, once the WAL is
// restartFrames long, hands the writer the checkpoint that lets it start
// over from its beginning.
//
// The WAL starts over only at a write transaction that begins when every
// frame in it has been copied. Commits keep landing behind a background
// copy, so it never gets there by itself; a checkpoint between two of the
// writer's transactions does. SQLite's auto-checkpoint runs one at an
// arbitrary commit, with up to copyPace of the WAL still to copy, and the
// database file still to sync (see settle): under the server benchmark
// those commits took 30-80 ms, and every request waited. Here the
// maintainer first settles the file, and the writer's checkpoint is left
// only what arrived meanwhile.
func (m *maintainer) afterCommits() {
	frames, all := m.copyWAL()
	// frames == handedAt: nothing was written since the last hand-off (the
	// writer's transactions were reads), so there is nothing to start over.
	if !all || frames < m.restartFrames || frames == m.handedAt {
		return
	}
	if m.settle() {
		m.handedAt = frames
		m.handOff()
	}
}

// settle syncs the database file, copies what the WAL gained meanwhile and
// syncs the file again, so that a checkpoint that follows finds little to
// copy and little to sync.
//
// SQLite syncs the database file only in a checkpoint that copies the WAL
// to its very end; a background copy, with commits landing behind it,
// never does. Until then every page the copies wrote stays dirty in the
// OS, and the checkpoint that does catch up (the writer's, or the
// truncate, both holding up writes) flushes them all.
func (m *maintainer) settle() bool {
	if m.dbFile == nil || !m.syncDB() {
		return false
	}
	if _, all := m.copyWAL(); !all {
		return false
	}
	return m.syncDB()
}

// syncDB flushes the database file's pages to the disk. It is never needed
// for durability (a page is in the file only once its frame is durable in
// the WAL); it moves the flush off the path of writes.
func (m *maintainer) syncDB() bool {
	if err := m.dbFile.Sync(); err != nil {
		if m.ctx.Err() == nil {
			m.log.Warn("sync database file", "error", classify("sync database file", err))
		}
		return false
	}
	return true
}

// close stops the goroutine, interrupting a sweep or checkpoint under way,
// and closes the checkpoint connection.
func (m *maintainer) close() {
	m.cancel()
	<-m.exited
	if err := m.ckptDB.Close(); err != nil {
		m.log.Warn("close checkpoint connection", "error", err)
	}
	if m.dbFile != nil {
		m.dbFile.Close()
	}
}

// sweep deletes expired rows and reports how many, and drops the id
// index's entries of expired secrets (whoever deleted their rows).
func (m *maintainer) sweep() {
	now := nowMillis()
	n, err := sweepExpired(m.ctx, m.db, now)
	m.ids.purge(now)
	if err != nil && m.ctx.Err() == nil {
		m.log.Warn("expiry sweep failed", "removed", n, "error", err)
	}
	switch {
	case n > 0:
		m.log.Info("expired secrets removed", "removed", n)
	default:
		m.log.Debug("expiry sweep found nothing to remove")
	}
	if m.onExpired != nil {
		m.onExpired(n)
	}
}

// sweepExpired deletes rows that expired at or before now, in chunks. Each
// DELETE is one statement in autocommit mode, which takes the write lock
// before it reads (waiting under busy_timeout), so it cannot fail with
// SQLITE_BUSY_SNAPSHOT.
func sweepExpired(ctx context.Context, db *sql.DB, now int64) (int, error) {
	total := 0
	for {
		res, err := db.ExecContext(ctx, `DELETE FROM secrets_v2 WHERE rid IN
			(SELECT rid FROM secrets_v2 WHERE expires_at <= ? LIMIT ?)`, now, sweepChunk)
		if err != nil {
			return total, classify("delete expired secrets", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, classify("count expired secrets", err)
		}
		total += int(n)
		if n < sweepChunk {
			return total, nil
		}
	}
}

// checkpoint copies the WAL into the database file and truncates the WAL.
//
// TRUNCATE rather than PASSIVE: PASSIVE never shrinks the file, and the WAL
// keeps old page images, with ciphertext that secure_delete already zeroed
// in the database, until they happen to be overwritten. TRUNCATE empties it.
// Its cost is that it waits (under busy_timeout) for other connections'
// readers and writer to move off the WAL; our transactions are short, so the
// wait is too, and if it cannot finish it reports busy and the next tick
// tries again. Between ticks the WAL is copied in the background and the
// writer's auto-checkpoint bounds it (see walAutoCheckpoint).
func checkpoint(ctx context.Context, db *sql.DB, log hclog.Logger) error {
	start := time.Now()
	var busy, walFrames, moved int
	err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &walFrames, &moved)
	if err != nil {
		return classify("checkpoint WAL", err)
	}
	if busy != 0 {
		log.Debug("WAL checkpoint could not finish; other connections are using the WAL",
			"wal_frames", walFrames, "checkpointed", moved, "took", time.Since(start))
		return nil
	}
	log.Debug("WAL checkpointed and truncated", "wal_frames", walFrames, "took", time.Since(start))
	return nil
}
