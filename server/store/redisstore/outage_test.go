package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// fastTimeouts keep outage tests short; opTimeout is then 800ms.
var fastTimeouts = Options{DialTimeout: 500 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}

// hangBound is how long an operation may take against a dead or hung Redis
// before we call it a hang: 10x the operation bound, for a loaded machine.
func hangBound(s *Store) time.Duration { return 10 * s.opTimeout }

// everyOp runs each store operation once and returns its error.
func everyOp(s *Store, id string) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"create": func(c context.Context) error {
			return s.Create(c, store.KindSecret, id+"-new", store.Secret{Data: []byte("x"), TTL: time.Hour})
		},
		"get":    func(c context.Context) error { _, err := s.Get(c, store.KindSecret, id); return err },
		"status": func(c context.Context) error { _, err := s.Status(c, store.KindSecret, id); return err },
		"delete": func(c context.Context) error { return s.Delete(c, store.KindSecret, id) },
		"ping":   func(c context.Context) error { return s.Ping(c) },
	}
}

// mustFailFast runs every operation and checks each fails with
// ErrUnavailable within hangBound, with a message naming no internals.
func mustFailFast(t *testing.T, s *Store, id string) {
	t.Helper()
	for name, op := range everyOp(s, id) {
		start := time.Now()
		err := op(context.Background()) // no deadline from the caller: the store must bound it
		took := time.Since(start)
		mustBeUnavailable(t, name, err)
		if took > hangBound(s) {
			t.Fatalf("%s took %v against an unavailable Redis (bound %v)", name, took, hangBound(s))
		}
		if strings.Contains(err.Error(), id) {
			t.Fatalf("%s: the error names the id: %v", name, err)
		}
		t.Logf("%s failed after %v: %v", name, took.Round(time.Millisecond), err)
	}
}

func TestRedisStopped(t *testing.T) {
	t.Run("every-op-unavailable-not-hanging", func(t *testing.T) {
		srv := redistest.Start(t)
		s := open(t, srv.URL(), Options{Prefix: freshPrefix(t)}) // default timeouts
		id := storetest.NewID(t)
		mustCreate(t, s, id, store.Secret{Data: []byte("x"), TTL: time.Hour})
		srv.Stop()
		mustFailFast(t, s, id)
	})
	t.Run("open-while-down/succeeds-then-recovers", func(t *testing.T) {
		srv := redistest.Start(t)
		srv.Stop()
		s := open(t, srv.URL(), fastTimeouts)
		mustBeUnavailable(t, "ping while down", s.Ping(testCtx(t)))
		srv.Restart()
		waitFor(t, "ping after redis started", 30*time.Second, func() error { return s.Ping(testCtx(t)) })
	})
}

func TestRedisRestarted(t *testing.T) {
	srv := redistest.StartPersistent(t)
	opts := fastTimeouts
	opts.Prefix = freshPrefix(t)
	s := open(t, srv.URL(), opts)
	kept, once := storetest.NewID(t), storetest.NewID(t)
	mustCreate(t, s, kept, store.Secret{Data: []byte("kept"), TTL: time.Hour})
	mustCreate(t, s, once, store.Secret{Data: []byte("once"), TTL: time.Hour, OneTime: true})

	srv.Stop()
	mustBeUnavailable(t, "get while stopped", func() error { _, err := s.Get(testCtx(t), store.KindSecret, kept); return err }())
	srv.Restart()

	// The same Store recovers by itself: no reopen.
	waitFor(t, "ping after restart", 30*time.Second, func() error { return s.Ping(testCtx(t)) })
	got, err := s.Get(testCtx(t), store.KindSecret, kept)
	if err != nil || string(got.Data) != "kept" || got.TTL != time.Hour {
		t.Fatalf("secret stored before the outage: %+v, %v", got, err)
	}
	if got, err := s.Get(testCtx(t), store.KindSecret, once); err != nil || string(got.Data) != "once" {
		t.Fatalf("one-time secret stored before the outage: %q, %v", got.Data, err)
	}
	if _, err := s.Get(testCtx(t), store.KindSecret, once); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("one-time secret read twice after the restart: %v", err)
	}
	mustCreate(t, s, storetest.NewID(t), store.Secret{Data: []byte("new"), TTL: time.Hour})
}

func TestRedisPaused(t *testing.T) {
	srv := redistest.Start(t)
	opts := fastTimeouts
	opts.Prefix = freshPrefix(t)
	s := open(t, srv.URL(), opts)
	id := storetest.NewID(t)
	mustCreate(t, s, id, store.Secret{Data: []byte("kept"), TTL: time.Hour})

	srv.Pause()
	mustFailFast(t, s, id+"-other") // an id nobody reads: delete must not touch the kept one
	srv.Resume()

	waitFor(t, "get after SIGCONT", 30*time.Second, func() error {
		got, err := s.Get(testCtx(t), store.KindSecret, id)
		if err == nil && string(got.Data) != "kept" {
			return errors.New("wrong data " + string(got.Data))
		}
		return err
	})
}

func TestRedisPausedDefaultTimeouts(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), Options{Prefix: freshPrefix(t)})
	if err := s.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	_, err := s.Get(context.Background(), store.KindSecret, storetest.NewID(t))
	took := time.Since(start)
	mustBeUnavailable(t, "get from a hung redis", err)
	if took > hangBound(s) {
		t.Fatalf("get took %v against a hung Redis (bound %v)", took, hangBound(s))
	}
	t.Logf("get failed after %v (op bound %v): %v", took.Round(time.Millisecond), s.opTimeout, err)
}
