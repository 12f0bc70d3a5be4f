package sqlitestore

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"sync/atomic"

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

// writeFunc is one write, run inside the batch's transaction.
type writeFunc func(ctx context.Context, st *txStmts) (store.Secret, error)

// op is a write waiting for the writer goroutine.
type op struct {
	run   writeFunc
	state atomic.Int32
	done  chan result // buffered: the writer never blocks on a caller
}

type result struct {
	sec store.Secret
	err error
}

// writer owns this process's only write connection. One goroutine takes
// every write that is waiting, runs them in one IMMEDIATE transaction and
// commits once: one WAL append (and with
// synchronous=FULL one fsync) for the whole batch.
type writer struct {
	db    *sql.DB
	stmts *stmts
	log   hclog.Logger
	hook  func()

	queue    chan *op
	gate     sync.RWMutex // held for reading while sending to queue
	closed   bool         // under gate
	stopping chan struct{}
	exited   chan struct{}
	batch    []*op

	commits atomic.Int64 // committed transactions, for the group-commit test
}

// startWriter prepares the write statements and starts the goroutine.
func startWriter(db *sql.DB, log hclog.Logger, hook func()) (*writer, error) {
	st, err := prepare(db)
	if err != nil {
		return nil, err
	}
	w := &writer{
		db: db, stmts: st, log: log, hook: hook,
		queue:    make(chan *op, queueSize),
		stopping: make(chan struct{}),
		exited:   make(chan struct{}),
		batch:    make([]*op, 0, maxBatch),
	}
	go w.loop()
	return w, nil
}

// do queues run and waits for its result. A ctx that ends while the op is
// still queued abandons it (it never runs); once the writer has taken it, do
// waits for the commit and reports what really happened.
func (w *writer) do(ctx context.Context, run writeFunc) (store.Secret, error) {
	o := &op{run: run, done: make(chan result, 1)}
	if err := w.enqueue(ctx, o); err != nil {
		return store.Secret{}, err
	}
	select {
	case r := <-o.done:
		return r.sec, r.err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return store.Secret{}, ctx.Err()
		}
		r := <-o.done
		return r.sec, r.err
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
	w.stmts.close()
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

// runBatch runs the ops that were not abandoned in one transaction and
// answers each caller once the commit is done: its own result if the commit
// succeeded, the commit's error for all of them otherwise.
func (w *writer) runBatch(batch []*op) {
	defer clear(batch) // drop the ops (and their data) until the next batch
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	if w.hook != nil {
		w.hook()
	}
	results, err := w.commit(live)
	for i, o := range live {
		if err != nil {
			o.done <- result{err: err}
		} else {
			o.done <- results[i]
		}
	}
}

// commit runs ops in one IMMEDIATE transaction. Callers' contexts are not
// passed down: interrupting a statement would roll back the whole
// transaction, batch-mates included. busy_timeout bounds every wait.
func (w *writer) commit(ops []*op) ([]result, error) {
	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, w.fail("begin write transaction", len(ops), err)
	}
	defer tx.Rollback() // no-op after a successful Commit
	st := w.stmts.in(ctx, tx)
	results := make([]result, len(ops))
	for i, o := range ops {
		if results[i], err = runOne(ctx, st, o.run); err != nil {
			return nil, w.fail("write", len(ops), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, w.fail("commit", len(ops), err)
	}
	w.commits.Add(1)
	w.log.Trace("batch committed", "ops", len(ops))
	return results, nil
}

// runOne runs one operation of a batch. A single SQLite statement is atomic
// by itself, so an op that ends in a domain outcome (exists, not found)
// leaves nothing to undo and its batch-mates commit. Any other error (disk
// full, I/O, busy) may already have rolled the whole transaction back, so it
// fails the batch: every op in it gets the error and nothing is committed.
func runOne(ctx context.Context, st *txStmts, run writeFunc) (result, error) {
	sec, err := run(ctx, st)
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
