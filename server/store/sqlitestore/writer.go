package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/store"
)

const (
	// queueSize bounds how many writes wait for the writer; a caller past
	// it blocks (honouring its ctx) until there is room.
	queueSize = 1024
	// maxBatch bounds how many writes share one transaction, so one batch
	// holds the write lock only briefly.
	maxBatch = 128
)

// States of an op: the caller may abandon it only while it is queued; once
// the writer has taken it, the caller waits for the real outcome.
const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// opFunc is one operation, run inside the batch's transaction.
type opFunc func(ctx context.Context, c *rawConn) (store.Secret, error)

// op is an operation waiting for the writer goroutine.
type op struct {
	run opFunc
	// patient ops have another way to be done: if the batch's transaction
	// cannot begin, they are left queued for their caller to abandon (see
	// doWithin) rather than answered with the error.
	patient bool
	state   atomic.Int32
	done    chan result // buffered: the writer never blocks on a caller
}

type result struct {
	sec store.Secret
	err error
}

// writer owns this process's only write connection. One goroutine takes
// every operation that is waiting, runs them in one IMMEDIATE transaction
// and commits once: one WAL append (and with synchronous=FULL one fsync) for
// the whole batch.
//
// Reads (Get) are batched too. The writer's connection is the only one
// whose page cache survives commits (each commit empties the cache of every
// other connection, so a reader connection reads its B-tree paths again
// from the file), and inside the batch's transaction a one-time read is a
// SELECT and a DELETE by rowid, atomic because the transaction holds the
// write lock. In the benchmarks a one-time read cost less than half the CPU
// it cost as a read on the reader pool plus a claim in the writer.
type writer struct {
	db   *sql.DB
	raw  *rawConn // used only inside withRawConn
	ids  *idIndex
	tx   *idTx // the current transaction's changes to ids
	log  hclog.Logger
	hook func()

	queue    chan *op
	gate     sync.RWMutex // held for reading while sending to queue
	closed   bool         // under gate
	stopping chan struct{}
	exited   chan struct{}
	batch    []*op

	committed chan struct{} // signalled after each commit, for the maintainer
	commits   atomic.Int64  // committed transactions, for the group-commit test
	cuts      atomic.Int64  // batches cut, for the tests
	ckptAsked atomic.Bool   // see askCheckpoint
	handOffs  atomic.Int64  // checkpoints run when asked, for the tests
}

// startWriter prepares the write statements and starts the goroutine.
func startWriter(db *sql.DB, ids *idIndex, log hclog.Logger, hook func()) (*writer, error) {
	w := &writer{
		db: db, log: log, hook: hook, ids: ids, tx: newIDTx(ids),
		queue:    make(chan *op, queueSize),
		stopping: make(chan struct{}),
		exited:   make(chan struct{}),
		batch:    make([]*op, 0, maxBatch),

		committed: make(chan struct{}, 1),
	}
	// Prepare now, so that Open reports a statement SQLite refuses.
	if err := w.withRawConn(func(*rawConn) error { return nil }); err != nil {
		return nil, err
	}
	go w.loop()
	return w, nil
}

// do queues run and waits for its result. A ctx that ends while the op is
// still queued abandons it (it never runs); once the writer has taken it, do
// waits for the commit and reports what really happened.
func (w *writer) do(ctx context.Context, run opFunc) (store.Secret, error) {
	sec, _, err := w.doWithin(ctx, 0, run)
	return sec, err
}

