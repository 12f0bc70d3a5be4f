package sqlitestore

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// TestWriteLockHeldElsewhere: while another connection (as another process
// would) holds the write lock, writes fail after the busy timeout with
// store.ErrUnavailable, reads go on, and writes work again once it lets go.
func TestWriteLockHeldElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(Options{Path: path, BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := testCtx(t)
	if err := s.Create(ctx, store.KindSecret, "before", secretOf("x")); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}

	err = s.Create(ctx, store.KindSecret, "blocked", secretOf("x"))
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("create while another connection holds the write lock: %v; want ErrUnavailable saying locked", err)
	}
	if _, err := s.Get(ctx, store.KindSecret, "before"); err != nil {
		t.Fatalf("read while the write lock is held elsewhere: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping while the write lock is held elsewhere: %v", err)
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, store.KindSecret, "blocked", secretOf("x")); err != nil {
		t.Fatalf("create after the lock was released: %v", err)
	}
}

// TestReadsPassAWriteStuckOnALock: while the writer waits for the write
// lock another connection holds, with a create to run, a read of a secret
// that is not one-time still answers (the writer does not take it, so Get
// reads on the reader pool after readPatience), and the create completes
// once the lock is released.
func TestReadsPassAWriteStuckOnALock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	// The busy timeout outlasts the test: the create can only finish when
	// the lock is released.
	s, err := Open(Options{Path: path, BusyTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := testCtx(t)
	if err := s.Create(ctx, store.KindSecret, "before", secretOf("kept")); err != nil {
		t.Fatal(err)
	}
	before := s.w.cuts.Load()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	blocked := goCreate(ctx, s, "blocked", secretOf("x"))
	// Wait until the writer has cut the create's batch: it then waits for
	// the lock, and the reads queue behind it.
	deadline := time.Now().Add(30 * time.Second)
	for s.w.cuts.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not pick up the create within 30s")
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}

	got, err := s.Get(ctx, store.KindSecret, "before")
	if err != nil || string(got.Data) != "kept" {
		t.Fatalf("read while a write waits for the lock: %q, %v", got.Data, err)
	}
	if _, err := s.Get(ctx, store.KindSecret, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read of a missing id while a write waits for the lock: %v", err)
	}
	select {
	case err := <-blocked:
		t.Fatalf("the create finished while the lock was held elsewhere: %v", err)
	default:
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; err != nil {
		t.Fatalf("create after the lock was released: %v", err)
	}
}
