package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// Create stores sec with SET key value NX EX ttl: store.ErrExists if the id
// is taken, never an overwrite. sec.TTL must be a whole number of seconds.
// A nil error means Redis acknowledged the write; whether it survives a
// Redis restart depends on Redis's persistence settings (see DOC.md).
func (s *Store) Create(ctx context.Context, kind store.Kind, id string, sec store.Secret) error {
	if err := checkKey(kind, id); err != nil {
		return fmt.Errorf("redis create: %w", err)
	}
	ttl, err := ttlSeconds(sec.TTL)
	if err != nil {
		return fmt.Errorf("redis create: %w", err)
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	set, err := s.client.SetNX(ctx, s.key(kind, id), encode(sec, ttl), time.Duration(ttl)*time.Second).Result()
	if err := s.result("create", err); err != nil {
		return err
	}
	if !set {
		return store.ErrExists
	}
	return nil
}

// Get returns the secret; a one-time secret is claimed (deleted) by the
// call that returns it, and concurrent callers get store.ErrNotFound.
func (s *Store) Get(ctx context.Context, kind store.Kind, id string) (store.Secret, error) {
	if checkKey(kind, id) != nil {
		return store.Secret{}, store.ErrNotFound
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return store.Secret{}, err
	}
	defer cancel()
	key := s.key(kind, id)
	// Peek at the header first: a one-time secret then moves once, in the
	// claim, instead of once to look at it and again to claim it.
	oneTime, err := s.peek(ctx, "get", key)
	if err != nil {
		return store.Secret{}, err
	}
	if oneTime {
		return s.claim(ctx, key)
	}
	return s.read(ctx, key)
}

// read GETs a secret that was not one-time when peeked at.
func (s *Store) read(ctx context.Context, key string) (store.Secret, error) {
	b, err := s.client.Get(ctx, key).Bytes()
	if err := s.result("get", err); err != nil {
		return store.Secret{}, err
	}
	if b == nil {
		return store.Secret{}, store.ErrNotFound // deleted or expired since the peek
	}
	sec, err := decode(b)
	if err != nil {
		return store.Secret{}, s.result("get", err)
	}
	if sec.OneTime {
		// The id was deleted and re-created as one-time since the peek;
		// returning it without a claim would let two readers have it.
		return s.claim(ctx, key)
	}
	return sec, nil
}

// Status reports whether the secret is one-time, reading only its header.
func (s *Store) Status(ctx context.Context, kind store.Kind, id string) (bool, error) {
	if checkKey(kind, id) != nil {
		return false, store.ErrNotFound
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	return s.peek(ctx, "status", s.key(kind, id))
}

// peek reads the header byte with GETRANGE key 0 0 ("" for a missing key:
// stored values are never empty).
func (s *Store) peek(ctx context.Context, op, key string) (oneTime bool, err error) {
	h, err := s.client.GetRange(ctx, key, 0, 0).Result()
	if err := s.result(op, err); err != nil {
		return false, err
	}
	if h == "" {
		return false, store.ErrNotFound
	}
	oneTime, err = decodeHeader(h[0])
	if err != nil {
		return false, s.result(op, err)
	}
	return oneTime, nil
}

// Delete removes the secret with DEL; store.ErrNotFound if there was none.
func (s *Store) Delete(ctx context.Context, kind store.Kind, id string) error {
	if checkKey(kind, id) != nil {
		return store.ErrNotFound
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	n, err := s.client.Del(ctx, s.key(kind, id)).Result()
	if err := s.result("delete", err); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

var (
	errEmptyID = errors.New("empty id")
	errKind    = errors.New("unknown kind")
)

func checkKey(kind store.Kind, id string) error {
	if kind != store.KindSecret && kind != store.KindFile {
		return fmt.Errorf("%w %d", errKind, kind)
	}
	if id == "" {
		return errEmptyID
	}
	return nil
}
