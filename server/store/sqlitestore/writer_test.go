package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// gate holds the writer in its first batch (after it has taken that
// batch's ops, before it begins the transaction) until released, so a test
// can line up more writes behind it deterministically.
type gate struct {
	once    sync.Once
	held    chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{held: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) hook() {
	g.once.Do(func() {
		close(g.held)
		<-g.release
	})
}

// waitHeld waits until the writer is held.
func (g *gate) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer never started a batch")
	}
}

// waitQueued polls until n ops wait in the writer's queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(s.w.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes queued after 30s", len(s.w.queue), n)
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
}

// goCreate runs Create in a goroutine; its result arrives on the channel.
func goCreate(ctx context.Context, s *Store, id string, sec store.Secret) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Create(ctx, store.KindSecret, id, sec) }()
	return done
}

func secretOf(data string) store.Secret {
	return store.Secret{Data: []byte(data), TTL: time.Hour}
}

func TestGroupCommit(t *testing.T) {
	t.Run("concurrent-creates/few-commits", func(t *testing.T) {
		g := newGate()
		s := openTemp(t, Options{testHookBatch: g.hook})
		ctx := testCtx(t)
		const n = 300
		results := []<-chan error{goCreate(ctx, s, "first", secretOf("first"))}
		g.waitHeld(t)
		for i := 1; i < n; i++ {
			results = append(results, goCreate(ctx, s, fmt.Sprint("id-", i), secretOf(fmt.Sprint(i))))
		}
		waitQueued(t, s, n-1)
		close(g.release)
		for i, done := range results {
			if err := <-done; err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
		}
		// One commit for the held op, then the 299 queued ones in batches of
		// at most maxBatch.
		want := 1 + (n-1+maxBatch-1)/maxBatch
		if got := s.commitCount(); got != int64(want) {
			t.Fatalf("%d creates took %d commits, want %d", n, got, want)
		}
		for i := 1; i < n; i++ {
			got, err := s.Get(ctx, store.KindSecret, fmt.Sprint("id-", i))
			if err != nil || string(got.Data) != fmt.Sprint(i) {
				t.Fatalf("secret %d after the batch: %q, %v", i, got.Data, err)
			}
		}
	})
	t.Run("batch-mates/failure-is-isolated", testBatchIsolation)
	t.Run("unloaded/commits-below-writes", testNaturalBatching)
}

// testBatchIsolation puts writes that fail (id exists, nothing to delete,
// nothing to claim) in one transaction with writes that succeed; each
// caller gets its own answer and the successes are committed.
func testBatchIsolation(t *testing.T) {
	g := newGate()
	s := openTemp(t, Options{testHookBatch: g.hook})
	ctx := testCtx(t)
	blocker := goCreate(ctx, s, "blocker", secretOf("blocker"))
	g.waitHeld(t)
	dupA := []<-chan error{goCreate(ctx, s, "a", secretOf("a1")), goCreate(ctx, s, "a", secretOf("a2"))}
	b := goCreate(ctx, s, "b", secretOf("b"))
	blockerAgain := goCreate(ctx, s, "blocker", secretOf("again"))
	missing := make(chan error, 1)
	go func() { missing <- s.Delete(ctx, store.KindSecret, "missing") }()
	waitQueued(t, s, 5)
	close(g.release)

	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	errA := []error{<-dupA[0], <-dupA[1]}
	if (errA[0] == nil) == (errA[1] == nil) || !errors.Is(errors.Join(errA...), store.ErrExists) {
		t.Fatalf("two creates of one id in one batch: %v; want one nil and one ErrExists", errA)
	}
	if err := <-b; err != nil {
		t.Fatalf("create b next to failing batch-mates: %v", err)
	}
	if err := <-blockerAgain; !errors.Is(err, store.ErrExists) {
		t.Fatalf("create over a live id: %v, want ErrExists", err)
	}
	if err := <-missing; !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of a missing id: %v, want ErrNotFound", err)
	}
	if got := s.commitCount(); got != 2 {
		t.Fatalf("%d commits, want 2 (the blocker, then one batch)", got)
	}
	for id, want := range map[string]string{"blocker": "blocker", "b": "b"} {
		got, err := s.Get(ctx, store.KindSecret, id)
		if err != nil || string(got.Data) != want {
			t.Fatalf("%s: %q, %v; want %q", id, got.Data, err, want)
		}
	}
}

