package sqlitestore

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// The operations the writer runs in its transactions. Each finds the row
// through c.ids, which is complete inside the transaction (see idIndex).

// createOp stores sec unless a live secret has the id; an expired one is
// replaced.
func createOp(kind store.Kind, id string, sec store.Secret) opFunc {
	data := sec.Data
	if data == nil {
		data = []byte{} // nil would bind as NULL
	}
	k := idKey{kind: kind, id: id}
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		now := nowMillis()
		if r, ok := c.ids.get(k); ok {
			var row [1]driver.Value // expires_at
			found, err := queryRow(ctx, c.holder, row[:], r.rid, int64(kind), id)
			if err != nil {
				return store.Secret{}, classify("create", err)
			}
			if found {
				exp, err := asInt64(row[0])
				if err != nil {
					return store.Secret{}, classify("create", err)
				}
				if exp > now {
					return store.Secret{}, store.ErrExists
				}
				if _, err := execRaw(ctx, c.delRow, r.rid); err != nil {
					return store.Secret{}, classify("create", err)
				}
			}
			c.ids.del(k)
		}
		expires := now + sec.TTL.Milliseconds()
		rid, err := insertRaw(ctx, c.insert, int64(kind), id, expires, sec.OneTime, int64(sec.TTL), data)
		if err != nil {
			return store.Secret{}, classify("create", err)
		}
		c.ids.add(k, idRow{rid: rid, expires: expires})
		return store.Secret{}, nil
	}
}

// getOp reads a live secret and, if it is one-time, deletes it by its
// rowid. The batch's transaction holds the write lock, so no other
// connection can change the row between the two statements.
func getOp(kind store.Kind, id string) opFunc {
	k := idKey{kind: kind, id: id}
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		now := nowMillis()
		r, ok := c.ids.get(k)
		if !ok || r.expires <= now {
			return store.Secret{}, store.ErrNotFound
		}
		var row [3]driver.Value // data, ttl_ns, one_time
		found, err := queryRow(ctx, c.get, row[:], r.rid, int64(kind), id, now)
		switch {
		case err != nil:
			return store.Secret{}, classify("read secret", err)
		case !found:
			c.ids.del(k) // another process deleted it
			return store.Secret{}, store.ErrNotFound
		}
		sec, err := secretFrom(row[0], row[1])
		if err != nil {
			return store.Secret{}, classify("read secret", err)
		}
		oneTime, err := asInt64(row[2])
		if err != nil || oneTime == 0 {
			return sec, classify("read secret", err)
		}
		n, err := execRaw(ctx, c.delRow, r.rid)
		if err != nil {
			return store.Secret{}, classify("claim one-time secret", err)
		}
		c.ids.del(k)
		sec.OneTime = true
		return sec, changedOne(n, store.ErrNotFound)
	}
}

// claimOp deletes a live one-time secret and returns it, in one statement:
// Get uses it after reading on the reader pool, outside the batch's
// transaction.
func claimOp(kind store.Kind, id string) opFunc {
	k := idKey{kind: kind, id: id}
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		now := nowMillis()
		r, ok := c.ids.get(k)
		if !ok || r.expires <= now {
			return store.Secret{}, store.ErrNotFound
		}
		var row [2]driver.Value // data, ttl_ns
		found, err := queryRow(ctx, c.claim, row[:], r.rid, int64(kind), id, now)
		switch {
		case err != nil:
			return store.Secret{}, classify("claim one-time secret", err)
		case !found:
			return store.Secret{}, store.ErrNotFound
		}
		c.ids.del(k)
		sec, err := secretFrom(row[0], row[1])
		sec.OneTime = true
		return sec, classify("claim one-time secret", err)
	}
}

// deleteOp deletes a live secret.
func deleteOp(kind store.Kind, id string) opFunc {
	k := idKey{kind: kind, id: id}
	return func(ctx context.Context, c *rawConn) (store.Secret, error) {
		now := nowMillis()
		r, ok := c.ids.get(k)
		if !ok || r.expires <= now {
			return store.Secret{}, store.ErrNotFound
		}
		n, err := execRaw(ctx, c.del, r.rid, int64(kind), id, now)
		if err != nil {
			return store.Secret{}, classify("delete", err)
		}
		c.ids.del(k) // deleted now, or by another process before
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
