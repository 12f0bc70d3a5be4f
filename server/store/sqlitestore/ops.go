package sqlitestore

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// createOp stores sec unless a live secret has the id.
func createOp(kind store.Kind, id string, sec store.Secret) opFunc {
	data := sec.Data
	if data == nil {
		data = []byte{} // nil would bind as NULL
	}
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		now := nowMillis()
		n, err := execRaw(ctx, c.create, int64(kind), id, data, int64(sec.TTL),
			sec.OneTime, now+sec.TTL.Milliseconds(), now)
		if err != nil {
			return store.Secret{}, classify("create", err)
		}
		return store.Secret{}, changedOne(n, store.ErrExists)
	}
}

// getOp reads a live secret and, if it is one-time, deletes it by its
// rowid. The batch's transaction holds the write lock, so no other
// connection can change the row between the two statements.
func getOp(kind store.Kind, id string) opFunc {
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		var row [4]driver.Value // rowid, data, ttl_ns, one_time
		found, err := queryRow(ctx, c.get, row[:], int64(kind), id, nowMillis())
		switch {
		case err != nil:
			return store.Secret{}, classify("read secret", err)
		case !found:
			return store.Secret{}, store.ErrNotFound
		}
		sec, err := secretFrom(row[1], row[2])
		if err != nil {
			return store.Secret{}, classify("read secret", err)
		}
		oneTime, err := asInt64(row[3])
		if err != nil || oneTime == 0 {
			return sec, classify("read secret", err)
		}
		n, err := execRaw(ctx, c.delRow, row[0])
		if err != nil {
			return store.Secret{}, classify("claim one-time secret", err)
		}
		sec.OneTime = true
		return sec, changedOne(n, store.ErrNotFound)
	}
}

// claimOp deletes a live one-time secret and returns it, in one statement:
// Get uses it after reading on the reader pool, outside the batch's
// transaction.
func claimOp(kind store.Kind, id string) opFunc {
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		var row [2]driver.Value // data, ttl_ns
		found, err := queryRow(ctx, c.claim, row[:], int64(kind), id, nowMillis())
		switch {
		case err != nil:
			return store.Secret{}, classify("claim one-time secret", err)
		case !found:
			return store.Secret{}, store.ErrNotFound
		}
		sec, err := secretFrom(row[0], row[1])
		sec.OneTime = true
		return sec, classify("claim one-time secret", err)
	}
}

// deleteOp deletes a live secret.
func deleteOp(kind store.Kind, id string) opFunc {
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		n, err := execRaw(ctx, c.del, int64(kind), id, nowMillis())
		if err != nil {
			return store.Secret{}, classify("delete", err)
		}
		return store.Secret{}, changedOne(n, store.ErrNotFound)
	}
}

// secretFrom builds a secret from its data and ttl_ns columns.
func secretFrom(data, ttl driver.Value) (store.Secret, error) {
	b, err := asBlob(data)
	if err != nil {
		return store.Secret{}, err
	}
	ns, err := asInt64(ttl)
	if err != nil {
		return store.Secret{}, err
	}
	return store.Secret{Data: b, TTL: time.Duration(ns)}, nil
}

// changedOne returns none if the statement changed no row.
func changedOne(n int64, none error) error {
	if n == 0 {
		return none
	}
	return nil
}
