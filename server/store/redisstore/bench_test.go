package redisstore

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// benchData is about the size of a short armored PGP message.
var benchData = make([]byte, 600)

// benchParallelism gives 8 goroutines per CPU: concurrent HTTP requests,
// not one caller per core, so the numbers show throughput, not latency.
const benchParallelism = 8

var benchCtx = context.Background()

func benchStore(b *testing.B) *Store {
	srv := redistest.Start(b)
	b.SetParallelism(benchParallelism)
	return open(b, srv.URL(), Options{Prefix: freshPrefix(b)})
}

func BenchmarkCreateParallel(b *testing.B) {
	s := benchStore(b)
	base := storetest.NewID(b)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := base + strconv.FormatInt(n.Add(1), 10)
			if err := s.Create(benchCtx, store.KindSecret, id, store.Secret{Data: benchData, TTL: time.Hour, OneTime: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimOneTimeParallel measures Get of one-time secrets, each
// claimed by exactly one reader (GETRANGE + GETDEL).
func BenchmarkClaimOneTimeParallel(b *testing.B) {
	s := benchStore(b)
	base := storetest.NewID(b)
	for i := 0; i < b.N; i++ {
		if err := s.Create(benchCtx, store.KindSecret, base+strconv.Itoa(i), store.Secret{Data: benchData, TTL: time.Hour, OneTime: true}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := base + strconv.FormatInt(n.Add(1)-1, 10)
			if _, err := s.Get(benchCtx, store.KindSecret, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGetMissingParallel(b *testing.B) {
	s := benchStore(b)
	id := storetest.NewID(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(benchCtx, store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
}
