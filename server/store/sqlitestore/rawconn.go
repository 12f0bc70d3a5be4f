package sqlitestore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// rawConn is the writer's connection as the driver sees it, with the
// writer's statements prepared on it.
//
// The writer runs each batch on the driver connection directly rather than
// through database/sql: for statements that take a few microseconds in
// SQLite, database/sql's per-call work (locking, a goroutine per
// transaction, converting and copying every value) cost about as much again,
// and the writer is the one goroutine every write waits for.
type rawConn struct {
	dc                                                     driver.Conn // the connection the statements belong to
	insert, holder, claim, del, get, delRow, catchUp, ckpt driver.Stmt
	// ids is the writer's view of the id index in the current transaction.
	ids *idTx
}

// withRawConn runs f on the writer database's one connection, taken from
// the pool for the duration of f (so the maintainer's statements wait for
// it, as they waited for the writer's transactions before). The statements
// are prepared the first time, and again should database/sql ever replace
// the connection.
func (w *writer) withRawConn(f func(c *rawConn) error) error {
	ctx := context.Background()
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return classify("take the write connection", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		// Statements stay valid across calls while the pool keeps the
		// connection (no lifetime or idle limit is set on it); the identity
		// check cannot be fooled by a new connection at a reused address,
		// since w.raw keeps the old one reachable. A replaced connection's
		// statements are dropped, not closed: database/sql has closed their
		// connection already, and finalizing on a closed connection is not
		// safe. SQLite then keeps that connection's memory and files open
		// until the process exits; database/sql replaces a connection only
		// after it reports itself bad (with modernc, after an interrupted
		// statement), and the writer's statements are never interrupted, so
		// this is a safety net, not a path (TestWriterConnectionReplaced).
		if w.raw == nil || w.raw.dc != dc {
			raw, err := prepareRaw(ctx, dc.(driver.Conn))
			if err != nil {
				return err
			}
			raw.ids = w.tx
			w.raw = raw
		}
		return f(w.raw)
	})
}

// prepareRaw prepares the writer's statements on dc, all or none.
func prepareRaw(ctx context.Context, dc driver.Conn) (*rawConn, error) {
	c := &rawConn{dc: dc}
	specs := []struct {
		dst   *driver.Stmt
		query string
	}{{&c.insert, sqlInsert}, {&c.holder, sqlHolder}, {&c.claim, sqlClaim}, {&c.del, sqlDelete},
		{&c.get, sqlGetRow}, {&c.delRow, sqlDeleteRow}, {&c.catchUp, sqlCatchUp}, {&c.ckpt, sqlCheckpoint}}
	for i, p := range specs {
		s, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, p.query)
		if err != nil {
			for _, done := range specs[:i] {
				(*done.dst).Close()
			}
			return nil, classify("prepare write statements", err)
		}
		*p.dst = s
	}
	return c, nil
}

// close finalizes the statements.
func (c *rawConn) close() error {
	return errors.Join(c.insert.Close(), c.holder.Close(), c.claim.Close(), c.del.Close(), c.get.Close(),
		c.delRow.Close(), c.catchUp.Close(), c.ckpt.Close())
}

// begin starts an IMMEDIATE transaction (the DSN's _txlock).
func (c *rawConn) begin(ctx context.Context) (driver.Tx, error) {
	return c.dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
}

// execRaw runs s and returns how many rows it changed.
func execRaw(ctx context.Context, s driver.Stmt, args ...driver.Value) (int64, error) {
	res, err := s.(driver.StmtExecContext).ExecContext(ctx, named(args))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// insertRaw runs s, an INSERT, and returns the new row's rowid.
func insertRaw(ctx context.Context, s driver.Stmt, args ...driver.Value) (int64, error) {
	res, err := s.(driver.StmtExecContext).ExecContext(ctx, named(args))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// queryRow runs s and stores the first row's columns in dest; false if
// there was no row. Values are the driver's own: a blob arrives as a fresh
// []byte (nil when empty), integers as int64.
func queryRow(ctx context.Context, s driver.Stmt, dest []driver.Value, args ...driver.Value) (found bool, err error) {
	rows, err := s.(driver.StmtQueryContext).QueryContext(ctx, named(args))
	if err != nil {
		return false, err
	}
	defer func() {
		// Closing resets the statement; for DELETE ... RETURNING that is
		// where a late error would surface.
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	switch err := rows.Next(dest); {
	case errors.Is(err, io.EOF):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// named numbers args from 1, as database/sql would.
func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

// asInt64 and asBlob read a driver value of a column declared INTEGER or
// BLOB NOT NULL.
func asInt64(v driver.Value) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("column holds %T, want an integer", v)
	}
	return n, nil
}

func asBlob(v driver.Value) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case nil: // the driver's empty blob, or the NULL of a one-time read
		return nil, nil
	}
	return nil, fmt.Errorf("column holds %T, want a blob", v)
}
