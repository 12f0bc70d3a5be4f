package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vigil-sh/vigil/server/store"
)

// idIndex maps a secret's (kind, id) to the rowid of the row that holds it.
//
// The table has no index on the id (see schema): ids are random, so such an
// index had every create and every one-time read dirty a random leaf of it,
// which the WAL took and the maintainer copied into the file again (about
// 4 KiB each time for a 40-byte entry). Rows are appended in rowid order
// instead, and each process keeps this map in memory.
//
// It is complete for every row up to seen, and correct because every
// statement that uses a rowid from it also checks the row's kind and id:
// an entry can only be missing a row another process added since (which a
// catch-up adds), or point at a row that is gone (another process deleted
// it: the statement finds no row, and the writer drops the entry). Rowids
// are never reused (AUTOINCREMENT), so "every row above seen" is exactly
// what another process added since the last catch-up; the writer catches up
// at the start of every transaction, holding the write lock, so inside a
// transaction the map is complete.
//
// Only the writer changes entries, and only after its transaction has
// committed (idTx); catch-ups on the reader pool add rows above seen.
type idIndex struct {
	mu   sync.RWMutex
	rows map[idKey]idRow
	seen int64 // every row with a rowid up to seen has been added (and may since be gone)
}

type idKey struct {
	kind store.Kind
	id   string
}

// idRow is where a secret is, and when it expires (unix ms), so that a read
// of an expired secret needs no statement.
type idRow struct {
	rid, expires int64
}

func newIDIndex() *idIndex { return &idIndex{rows: make(map[idKey]idRow)} }

func (x *idIndex) get(k idKey) (idRow, bool) {
	x.mu.RLock()
	r, ok := x.rows[k]
	x.mu.RUnlock()
	return r, ok
}

func (x *idIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.rows)
}

// caughtUpTo is the highest rowid the index has seen.
func (x *idIndex) caughtUpTo() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.seen
}

// merge adds rows a catch-up read, each a row above the seen it started
// from. A row at or below seen now is skipped: the writer has accounted for
// it since (it may have deleted it), and a catch-up on the reader pool may
// have read an older snapshot.
func (x *idIndex) merge(rows []caughtRow) {
	if len(rows) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	seen := x.seen
	for _, r := range rows {
		if r.rid > seen {
			x.rows[r.key] = idRow{rid: r.rid, expires: r.expires}
			x.seen = max(x.seen, r.rid)
		}
	}
}

// purge drops the entries of secrets that expired at or before now: the
// sweep deletes their rows (this process's, or another's), and a read
// already treats them as gone. It returns how many it dropped.
func (x *idIndex) purge(now int64) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for k, r := range x.rows {
		if r.expires <= now {
			delete(x.rows, k)
			n++
		}
	}
	return n
}

// caughtRow is one row a catch-up read.
type caughtRow struct {
	key          idKey
	rid, expires int64
}

// rowFrom converts a catch-up's columns (rid, kind, id, expires_at).
func rowFrom(rid, kind, id, expires any) (caughtRow, error) {
	r, okR := rid.(int64)
	k, okK := kind.(int64)
	e, okE := expires.(int64)
	var s string
	okI := true
	switch v := id.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		okI = false
	}
	if !okR || !okK || !okE || !okI {
		return caughtRow{}, fmt.Errorf("catch-up row holds %T, %T, %T, %T", rid, kind, id, expires)
	}
	return caughtRow{key: idKey{kind: store.Kind(k), id: s}, rid: r, expires: e}, nil
}

// catchUpRaw reads the rows above the index's seen on the writer's
// connection, inside its transaction, and merges them.
func (x *idIndex) catchUpRaw(ctx context.Context, c *rawConn) error {
	rows, err := c.catchUp.(driver.StmtQueryContext).QueryContext(ctx, named([]driver.Value{x.caughtUpTo()}))
	if err != nil {
		return err
	}
	var got []caughtRow
	dest := make([]driver.Value, 4)
	for {
		err := rows.Next(dest)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rows.Close()
			return err
		}
		r, err := rowFrom(dest[0], dest[1], dest[2], dest[3])
		if err != nil {
			rows.Close()
			return err
		}
		got = append(got, r)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	x.merge(got)
	return nil
}

// catchUpDB reads the rows above the index's seen on the reader pool and
// merges them, when a read there misses the index.
func (x *idIndex) catchUpDB(ctx context.Context, stmt *sql.Stmt) error {
	rows, err := stmt.QueryContext(ctx, x.caughtUpTo())
	if err != nil {
		return err
	}
	defer rows.Close()
	var got []caughtRow
	for rows.Next() {
		var rid, kind, expires int64
		var id string
		if err := rows.Scan(&rid, &kind, &id, &expires); err != nil {
			return err
		}
		got = append(got, caughtRow{key: idKey{kind: store.Kind(kind), id: id}, rid: rid, expires: expires})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	x.merge(got)
	return nil
}

// load fills the empty index at Open, on db (the reader pool), in one read
// transaction: the live secrets, read from the expiry index (it covers
// their columns, so the table's pages are not read), and the highest
// rowid. Expired rows are left out; a read treats them as gone, and a
// create of the same id adds a new row, which the index then points at,
// while the sweep deletes the old one. It returns how many it loaded.
func (x *idIndex) load(ctx context.Context, db *sql.DB, now int64) (int, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var top, live int64
	// The highest rowid first: it starts the read transaction's snapshot,
	// and the queries below read the same one. The count sizes the map:
	// growing it row by row took half of the load's time.
	if err := tx.QueryRowContext(ctx, sqlMaxRid).Scan(&top); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, sqlCountLive, now).Scan(&live); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, sqlLoad, now)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.rows) == 0 {
		x.rows = make(map[idKey]idRow, live)
	}
	n := 0
	for rows.Next() {
		var rid, kind, expires int64
		var id string
		if err := rows.Scan(&rid, &kind, &id, &expires); err != nil {
			return 0, err
		}
		x.rows[idKey{kind: store.Kind(kind), id: id}] = idRow{rid: rid, expires: expires}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	x.seen = max(x.seen, top)
	return n, nil
}

// idTx is the writer's view of the index during one transaction: what its
// statements added and removed, applied to the index only once the
// transaction has committed, and dropped if it rolls back.
type idTx struct {
	x      *idIndex
	adds   map[idKey]idRow
	dels   map[idKey]struct{}
	maxRid int64
}

func newIDTx(x *idIndex) *idTx {
	return &idTx{x: x, adds: make(map[idKey]idRow), dels: make(map[idKey]struct{})}
}

func (t *idTx) reset() {
	clear(t.adds)
	clear(t.dels)
	t.maxRid = 0
}

func (t *idTx) get(k idKey) (idRow, bool) {
	if _, gone := t.dels[k]; gone {
		return idRow{}, false
	}
	if r, ok := t.adds[k]; ok {
		return r, true
	}
	return t.x.get(k)
}

func (t *idTx) add(k idKey, r idRow) {
	delete(t.dels, k)
	t.adds[k] = r
	t.maxRid = max(t.maxRid, r.rid)
}

func (t *idTx) del(k idKey) {
	delete(t.adds, k)
	t.dels[k] = struct{}{}
}

// apply makes the committed transaction's changes visible.
func (t *idTx) apply() {
	if len(t.adds) == 0 && len(t.dels) == 0 {
		return
	}
	x := t.x
	x.mu.Lock()
	for k := range t.dels {
		delete(x.rows, k)
	}
	for k, r := range t.adds {
		x.rows[k] = r
	}
	x.seen = max(x.seen, t.maxRid)
	x.mu.Unlock()
	t.reset()
}