// testNaturalBatching checks, without any hook, that many concurrent writers
// share commits: with synchronous=FULL each commit is an fsync, long enough
// for the next writers to queue up. The bound is loose (half) so a loaded
// machine cannot fail it.
func testNaturalBatching(t *testing.T) {
	s := openTemp(t, Options{Synchronous: "full"})
	ctx := testCtx(t)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- s.Create(ctx, store.KindSecret, storetest.NewID(t), secretOf("x"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	commits := s.commitCount()
	t.Logf("%d creates from %d goroutines took %d commits", writers*each, writers, commits)
	if commits > writers*each/2 {
		t.Fatalf("%d creates took %d commits; group commit is not batching", writers*each, commits)
	}
}

func TestWriteContext(t *testing.T) {
	t.Run("cancelled-while-queued/never-runs", func(t *testing.T) {
		g := newGate()
		s := openTemp(t, Options{testHookBatch: g.hook})
		ctx := testCtx(t)
		blocker := goCreate(ctx, s, "blocker", secretOf("x"))
		g.waitHeld(t)
		cctx, cancel := context.WithCancel(ctx)
		queued := goCreate(cctx, s, "queued", secretOf("x"))
		waitQueued(t, s, 1)
		cancel()
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Fatalf("queued create after cancel: %v, want context.Canceled", err)
		}
		close(g.release)
		if err := <-blocker; err != nil {
			t.Fatalf("blocker: %v", err)
		}
		if _, err := s.Get(ctx, store.KindSecret, "queued"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the abandoned create was stored: %v", err)
		}
	})
	t.Run("cancelled-after-taken/reports-commit", func(t *testing.T) {
		g := newGate()
		s := openTemp(t, Options{testHookBatch: g.hook})
		ctx := testCtx(t)
		cctx, cancel := context.WithCancel(ctx)
		taken := goCreate(cctx, s, "taken", secretOf("x"))
		g.waitHeld(t)
		cancel()
		close(g.release)
		if err := <-taken; err != nil {
			t.Fatalf("a create the writer had taken reported %v after its ctx ended; it was committed", err)
		}
		if _, err := s.Get(ctx, store.KindSecret, "taken"); err != nil {
			t.Fatalf("get: %v", err)
		}
	})
	t.Run("writer-held/reads-go-on-one-time-waits", testReadsWhileWriterHeld)
	t.Run("close-with-queued-writes/they-complete", func(t *testing.T) {
		g := newGate()
		path := filepath.Join(t.TempDir(), "vigil.db")
		s, err := Open(Options{Path: path, testHookBatch: g.hook})
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		blocker := goCreate(ctx, s, "blocker", secretOf("x"))
		g.waitHeld(t)
		queued := goCreate(ctx, s, "queued", secretOf("x"))
		waitQueued(t, s, 1)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		waitClosedForWrites(t, s)
		if err := s.Create(ctx, store.KindSecret, "late", secretOf("x")); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("create after Close began: %v, want ErrClosed", err)
		}
		close(g.release)
		for name, done := range map[string]<-chan error{"blocker": blocker, "queued": queued, "close": closed} {
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if _, err := s.Get(ctx, store.KindSecret, "queued"); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("get after close: %v, want ErrClosed", err)
		}
		again := openAt(t, path)
		if _, err := again.Get(ctx, store.KindSecret, "queued"); err != nil {
			t.Fatalf("the write queued before Close is not in the file: %v", err)
		}
	})
}