// doWithin is do, except that with patience > 0 it also abandons the op if
// the writer has not taken it within patience, and then reports
// taken=false: the op never ran, and the caller may do it another way. The
// writer takes a batch's ops only once its transaction has begun, so this
// bounds how long the op waits for a lock another process holds.
func (w *writer) doWithin(ctx context.Context, patience time.Duration, run opFunc) (sec store.Secret, taken bool, err error) {
	o := &op{run: run, patient: patience > 0, done: make(chan result, 1)}
	if err := w.enqueue(ctx, o); err != nil {
		return store.Secret{}, true, err
	}
	var late <-chan time.Time
	if patience > 0 {
		t := time.NewTimer(patience)
		defer t.Stop()
		late = t.C
	}
	for {
		select {
		case r := <-o.done:
			return r.sec, true, r.err
		case <-late:
			late = nil
			if o.state.CompareAndSwap(opQueued, opAbandoned) {
				return store.Secret{}, false, nil
			}
		case <-ctx.Done():
			if o.state.CompareAndSwap(opQueued, opAbandoned) {
				return store.Secret{}, true, ctx.Err()
			}
			r := <-o.done
			return r.sec, true, r.err
		}
	}
}

// enqueue hands o to the writer unless the store is closed.
func (w *writer) enqueue(ctx context.Context, o *op) error {
	w.gate.RLock()
	defer w.gate.RUnlock()
	if w.closed {
		return store.ErrClosed
	}
	select {
	case w.queue <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close refuses new writes, lets the goroutine run every write already
// queued, and waits for it to exit.
func (w *writer) close() {
	w.gate.Lock()
	w.closed = true
	w.gate.Unlock()
	close(w.stopping)
	<-w.exited
	if err := w.withRawConn((*rawConn).close); err != nil {
		w.log.Warn("finalize write statements", "error", err)
	}
}

func (w *writer) loop() {
	defer close(w.exited)
	for {
		select {
		case o := <-w.queue:
			w.handle(o)
		case <-w.stopping:
			// No send can start after stopping is closed (close took the
			// gate first), so what is in the queue now is all there is.
			for {
				select {
				case o := <-w.queue:
					w.handle(o)
				default:
					return
				}
			}
		}
	}
}

// handle runs first together with every op waiting behind it.
func (w *writer) handle(first *op) {
	// Let callers that are runnable reach the queue before the batch is
	// cut. Without this, on 2 cores the claim benchmark settled at random
	// into a mode of ~4 ops per commit and half the throughput; with it,
	// batches hold 13-24 ops. It costs nothing when no one else is runnable.
	runtime.Gosched()
	w.cuts.Add(1)
	w.batch = append(w.batch[:0], first)
	for len(w.batch) < maxBatch {
		select {
		case o := <-w.queue:
			w.batch = append(w.batch, o)
		default:
			w.runBatch(w.batch)
			return
		}
	}
	w.runBatch(w.batch)
}

// runBatch runs the ops of batch that were not abandoned in one
// transaction and answers each caller once the commit is done: its own
// result if the commit succeeded; if it failed, the result of running the
// op again in a transaction of its own.
//
// It takes the ops (after which they can no longer be abandoned) only once
// the transaction has begun: BEGIN IMMEDIATE waits, under busy_timeout, for
// a write lock another process holds (as may the maintainer's sweep, holding
// the connection), and a read must not wait that long.
func (w *writer) runBatch(batch []*op) {
	defer clear(batch) // drop the ops (and their data) until the next batch
	ctx := context.Background()
	ran := false
	err := w.withRawConn(func(c *rawConn) error {
		w.checkpointIfAsked(ctx, c)
		tx, err := w.begin(ctx, c)
		if err != nil {
			return err
		}
		ran = true
		live := take(batch)
		if len(live) == 0 { // all abandoned while BEGIN waited
			return tx.Rollback()
		}
		if w.hook != nil {
			w.hook()
		}
		results, err := w.commit(ctx, c, tx, live)
		for i, o := range live {
			switch {
			case err == nil:
				o.done <- results[i]
			case len(live) == 1:
				o.done <- result{err: err}
			default:
				// The batch failed and nothing in it was committed. Run each
				// op again on its own, so that one op's failure (a create
				// the full disk has no room for) does not fail its
				// batch-mates (reads, which need no room).
				o.done <- w.alone(ctx, c, o)
			}
		}
		return nil
	})
	if !ran {
		// Patient ops stay queued: their callers abandon them and read
		// another way.
		live := takeImpatient(batch)
		err = w.fail("begin write transaction", len(live), err)
		for _, o := range live {
			o.done <- result{err: err}
		}
	}
}

// alone runs o in a transaction of its own.
func (w *writer) alone(ctx context.Context, c *rawConn, o *op) result {
	tx, err := w.begin(ctx, c)
	if err != nil {
		return result{err: w.fail("begin write transaction", 1, err)}
	}
	results, err := w.commit(ctx, c, tx, []*op{o})
	if err != nil {
		return result{err: err}
	}
	return results[0]
}

// begin starts an IMMEDIATE transaction and brings the id index up to
// date with what other processes committed: the transaction holds the
// write lock, so inside it the index is complete.
func (w *writer) begin(ctx context.Context, c *rawConn) (driver.Tx, error) {
	w.tx.reset()
	tx, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.ids.catchUpRaw(ctx, c); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// askCheckpoint has the writer checkpoint the WAL before its next batch
// (see maintainer.afterCommits).
func (w *writer) askCheckpoint() { w.ckptAsked.Store(true) }

// checkpointIfAsked runs the checkpoint askCheckpoint asked for, between
// two transactions, so that the next one can start the WAL over. It is
// PASSIVE: it waits for no lock, and if another process's checkpoint or
// reader is in the way the maintainer asks again later.
func (w *writer) checkpointIfAsked(ctx context.Context, c *rawConn) {
	if !w.ckptAsked.Swap(false) {
		return
	}
	var row [3]driver.Value // busy, WAL frames, frames copied
	if _, err := queryRow(ctx, c.ckpt, row[:]); err != nil {
		w.log.Debug("checkpoint before batch failed", "error", classify("checkpoint WAL", err))
		return
	}
	w.handOffs.Add(1)
	w.log.Trace("WAL checkpointed before batch", "busy", row[0], "wal_frames", row[1], "checkpointed", row[2])
}

// take marks the ops of batch that were not abandoned as taken and returns
// them, in place of batch.
func take(batch []*op) []*op {
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	return live
}

// takeImpatient is take for the ops that are not patient.
func takeImpatient(batch []*op) []*op {
	live := batch[:0]
	for _, o := range batch {
		if !o.patient && o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	return live
}

// commit runs ops in tx, an IMMEDIATE transaction, and commits it. Callers'
// contexts are not passed down: interrupting a statement would roll back
// the whole transaction, batch-mates included. busy_timeout bounds every
// wait.
func (w *writer) commit(ctx context.Context, c *rawConn, tx driver.Tx, ops []*op) ([]result, error) {
	results := make([]result, len(ops))
	for i, o := range ops {
		var err error
		if results[i], err = runOne(ctx, c, o.run); err != nil {
			// SQLite may have rolled back already; then this fails, harmlessly.
			_ = tx.Rollback()
			return nil, w.fail("write", len(ops), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, w.fail("commit", len(ops), err)
	}
	w.tx.apply()
	w.commits.Add(1)
	select {
	case w.committed <- struct{}{}:
	default: // a signal is pending already
	}
	w.log.Trace("batch committed", "ops", len(ops))
	return results, nil
}

// runOne runs one operation of a batch. An op that ends in a domain outcome
// (exists, not found) has changed nothing (each changes at most one row, in
// one statement, which is atomic by itself), so its batch-mates commit. Any
// other error (disk full, I/O, busy) may already have rolled the whole
// transaction back, so it fails the batch: nothing in it is committed, and
// runBatch runs each of its ops again on its own.
func runOne(ctx context.Context, c *rawConn, run opFunc) (result, error) {
	sec, err := run(ctx, c)
	if err != nil && !isDomain(err) {
		return result{}, err
	}
	return result{sec: sec, err: err}, nil
}

func (w *writer) fail(doing string, n int, err error) error {
	err = classify(doing, err)
	w.log.Debug("write batch failed", "ops", n, "error", err)
	return err
}
