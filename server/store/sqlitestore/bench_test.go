package sqlitestore

import (
	"encoding/hex"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/server/store"
)

// reportRate adds ops/s, the process's CPU time per op (steadier than
// ops/s on a shared machine) and, for writes, operations per commit. cpu0 is
// processCPU() when the timed part began.
func reportRate(b *testing.B, s *Store, commitsBefore int64, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
	if commits := s.commitCount() - commitsBefore; commits > 0 {
		b.ReportMetric(float64(b.N)/float64(commits), "ops/commit")
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchID is the nth of a fixed sequence of random-looking ids. Real ids
// are random, so each create and read lands on a random leaf of the id
// index, as in the server; sequential ids would all go to its last leaf,
// which is cheaper than anything the server sees.
func benchID(n int64) string {
	r := rand.New(rand.NewPCG(uint64(n), 0x5eed))
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b[:])[:22]
}

// benchData is a typical armored message size.
var benchData = make([]byte, 1024)

func BenchmarkCreateParallel(b *testing.B) { benchCreate(b, Options{}) }

// BenchmarkCreateParallelFull is the same with an fsync per commit.
func BenchmarkCreateParallelFull(b *testing.B) { benchCreate(b, Options{Synchronous: "full"}) }

func benchCreate(b *testing.B, opts Options) {
	s := openTemp(b, opts)
	ctx := testCtx(b)
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := benchID(next.Add(1))
			if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: benchData, TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportRate(b, s, 0, cpu0)
}

func BenchmarkClaimOneTimeParallel(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := testCtx(b)
	var next atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := benchID(next.Add(1))
			if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: benchData, TTL: time.Hour, OneTime: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	next.Store(0)
	before := s.commitCount()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, store.KindSecret, benchID(next.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportRate(b, s, before, cpu0)
}

func BenchmarkGetMissingParallel(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := testCtx(b)
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, store.KindSecret, "missing"); err != store.ErrNotFound {
				b.Fatal(err)
			}
		}
	})
	reportRate(b, s, 0, cpu0)
}

func BenchmarkGetParallel(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := testCtx(b)
	if err := s.Create(ctx, store.KindSecret, "kept", store.Secret{Data: benchData, TTL: time.Hour}); err != nil {
		b.Fatal(err)
	}
	before := s.commitCount()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, store.KindSecret, "kept"); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportRate(b, s, before, cpu0)
}
