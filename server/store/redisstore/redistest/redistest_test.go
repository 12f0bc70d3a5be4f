package redistest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStartAnswersPing(t *testing.T) {
	s := redistest.Start(t)
	if err := s.Client().Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Fatalf("URL() = %q, want %q", s.URL(), want)
	}
}

func TestRestart(t *testing.T) {
	t.Run("persistent/keeps-keys", func(t *testing.T) {
		s := redistest.StartPersistent(t)
		c := s.Client()
		if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		s.Restart()
		if got, err := c.Get(ctx(t), "k").Result(); err != nil || got != "v" {
			t.Fatalf("after restart: %q, %v", got, err)
		}
	})
	t.Run("default/comes-back-empty", func(t *testing.T) {
		s := redistest.Start(t)
		c := s.Client()
		if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		s.Restart()
		if err := c.Get(ctx(t), "k").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("after restart without persistence: %v, want redis.Nil", err)
		}
	})
}

func TestStopTwiceAndRefused(t *testing.T) {
	s := redistest.Start(t)
	s.Stop()
	s.Stop()
	if err := s.Client().Ping(ctx(t)).Err(); err == nil {
		t.Fatal("ping of a stopped server succeeded")
	}
}

func TestPauseResume(t *testing.T) {
	s := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	s.Pause()
	if err := c.Ping(ctx(t)).Err(); err == nil {
		t.Fatal("ping of a paused server succeeded")
	}
	s.Resume()
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("ping after resume: %v", err)
	}
}

func TestPausedServerStopsAtCleanup(t *testing.T) {
	s := redistest.Start(t)
	s.Pause()
	// t.Cleanup's Stop must continue and terminate it, not hang.
}
