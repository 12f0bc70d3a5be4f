package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

func TestKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	s := open(t, srv.URL(), Options{}) // default prefix
	id := storetest.NewID(t)
	mustCreate(t, s, id, store.Secret{Data: []byte("x"), TTL: time.Hour})
	if err := s.Create(testCtx(t), store.KindFile, id, store.Secret{Data: []byte("f"), TTL: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for key, ttl := range map[string]time.Duration{"vigil:secret:" + id: time.Hour, "vigil:file:" + id: 24 * time.Hour} {
		got, err := raw.TTL(testCtx(t), key).Result()
		if err != nil || got <= ttl-time.Minute || got > ttl {
			t.Fatalf("key %s: TTL %v, %v; want about %v (Redis expires it)", key, got, err, ttl)
		}
	}
}

func TestPrefixIsolation(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, srv.URL(), Options{Prefix: "app-a:"})
	b := open(t, srv.URL(), Options{Prefix: "app-b:"})
	id := storetest.NewID(t)
	mustCreate(t, a, id, store.Secret{Data: []byte("a"), TTL: time.Hour})
	if _, err := b.Get(testCtx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another prefix sees the secret: %v", err)
	}
	mustCreate(t, b, id, store.Secret{Data: []byte("b"), TTL: time.Hour, OneTime: true}) // same id: no clash
	if err := b.Delete(testCtx(t), store.KindSecret, id); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Get(testCtx(t), store.KindSecret, id); err != nil || string(got.Data) != "a" {
		t.Fatalf("a delete under another prefix touched this one: %q, %v", got.Data, err)
	}
}

func TestDatabaseIsolation(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, "redis://"+srv.Addr()+"/1", Options{})
	b := open(t, "redis://"+srv.Addr()+"/2", Options{})
	id := storetest.NewID(t)
	mustCreate(t, a, id, store.Secret{Data: []byte("a"), TTL: time.Hour})
	if _, err := b.Get(testCtx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("database 2 sees a secret of database 1: %v", err)
	}
}
