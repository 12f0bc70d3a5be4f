package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/server/store"
)

// getDelScript is GETDEL for Redis before 6.2: a script runs atomically, so
// only one caller sees the value.
var getDelScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`)

// claim atomically reads and deletes a one-time secret. Among any number of
// concurrent claims only one gets the value; the rest get store.ErrNotFound.
func (s *Store) claim(ctx context.Context, key string) (store.Secret, error) {
	b, err := s.getDel(ctx, key)
	if err := s.result("claim", err); err != nil {
		return store.Secret{}, err
	}
	if b == nil {
		return store.Secret{}, store.ErrNotFound // another reader won
	}
	sec, err := decode(b)
	if err != nil {
		return store.Secret{}, s.result("claim", err)
	}
	return sec, nil
}

func (s *Store) getDel(ctx context.Context, key string) ([]byte, error) {
	if !s.noGetDel.Load() {
		b, err := s.client.GetDel(ctx, key).Bytes()
		if !isUnknownCommand(err) {
			return b, err
		}
		// Nothing ran, so falling back to the script is safe.
		if s.noGetDel.CompareAndSwap(false, true) {
			s.log.Warn("redis has no GETDEL (older than 6.2?); claiming one-time secrets with a Lua script")
		}
	}
	v, err := getDelScript.Run(ctx, s.client, []string{key}).Text()
	if err != nil {
		return nil, err
	}
	return []byte(v), nil
}
