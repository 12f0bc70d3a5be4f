package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// createOp stores sec unless a live secret has the id.
func createOp(kind store.Kind, id string, sec store.Secret) writeFunc {
	data := sec.Data
	if data == nil {
		data = []byte{} // nil would bind as NULL
	}
	return func(ctx context.Context, st *txStmts) (store.Secret, error) {
		now := nowMillis()
		res, err := st.create.ExecContext(ctx, int64(kind), id, data, int64(sec.TTL),
			sec.OneTime, now+sec.TTL.Milliseconds(), now)
		if err != nil {
			return store.Secret{}, classify("create", err)
		}
		return store.Secret{}, changedOne(res, store.ErrExists)
	}
}

// claimOp deletes a live one-time secret and returns it.
func claimOp(kind store.Kind, id string) writeFunc {
	return func(ctx context.Context, st *txStmts) (store.Secret, error) {
		sec := store.Secret{OneTime: true}
		var ttl int64
		err := st.claim.QueryRowContext(ctx, int64(kind), id, nowMillis()).Scan(&sec.Data, &ttl)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Secret{}, store.ErrNotFound
		}
		if err != nil {
			return store.Secret{}, classify("claim one-time secret", err)
		}
		sec.TTL = time.Duration(ttl)
		return sec, nil
	}
}

// deleteOp deletes a live secret.
func deleteOp(kind store.Kind, id string) writeFunc {
	return func(ctx context.Context, st *txStmts) (store.Secret, error) {
		res, err := st.del.ExecContext(ctx, int64(kind), id, nowMillis())
		if err != nil {
			return store.Secret{}, classify("delete", err)
		}
		return store.Secret{}, changedOne(res, store.ErrNotFound)
	}
}

// changedOne returns none if the statement changed no row.
func changedOne(res sql.Result, none error) error {
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return classify("count changed rows", err)
	case n == 0:
		return none
	}
	return nil
}
