package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/hashicorp/go-hclog"
)

// sweepChunk bounds how many rows one DELETE of the sweep removes, so the
// sweep never holds the write lock for long.
const sweepChunk = 500

// maintainer checkpoints the WAL and deletes expired rows, in one goroutine,
// through the writer connection (whose pool of one serialises it with the
// write batches).
type maintainer struct {
	db        *sql.DB
	log       hclog.Logger
	opts      Options
	ctx       context.Context
	cancel    context.CancelFunc
	exited    chan struct{}
	onExpired func(int)
}

func startMaintainer(db *sql.DB, opts Options) *maintainer {
	ctx, cancel := context.WithCancel(context.Background())
	m := &maintainer{
		db: db, log: opts.Logger.Named("maintenance"), opts: opts,
		ctx: ctx, cancel: cancel, exited: make(chan struct{}), onExpired: opts.OnExpired,
	}
	go m.loop()
	return m
}

func (m *maintainer) loop() {
	defer close(m.exited)
	ckpt := time.NewTicker(m.opts.CheckpointInterval)
	defer ckpt.Stop()
	sweep := time.NewTicker(m.opts.SweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ckpt.C:
			if err := checkpoint(m.ctx, m.db, m.log); err != nil && m.ctx.Err() == nil {
				m.log.Warn("WAL checkpoint failed", "error", err)
			}
		case <-sweep.C:
			m.sweep()
		case <-m.ctx.Done():
			return
		}
	}
}

// close stops the goroutine, interrupting a sweep or checkpoint under way.
func (m *maintainer) close() {
	m.cancel()
	<-m.exited
}

// sweep deletes expired rows and reports how many.
func (m *maintainer) sweep() {
	n, err := sweepExpired(m.ctx, m.db, nowMillis())
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
		res, err := db.ExecContext(ctx, `DELETE FROM secrets WHERE rowid IN
			(SELECT rowid FROM secrets WHERE expires_at <= ? LIMIT ?)`, now, sweepChunk)
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
// tries again. SQLite's own auto-checkpoint (PASSIVE, every 1000 pages)
// still runs between ticks.
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
