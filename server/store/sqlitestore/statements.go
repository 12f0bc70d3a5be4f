package sqlitestore

import "database/sql"

// The writes, each one statement, on the writer's connection. The table
// has no index on the id: the rowid comes from the in-memory idIndex, and
// every statement that takes one also checks the row's kind and id, so a
// stale entry can only make a secret "not found", never return another.
const (
	sqlInsert = `INSERT INTO secrets_v2 (kind, id, expires_at, one_time, ttl_ns, data)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)`
	// The expiry of the row that holds an id, before a create replaces an
	// expired one.
	sqlHolder = `SELECT expires_at FROM secrets_v2 WHERE rid = ?1 AND kind = ?2 AND id = ?3`
	// Get in the writer's transaction: read, then delete a one-time row by
	// its rowid (the transaction holds the write lock meanwhile).
	sqlGetRow = `SELECT data, ttl_ns, one_time FROM secrets_v2
		WHERE rid = ?1 AND kind = ?2 AND id = ?3 AND expires_at > ?4`
	sqlDeleteRow = `DELETE FROM secrets_v2 WHERE rid = ?1`
	// The claim after a read on the reader pool (see Store.Get): delete and
	// return in one statement.
	sqlClaim = `DELETE FROM secrets_v2
		WHERE rid = ?1 AND kind = ?2 AND id = ?3 AND expires_at > ?4 AND one_time
		RETURNING data, ttl_ns`
	sqlDelete = `DELETE FROM secrets_v2 WHERE rid = ?1 AND kind = ?2 AND id = ?3 AND expires_at > ?4`
	// The rows another process added since this one last looked (see
	// idIndex); the columns come before data, so a large row's overflow
	// pages are not read.
	sqlCatchUp = `SELECT rid, kind, id, expires_at FROM secrets_v2 WHERE rid > ?1 ORDER BY rid`
	// The id map's load at Open: the live secrets, from the expiry index
	// (which covers these columns), and the highest rowid, in one snapshot.
	sqlLoad      = `SELECT rid, kind, id, expires_at FROM secrets_v2 WHERE expires_at > ?1`
	sqlMaxRid    = `SELECT coalesce(max(rid), 0) FROM secrets_v2`
	sqlCountLive = `SELECT count(*) FROM secrets_v2 WHERE expires_at > ?1`
	// A checkpoint that waits for no lock: the maintainer's background
	// copies and the writer's checkpoint between two batches.
	sqlCheckpoint = `PRAGMA wal_checkpoint(PASSIVE)`
)

// The reads on the reader pool, by a rowid from the index. Every one filters
// on expires_at, so an expired row is never returned even before the sweep
// removes it. get leaves out the data of a one-time secret: the claim
// returns it.
const (
	sqlGet = `SELECT CASE WHEN one_time THEN NULL ELSE data END, ttl_ns, one_time
		FROM secrets_v2 WHERE rid = ?1 AND kind = ?2 AND id = ?3 AND expires_at > ?4`
	sqlStatus = `SELECT one_time FROM secrets_v2 WHERE rid = ?1 AND kind = ?2 AND id = ?3 AND expires_at > ?4`
	sqlPing   = `SELECT 1`
)

// readStmts are prepared on the reader pool (on each connection as it is
// first used); parsing the SQL would otherwise cost more than running it.
type readStmts struct {
	get, status, ping, catchUp *sql.Stmt
}

func prepareReads(db *sql.DB) (*readStmts, error) {
	var st readStmts
	if err := prepareAll(db, []stmtSpec{{&st.get, sqlGet}, {&st.status, sqlStatus}, {&st.ping, sqlPing}, {&st.catchUp, sqlCatchUp}}); err != nil {
		return nil, classify("prepare read statements", err)
	}
	return &st, nil
}

func (st *readStmts) close() { closeAll(st.get, st.status, st.ping, st.catchUp) }

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
