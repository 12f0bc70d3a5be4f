package sqlitestore

import "database/sql"

// The writes, each one statement. Create replaces a row only when it has
// expired, so a live id is never overwritten: 0 rows changed means it
// exists. The claim deletes and returns in one statement; read-then-delete
// in a transaction would fail with SQLITE_BUSY_SNAPSHOT across processes.
const (
	sqlCreate = `INSERT INTO secrets (kind, id, data, ttl_ns, one_time, expires_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (kind, id) DO UPDATE SET
			data = excluded.data, ttl_ns = excluded.ttl_ns,
			one_time = excluded.one_time, expires_at = excluded.expires_at
		WHERE secrets.expires_at <= ?7`
	sqlClaim = `DELETE FROM secrets
		WHERE kind = ? AND id = ? AND expires_at > ? AND one_time
		RETURNING data, ttl_ns`
	sqlDelete = `DELETE FROM secrets WHERE kind = ? AND id = ? AND expires_at > ?`
	// Get in the writer's transaction: read, then delete a one-time row by
	// its rowid (the transaction holds the write lock meanwhile).
	sqlGetRow    = `SELECT rowid, data, ttl_ns, one_time FROM secrets WHERE kind = ? AND id = ? AND expires_at > ?`
	sqlDeleteRow = `DELETE FROM secrets WHERE rowid = ?`
	// A checkpoint that waits for no lock: the maintainer's background
	// copies and the writer's checkpoint between two batches.
	sqlCheckpoint = `PRAGMA wal_checkpoint(PASSIVE)`
)

// The reads on the reader pool. Every one filters on expires_at, so an
// expired row is never returned even before the sweep removes it. get leaves
// out the data of a one-time secret: the claim returns it.
const (
	sqlGet = `SELECT CASE WHEN one_time THEN NULL ELSE data END, ttl_ns, one_time
		FROM secrets WHERE kind = ? AND id = ? AND expires_at > ?`
	sqlStatus = `SELECT one_time FROM secrets WHERE kind = ? AND id = ? AND expires_at > ?`
	sqlPing   = `SELECT 1`
)

// readStmts are prepared on the reader pool (on each connection as it is
// first used); parsing the SQL would otherwise cost more than running it.
type readStmts struct {
	get, status, ping *sql.Stmt
}

func prepareReads(db *sql.DB) (*readStmts, error) {
	var st readStmts
	if err := prepareAll(db, []stmtSpec{{&st.get, sqlGet}, {&st.status, sqlStatus}, {&st.ping, sqlPing}}); err != nil {
		return nil, classify("prepare read statements", err)
	}
	return &st, nil
}

func (st *readStmts) close() { closeAll(st.get, st.status, st.ping) }

// stmtSpec is a statement to prepare and where to keep it.
type stmtSpec struct {
	dst   **sql.Stmt
	query string
}

// prepareAll prepares every spec, or none.
func prepareAll(db *sql.DB, specs []stmtSpec) error {
	for i, p := range specs {
		s, err := db.Prepare(p.query)
		if err != nil {
			for _, done := range specs[:i] {
				(*done.dst).Close()
			}
			return err
		}
		*p.dst = s
	}
	return nil
}

func closeAll(stmts ...*sql.Stmt) {
	for _, s := range stmts {
		s.Close()
	}
}
