package redisstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

func TestBadInput(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), Options{Prefix: freshPrefix(t)})
	for _, ttl := range []time.Duration{0, -time.Second, 1500 * time.Millisecond, time.Millisecond} {
		id := storetest.NewID(t)
		err := s.Create(testCtx(t), store.KindSecret, id, store.Secret{Data: []byte("x"), TTL: ttl})
		if !errors.Is(err, errTTL) {
			t.Fatalf("ttl %v: %v, want errTTL", ttl, err)
		}
		if _, err := s.Status(testCtx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ttl %v: refused create left a secret: %v", ttl, err)
		}
	}
	if err := s.Create(testCtx(t), store.KindSecret, "", store.Secret{Data: []byte("x"), TTL: time.Hour}); !errors.Is(err, errEmptyID) {
		t.Fatalf("empty id: %v", err)
	}
	if err := s.Create(testCtx(t), store.Kind(9), "x", store.Secret{Data: []byte("x"), TTL: time.Hour}); !errors.Is(err, errKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := s.Get(testCtx(t), store.KindSecret, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of an empty id: %v", err)
	}
}

// A key under our prefix that we did not write (another application, a
// hand edit) is an error, not data, and is left alone.
func TestForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	prefix := freshPrefix(t)
	s := open(t, srv.URL(), Options{Prefix: prefix})
	for name, write := range map[string]func(key string) error{
		"not-our-encoding": func(k string) error { return raw.Set(testCtx(t), k, "plain text", 0).Err() },
		"wrong-type":       func(k string) error { return raw.HSet(testCtx(t), k, "f", "v").Err() },
	} {
		t.Run(name+"/error-and-left-alone", func(t *testing.T) {
			id := storetest.NewID(t)
			key := prefix + "secret:" + id
			if err := write(key); err != nil {
				t.Fatal(err)
			}
			_, getErr := s.Get(testCtx(t), store.KindSecret, id)
			_, statusErr := s.Status(testCtx(t), store.KindSecret, id)
			for op, err := range map[string]error{"get": getErr, "status": statusErr} {
				if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("%s: %v, want a plain error", op, err)
				}
				if strings.Contains(err.Error(), id) {
					t.Fatalf("%s: the error names the id: %v", op, err)
				}
				t.Logf("%s: %v", op, err)
			}
			if n, err := raw.Exists(testCtx(t), key).Result(); err != nil || n != 1 {
				t.Fatalf("the foreign key was removed: %d, %v", n, err)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	for name, op := range everyOp(s, "some-id") {
		if err := op(testCtx(t)); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("%s after close: %v, want ErrClosed", name, err)
		}
	}
}

func TestAuthFailure(t *testing.T) {
	srv := redistest.Start(t)
	const password = "s3cret-Passw0rd"
	if err := srv.Client().ConfigSet(testCtx(t), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	for name, url := range map[string]string{
		"no-password":    srv.URL(),
		"wrong-password": "redis://:wrong-Passw0rd@" + srv.Addr() + "/0",
	} {
		t.Run(name+"/unavailable-password-not-shown", func(t *testing.T) {
			s := open(t, url, fastTimeouts)
			err := s.Ping(testCtx(t))
			mustBeUnavailable(t, "ping", err)
			if strings.Contains(err.Error(), "Passw0rd") {
				t.Fatalf("the error shows a password: %v", err)
			}
			t.Logf("ping: %v", err)
		})
	}
	t.Run("right-password/works", func(t *testing.T) {
		s := open(t, "redis://:"+password+"@"+srv.Addr()+"/0", Options{})
		if err := s.Ping(testCtx(t)); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
}

func TestOpenRejects(t *testing.T) {
	for name, opts := range map[string]Options{
		"negative-read-timeout": {ReadTimeout: -1},
		"negative-pool-size":    {PoolSize: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := Open(testCtx(t), "redis://127.0.0.1:1/0", opts); err == nil {
				s.Close()
				t.Fatal("accepted")
			}
		})
	}
	t.Run("malformed-url", func(t *testing.T) {
		_, err := Open(testCtx(t), "redis://:hunter2@h:x/0", Options{})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("open: %v", err)
		}
	})
}
