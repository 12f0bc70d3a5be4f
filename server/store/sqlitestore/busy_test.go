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
