package walbatch

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite"
)

// dsn opens path in WAL mode, through this VFS when shim is true, with
// synchronous=NORMAL unless sync says otherwise (NORMAL is vigil-server's
// default: no sync at commit, so the shim's own flush is all that puts a
// commit in the file; FULL syncs the WAL, which flushes first). The WAL is never
// checkpointed on its own (the tests do it when they want), and a 64 KiB
// page cache makes SQLite spill pages of a big transaction to the WAL
// before its commit, and rewrite them there.
func dsn(path string, shim bool, sync ...string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "synchronous("+strings.Join(append(sync, "NORMAL")[:1], "")+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_pragma", "cache_size(-64)")
	q.Set("_txlock", "immediate")
	if shim {
		q.Set("vfs", Name)
	}
	return (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}).String()
}

func open(t *testing.T, path string, shim bool, sync ...string) *sql.DB {
	t.Helper()
	if err := Register(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, shim, sync...))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// model is what the table must hold.
type model map[int64][]byte

// check reads the whole table through db and compares it with m, and has
// SQLite check the file's structure.
func (m model) check(t *testing.T, db *sql.DB, when string) {
	t.Helper()
	m.compare(t, db, when)
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("%s: integrity_check: %q, %v", when, ok, err)
	}
}

// compare reads the whole table through db and compares it with m.
func (m model) compare(t *testing.T, db *sql.DB, when string) {
	t.Helper()
	rows, err := db.Query(`SELECT k, v FROM kv`)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var k int64
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if want, ok := m[k]; !ok || !bytes.Equal(v, want) {
			t.Fatalf("%s: row %d holds %d bytes, want %d (present in model: %v)", when, k, len(v), len(want), ok)
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if seen != len(m) {
		t.Fatalf("%s: %d rows, want %d", when, seen, len(m))
	}
}

// compareKeys reads the given keys and the row count through db and
// compares them with m.
func (m model) compareKeys(t *testing.T, db *sql.DB, keys map[int64]bool, when string) {
	t.Helper()
	for k := range keys {
		var v []byte
		err := db.QueryRow(`SELECT v FROM kv WHERE k = ?`, k).Scan(&v)
		want, ok := m[k]
		switch {
		case errors.Is(err, sql.ErrNoRows) && !ok:
		case err != nil:
			t.Fatalf("%s: read row %d: %v (present in model: %v)", when, k, err, ok)
		case !bytes.Equal(v, want):
			t.Fatalf("%s: row %d holds %d bytes, want %d (present in model: %v)", when, k, len(v), len(want), ok)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM kv`).Scan(&n); err != nil || n != len(m) {
		t.Fatalf("%s: %d rows (%v), want %d", when, n, err, len(m))
	}
}

// crashImage copies the database file and its WAL, as a crash of every
// process would leave them (the shared-memory index is rebuilt from the
// WAL, frame by frame, checksums verified), opens the copy with the plain
// VFS and checks it against m: a committed frame that had not reached the
// file, or one with a stale checksum, would cut the recovered WAL short.
func (m model) crashImage(t *testing.T, path, when string) {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, path+suffix, filepath.Join(dir, "copy.db"+suffix))
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, "copy.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m.check(t, db, when+", recovered from a copy of the files")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}

// TestEveryCommitIsInTheFile runs random transactions through the shim:
// small and large values, inserts, updates and deletes, transactions big
// enough to spill and rewrite pages before their commit and bigger than the
// buffer, checkpoints that let the WAL start over. After each commit another
// connection (the plain VFS, its own file descriptors) must read exactly
// what was committed; at intervals a copy of the files must recover it.
//
// The buffer-of-one-frame case shrinks the buffer so that it fills at every
// other frame, the commit frame's among them: the commit must still be
// written before SQLite publishes it.
func TestEveryCommitIsInTheFile(t *testing.T) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		t.Run("synchronous-"+strings.ToLower(sync), func(t *testing.T) { testEveryCommit(t, sync) })
	}
	t.Run("buffer-of-one-frame", func(t *testing.T) {
		defer func(n int64) { maxBuffer = n }(maxBuffer)
		maxBuffer = frameHeaderSize + 4096 + frameHeaderSize
		testEveryCommit(t, "NORMAL")
	})
}

func testEveryCommit(t *testing.T, sync string) {
	path := filepath.Join(t.TempDir(), "t.db")
	w := open(t, path, true, sync)
	r := open(t, path, false)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 100, 1000, 5000, 30000}
	m := model{}
	for txn := range 240 {
		tx, err := w.Begin()
		if err != nil {
			t.Fatal(err)
		}
		touched := map[int64]bool{}
		ops := 1 + rng.IntN(20)
		if txn%40 == 39 {
			ops = 400 // spills past the 64 KiB cache, rewrites spilled pages
		}
		for range ops {
			k := int64(rng.IntN(300))
			touched[k] = true
			switch rng.IntN(4) {
			case 0:
				if _, err := tx.Exec(`DELETE FROM kv WHERE k = ?`, k); err != nil {
					t.Fatal(err)
				}
				delete(m, k)
			default:
				// Distinct per write: a key, a counter and filler.
				v := bytes.Repeat([]byte{byte(rng.Uint32())}, sizes[rng.IntN(len(sizes))])
				copy(v, fmt.Sprintf("%d/%d", k, txn))
				if _, err := tx.Exec(`INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, v); err != nil {
					t.Fatal(err)
				}
				m[k] = v
			}
		}
		if txn == 120 { // more than the 4 MiB buffer in one transaction
			v := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
			if _, err := tx.Exec(`INSERT INTO kv (k, v) VALUES (1000, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, v); err != nil {
				t.Fatal(err)
			}
			m[1000] = v
			touched[1000] = true
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		when := fmt.Sprintf("after transaction %d", txn)
		m.compareKeys(t, r, touched, when)
		if txn%20 == 19 {
			m.compare(t, r, when)
		}
		switch {
		case txn%60 == 59:
			m.crashImage(t, path, when)
			// The WAL starts over at the next commit, from offset 0.
			if _, err := r.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
		case txn%25 == 24:
			if _, err := r.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				t.Fatal(err)
			}
		}
	}
	m.crashImage(t, path, "at the end")
}

// TestOneWritePerCommit checks the point of the shim: a transaction's
// frames go to the file in one write (two when it starts a new WAL with its
// header), not two per frame; a big one in writes of at most maxWrite.
func TestOneWritePerCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	w := open(t, path, true)
	r := open(t, path, false)
	insert := func(n, size int) int64 {
		before := baseWrites.Load()
		tx, err := w.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if _, err := tx.Exec(`INSERT INTO kv (v) VALUES (?)`, make([]byte, size)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return baseWrites.Load() - before
	}
	insert(1, 10) // the first commit writes the WAL header too
	if got := insert(10, 500); got != 1 {
		t.Errorf("a commit of 10 small rows made %d writes, want 1", got)
	}
	// 1 MiB: about 260 frames of 4120 bytes, at most maxWrite a write.
	frames := (1 << 20) / 4096
	want := int64((frames+4)*4120/maxWrite + 1)
	if got := insert(1, 1<<20); got > want || got < want-1 {
		t.Errorf("a commit of 1 MiB made %d writes, want about %d", got, want)
	}
	// Another connection checkpoints the whole WAL: the next commit starts
	// it over with a new header, and appends from there again.
	if _, err := r.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if got := insert(10, 500); got != 2 {
		t.Errorf("the commit that starts the WAL over made %d writes, want 2 (header, frames)", got)
	}
	if got := insert(10, 500); got != 1 {
		t.Errorf("a commit of 10 small rows in the new WAL made %d writes, want 1", got)
	}
}

// TestFullDiskFailsTheCommit fills a small tmpfs: the commit that does not
// fit fails with SQLite's "database or disk is full", and every commit
// before it is intact, for this connection, another, and a copy of the
// files.
func TestFullDiskFailsTheCommit(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("TestFullDiskFailsTheCommit needs root to mount a tmpfs")
		}
		t.Skip("SKIPPED: needs root to mount a tmpfs; the shim's full-disk path is NOT tested")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a 1 MiB tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	path := filepath.Join(dir, "t.db")
	w := open(t, path, true)
	r := open(t, path, false)
	m := model{}
	var err error
	for k := int64(0); k < 1000; k++ {
		v := bytes.Repeat([]byte{byte(k)}, 20000)
		if _, err = w.Exec(`INSERT INTO kv (k, v) VALUES (?, ?)`, k, v); err != nil {
			break
		}
		m[k] = v
	}
	if err == nil || !strings.Contains(err.Error(), "database or disk is full") {
		t.Fatalf("filling a 1 MiB disk: %v; want SQLite's \"database or disk is full\"", err)
	}
	if len(m) == 0 {
		t.Fatal("not even one row fit")
	}
	m.check(t, w, "on the connection whose commit failed")
	m.check(t, r, "on another connection")
	r.Close()
	w.Close()
	// The copy goes to the (roomy) temp dir, not the full tmpfs.
	m.crashImage(t, path, "after the full disk")
}
