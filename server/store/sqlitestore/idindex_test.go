package sqlitestore

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// A transaction's changes reach the index only when applied, and a reset
// (the next transaction, after a rollback) drops them.
func TestIDTxAppliesOnlyOnCommit(t *testing.T) {
	x := newIDIndex()
	a, b := idKey{store.KindSecret, "a"}, idKey{store.KindSecret, "b"}
	x.merge([]caughtRow{{key: a, rid: 1, expires: 100}})

	tx := newIDTx(x)
	tx.del(a)
	tx.add(b, idRow{rid: 2, expires: 100})
	if _, ok := tx.get(a); ok {
		t.Fatal("the transaction still sees the entry it deleted")
	}
	if r, ok := tx.get(b); !ok || r.rid != 2 {
		t.Fatalf("the transaction does not see its own add: %v %v", r, ok)
	}
	if _, ok := x.get(b); ok {
		t.Fatal("an add reached the index before the commit")
	}
	tx.reset() // rolled back
	if _, ok := x.get(a); !ok {
		t.Fatal("a rolled-back delete reached the index")
	}
	if _, ok := tx.get(b); ok {
		t.Fatal("a rolled-back add is still visible to the next transaction")
	}

	tx.add(b, idRow{rid: 2, expires: 100})
	tx.del(b) // created and claimed in one transaction
	tx.del(a)
	tx.apply()
	if _, ok := x.get(a); ok {
		t.Fatal("a committed delete did not reach the index")
	}
	if _, ok := x.get(b); ok {
		t.Fatal("an id added and deleted in one transaction is in the index")
	}
	if got := x.caughtUpTo(); got != 2 {
		t.Fatalf("seen = %d after committing rowid 2, want 2", got)
	}
}

// A catch-up that read an older snapshot cannot bring back an entry the
// writer has deleted since: rows at or below seen are skipped.
func TestIDIndexMergeSkipsSeenRows(t *testing.T) {
	x := newIDIndex()
	a, b := idKey{store.KindSecret, "a"}, idKey{store.KindFile, "b"}
	tx := newIDTx(x)
	tx.add(a, idRow{rid: 5, expires: 100})
	tx.apply()
	tx.del(a)
	tx.apply()
	x.merge([]caughtRow{{key: a, rid: 5, expires: 100}, {key: b, rid: 6, expires: 50}})
	if _, ok := x.get(a); ok {
		t.Fatal("a stale catch-up brought back a deleted entry")
	}
	if r, ok := x.get(b); !ok || r.rid != 6 {
		t.Fatalf("a new row was not merged: %v %v", r, ok)
	}
	if n := x.purge(50); n != 1 || x.len() != 0 {
		t.Fatalf("purge at the expiry dropped %d, %d left; want 1, 0", n, x.len())
	}
}

// Two stores on one file, as two processes are during a reload: each finds
// what the other created (the writer's and the reader pool's catch-ups),
// and an entry the other made stale is neither returned nor in the way of
// a new create.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "vigil.db")
	a, b := openAt(t, path), openAt(t, path)
	once := store.Secret{Data: []byte("once"), TTL: time.Hour, OneTime: true}
	kept := store.Secret{Data: []byte("kept"), TTL: time.Hour}

	if err := a.Create(ctx, store.KindSecret, "x", once); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(ctx, store.KindFile, "y", kept); err != nil {
		t.Fatal(err)
	}
	// b's reader pool: Status catches up.
	if one, err := b.Status(ctx, store.KindSecret, "x"); err != nil || !one {
		t.Fatalf("b's status of a's one-time secret: %v %v", one, err)
	}
	// b's writer: the id is taken, though b has not read it.
	if err := b.Create(ctx, store.KindFile, "y", kept); !errors.Is(err, store.ErrExists) {
		t.Fatalf("b created over a's live secret: %v, want ErrExists", err)
	}
	// a claims x; b's entry for it is now stale.
	if sec, err := a.Get(ctx, store.KindSecret, "x"); err != nil || string(sec.Data) != "once" {
		t.Fatalf("a's claim: %q %v", sec.Data, err)
	}
	if _, err := b.Status(ctx, store.KindSecret, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b's status of a claimed secret: %v, want ErrNotFound", err)
	}
	if _, err := b.Get(ctx, store.KindSecret, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b's read of a claimed secret: %v, want ErrNotFound", err)
	}
	// The id is free again, in both.
	if err := b.Create(ctx, store.KindSecret, "x", kept); err != nil {
		t.Fatalf("b's create of a claimed id: %v", err)
	}
	if sec, err := a.Get(ctx, store.KindSecret, "x"); err != nil || string(sec.Data) != "kept" {
		t.Fatalf("a's read of b's new secret under a reused id: %q %v", sec.Data, err)
	}
	// a claims z, which b has looked up, and creates z again: b's entry
	// points at the claimed row, and b's reader pool still finds the new one.
	if err := a.Create(ctx, store.KindSecret, "z", once); err != nil {
		t.Fatal(err)
	}
	if one, err := b.Status(ctx, store.KindSecret, "z"); err != nil || !one {
		t.Fatalf("b's status of z: %v %v", one, err)
	}
	if _, err := a.Get(ctx, store.KindSecret, "z"); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(ctx, store.KindSecret, "z", kept); err != nil {
		t.Fatal(err)
	}
	if one, err := b.Status(ctx, store.KindSecret, "z"); err != nil || one {
		t.Fatalf("b's status of z created again: %v %v, want found, not one-time", one, err)
	}
	if sec, err := b.read(ctx, store.KindSecret, "z"); err != nil || string(sec.Data) != "kept" {
		t.Fatalf("b's read on the pool of z created again: %q %v", sec.Data, err)
	}
	// b deletes what a created; a's entry is stale, and a create replaces it.
	if err := b.Delete(ctx, store.KindFile, "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, store.KindFile, "y"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a's read of a secret b deleted: %v, want ErrNotFound", err)
	}
	if err := a.Create(ctx, store.KindFile, "y", once); err != nil {
		t.Fatalf("a's create of an id b deleted: %v", err)
	}
	if sec, err := b.Get(ctx, store.KindFile, "y"); err != nil || string(sec.Data) != "once" {
		t.Fatalf("b's read of a's new secret: %q %v", sec.Data, err)
	}
}