// waitClosedForWrites polls until Close has shut the writer's gate.
func waitClosedForWrites(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !writerClosed(s.w) {
		if time.Now().After(deadline) {
			t.Fatal("Close did not refuse new writes within 30s")
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
}

// writerClosed reads w.closed without blocking behind a pending Close.
func writerClosed(w *writer) bool {
	if !w.gate.TryRLock() {
		return false
	}
	defer w.gate.RUnlock()
	return w.closed
}

// TestGetTakeOrAbandon races the writer taking a read against the reader
// giving up on it (the patience runs out): whichever wins, a one-time
// secret goes to exactly one reader and is never lost (a read the writer
// took and ran is answered with its result, never abandoned). The patience
// varies so that both outcomes, and the close calls between them, occur.
func TestGetTakeOrAbandon(t *testing.T) {
	s := openTemp(t, Options{})
	ctx := testCtx(t)
	patience := []time.Duration{time.Nanosecond, 20 * time.Microsecond, 100 * time.Microsecond, time.Millisecond}
	const secrets, readers = 8, 8
	var gets int64
	deadline := time.Now().Add(time.Minute)
	for round := 0; round < 20 || s.fallbacks.Load() == 0 || s.fallbacks.Load() == gets; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d rounds: %d of %d reads on the fallback path; want some of each path", round, s.fallbacks.Load(), gets)
		}
		s.readPatience = patience[round%len(patience)]
		ids := newIDs(t, secrets)
		for _, id := range ids {
			if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: []byte(id), TTL: time.Hour, OneTime: true}); err != nil {
				t.Fatal(err)
			}
		}
		fire := make(chan struct{})
		results := armRace(s, readers, ids, fire)
		close(fire)
		r := <-results
		if r.err != nil {
			t.Fatalf("round %d: %v", round, r.err)
		}
		for i, n := range r.wins {
			if n != 1 {
				t.Fatalf("round %d (patience %v): secret %d has %d winners, want 1", round, s.readPatience, i, n)
			}
		}
		gets += secrets * readers
	}
	t.Logf("%d of %d reads on the fallback path", s.fallbacks.Load(), gets)
}

// testReadsWhileWriterHeld holds the writer inside a batch: a read it
// cannot take in time goes to the reader pool and answers, while a one-time
// read, which needs the writer to claim it, waits for it and then gets the
// secret, once.
func testReadsWhileWriterHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ctx := testCtx(t)
	// Seed through another store: the gate holds this one's first batch.
	seed := openAt(t, path)
	if err := seed.Create(ctx, store.KindSecret, "kept", secretOf("kept")); err != nil {
		t.Fatal(err)
	}
	if err := seed.Create(ctx, store.KindSecret, "once", store.Secret{Data: []byte("once"), TTL: time.Hour, OneTime: true}); err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}
	g := newGate()
	s, err := Open(Options{Path: path, testHookBatch: g.hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	blocker := goCreate(ctx, s, "blocker", secretOf("x"))
	g.waitHeld(t)

	if got, err := s.Get(ctx, store.KindSecret, "kept"); err != nil || string(got.Data) != "kept" {
		t.Fatalf("read while the writer is held: %q, %v", got.Data, err)
	}
	if _, err := s.Get(ctx, store.KindSecret, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read of a missing id while the writer is held: %v", err)
	}
	once := make(chan store.Secret, 1)
	go func() {
		sec, err := s.Get(ctx, store.KindSecret, "once")
		if err != nil {
			t.Errorf("one-time read: %v", err)
		}
		once <- sec
	}()
	select {
	case sec := <-once:
		t.Fatalf("a one-time read finished while the writer was held: %q", sec.Data)
	default:
	}
	close(g.release)
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	if sec := <-once; string(sec.Data) != "once" || !sec.OneTime {
		t.Fatalf("one-time read after the writer went on: %q one-time %v", sec.Data, sec.OneTime)
	}
	if _, err := s.Get(ctx, store.KindSecret, "once"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second one-time read: %v, want ErrNotFound", err)
	}
}
