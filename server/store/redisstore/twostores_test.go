package redisstore

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// Two Stores have two separate clients and pools, as two vigil-server
// processes behind a load balancer would.
func TestTwoStoresShareOneRedis(t *testing.T) {
	srv := redistest.Start(t)
	prefix := freshPrefix(t)
	a := open(t, srv.URL(), Options{Prefix: prefix})
	b := open(t, srv.URL(), Options{Prefix: prefix})

	t.Run("created-in-one/read-in-other", func(t *testing.T) {
		id := storetest.NewID(t)
		mustCreate(t, a, id, store.Secret{Data: []byte("shared"), TTL: time.Hour})
		got, err := b.Get(testCtx(t), store.KindSecret, id)
		if err != nil || string(got.Data) != "shared" || got.TTL != time.Hour {
			t.Fatalf("read through the other store: %+v, %v", got, err)
		}
	})
	t.Run("one-time/read-once-across-both", func(t *testing.T) {
		id := storetest.NewID(t)
		mustCreate(t, a, id, store.Secret{Data: []byte("once"), TTL: time.Hour, OneTime: true})
		if got, err := b.Get(testCtx(t), store.KindSecret, id); err != nil || string(got.Data) != "once" {
			t.Fatalf("first read, other store: %q, %v", got.Data, err)
		}
		if _, err := a.Get(testCtx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second read, creating store: %v, want ErrNotFound", err)
		}
	})
	t.Run("one-time/race-across-both-one-winner", func(t *testing.T) {
		stores := []*Store{a, b}
		for trial := 0; trial < 50; trial++ {
			id := storetest.NewID(t)
			mustCreate(t, stores[trial%2], id, store.Secret{Data: []byte("race"), TTL: time.Hour, OneTime: true})
			var next atomic.Uint32
			wins := storetest.ClaimRace(t, 32, func() error {
				s := stores[next.Add(1)%2] // readers alternate between the two
				_, err := s.Get(testCtx(t), store.KindSecret, id)
				return err
			})
			if wins != 1 {
				t.Fatalf("trial %d: %d readers got the one-time secret, want exactly 1", trial, wins)
			}
		}
	})
}