// A file made before secrets_v2 (the table keyed by (kind, id)) has its live
// secrets moved at Open, the expired ones dropped, and its old table gone.
func TestOpenMovesTheOldTable(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "vigil.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for _, q := range []string{
		`CREATE TABLE secrets (kind INTEGER NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,
			ttl_ns INTEGER NOT NULL, one_time INTEGER NOT NULL, expires_at INTEGER NOT NULL,
			PRIMARY KEY (kind, id))`,
		`CREATE INDEX secrets_expires_at ON secrets (expires_at)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	rows := []struct {
		kind    store.Kind
		id      string
		data    string
		oneTime bool
		expires int64
	}{
		{store.KindSecret, "live", "one", true, now + 3600_000},
		{store.KindFile, "live", "two", false, now + 3600_000},
		{store.KindSecret, "gone", "three", false, now - 1},
	}
	for _, r := range rows {
		if _, err := old.Exec(`INSERT INTO secrets VALUES (?, ?, ?, ?, ?, ?)`, int64(r.kind), r.id, []byte(r.data),
			int64(time.Hour), r.oneTime, r.expires); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	if sec, err := s.Get(ctx, store.KindSecret, "live"); err != nil || string(sec.Data) != "one" || !sec.OneTime || sec.TTL != time.Hour {
		t.Fatalf("moved one-time secret: %+v %v", sec, err)
	}
	if sec, err := s.Get(ctx, store.KindFile, "live"); err != nil || string(sec.Data) != "two" || sec.OneTime {
		t.Fatalf("moved file: %+v %v", sec, err)
	}
	if _, err := s.Get(ctx, store.KindSecret, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired secret of the old table: %v, want ErrNotFound", err)
	}
	var n int
	if err := s.readers.QueryRowContext(ctx, sqlV1Exists).Scan(&n); err != nil || n != 0 {
		t.Fatalf("old table still there: %d %v", n, err)
	}
	// A second Open of the moved file moves nothing and loses nothing.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if sec, err := s2.Get(ctx, store.KindFile, "live"); err != nil || string(sec.Data) != "two" {
		t.Fatalf("after reopening: %q %v", sec.Data, err)
	}
}

// A new file gets pageSize; a file made with another size keeps it.
func TestPageSize(t *testing.T) {
	ctx := testCtx(t)
	s := openTemp(t, Options{})
	var size int
	if err := s.readers.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil || size != pageSize {
		t.Fatalf("new file: page size %d, %v; want %d", size, err, pageSize)
	}

	path := filepath.Join(t.TempDir(), "vigil.db")
	// SQLite's default page size, 4096 bytes.
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s2 := openAt(t, path)
	if err := s2.readers.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil || size != 4096 {
		t.Fatalf("existing file: page size %d, %v; want 4096 kept", size, err)
	}
	if err := s2.Create(ctx, store.KindSecret, "a", store.Secret{Data: []byte("x"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if sec, err := s2.Get(ctx, store.KindSecret, "a"); err != nil || string(sec.Data) != "x" {
		t.Fatalf("on the 4 KiB file: %q %v", sec.Data, err)
	}
}
