// Package storetest is the conformance suite that every store.Store
// implementation must pass. A backend's test calls Run with a function that
// opens a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// Opener opens a new, empty store for one subtest. The suite closes it.
type Opener func(t *testing.T) store.Store

// Options tune the suite for a backend.
type Options struct {
	// ClaimTrials is how many times the one-time race is run; zero means 50.
	ClaimTrials int
	// Readers is how many goroutines race for each one-time secret; zero
	// means 32.
	Readers int
}

// Run runs every conformance subtest against stores opened by open.
func Run(t *testing.T, open Opener, opts Options) {
	if opts.ClaimTrials == 0 {
		opts.ClaimTrials = 50
	}
	if opts.Readers == 0 {
		opts.Readers = 32
	}
	t.Run("create-then-get", func(t *testing.T) { testCreateGet(t, open(t)) })
	t.Run("create-never-overwrites", func(t *testing.T) { testNoOverwrite(t, open(t)) })
	t.Run("kinds-are-separate", func(t *testing.T) { testKinds(t, open(t)) })
	t.Run("one-time-read-once", func(t *testing.T) { testOneTimeOnce(t, open(t)) })
	t.Run("one-time-race-one-winner", func(t *testing.T) { testClaimRace(t, open(t), opts) })
	t.Run("delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("status-does-not-consume", func(t *testing.T) { testStatus(t, open(t)) })
	t.Run("expired-never-returned", func(t *testing.T) { testExpiry(t, open(t)) })
	t.Run("binary-data-round-trips", func(t *testing.T) { testBinary(t, open(t)) })
	t.Run("concurrent-creates", func(t *testing.T) { testConcurrentCreates(t, open(t)) })
	t.Run("ping", func(t *testing.T) { testPing(t, open(t)) })
	t.Run("close", func(t *testing.T) { testClose(t, open(t)) })
}

// NewID returns a random id for tests (not the API's id format; stores must
// accept any short printable id).
func NewID(t testing.TB) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func closeAtEnd(t *testing.T, s store.Store) {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

func mustCreate(t *testing.T, s store.Store, kind store.Kind, id string, sec store.Secret) {
	t.Helper()
	if err := s.Create(ctx(t), kind, id, sec); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
}

func testCreateGet(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	id := NewID(t)
	want := store.Secret{Data: []byte("-----BEGIN PGP MESSAGE-----\nabc\n-----END PGP MESSAGE-----\n"), TTL: time.Hour}
	mustCreate(t, s, store.KindSecret, id, want)
	for i := 0; i < 3; i++ {
		got, err := s.Get(ctx(t), store.KindSecret, id)
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if !bytes.Equal(got.Data, want.Data) || got.TTL != want.TTL || got.OneTime {
			t.Fatalf("get %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := s.Get(ctx(t), store.KindSecret, NewID(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of a missing id: %v, want ErrNotFound", err)
	}
}

func testNoOverwrite(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	id := NewID(t)
	mustCreate(t, s, store.KindSecret, id, store.Secret{Data: []byte("first"), TTL: time.Hour})
	err := s.Create(ctx(t), store.KindSecret, id, store.Secret{Data: []byte("second"), TTL: time.Hour})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := s.Get(ctx(t), store.KindSecret, id)
	if err != nil || string(got.Data) != "first" {
		t.Fatalf("after a refused overwrite: %q, %v", got.Data, err)
	}
}

func testKinds(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	id := NewID(t)
	mustCreate(t, s, store.KindFile, id, store.Secret{Data: []byte{0xc3, 1, 2}, TTL: time.Hour, OneTime: true})
	if _, err := s.Get(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("file read as a secret: %v, want ErrNotFound", err)
	}
	if _, err := s.Status(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("file status as a secret: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("file deleted as a secret: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx(t), store.KindFile, id); err != nil {
		t.Fatalf("the file must still be there after the wrong-kind calls: %v", err)
	}
}

func testOneTimeOnce(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	id := NewID(t)
	mustCreate(t, s, store.KindSecret, id, store.Secret{Data: []byte("once"), TTL: time.Hour, OneTime: true})
	got, err := s.Get(ctx(t), store.KindSecret, id)
	if err != nil || string(got.Data) != "once" || !got.OneTime || got.TTL != time.Hour {
		t.Fatalf("first read: %+v, %v", got, err)
	}
	if _, err := s.Get(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second read: %v, want ErrNotFound", err)
	}
	if _, err := s.Status(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status after the read: %v, want ErrNotFound", err)
	}
}

func testClaimRace(t *testing.T, s store.Store, opts Options) {
	closeAtEnd(t, s)
	for trial := 0; trial < opts.ClaimTrials; trial++ {
		id := NewID(t)
		mustCreate(t, s, store.KindSecret, id, store.Secret{Data: []byte("race"), TTL: time.Hour, OneTime: true})
		if n := ClaimRace(t, opts.Readers, func() error {
			_, err := s.Get(ctx(t), store.KindSecret, id)
			return err
		}); n != 1 {
			t.Fatalf("trial %d: %d readers got the one-time secret, want exactly 1", trial, n)
		}
	}
}

// ClaimRace starts readers goroutines that call get at the same moment and
// returns how many succeeded. A get that fails with anything other than
// store.ErrNotFound fails the test. Other suites (two processes, two servers)
// use it for their own races.
func ClaimRace(t testing.TB, readers int, get func() error) int {
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := get()
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("reader: %v", err)
	}
	return int(wins.Load())
}

func testDelete(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	id := NewID(t)
	mustCreate(t, s, store.KindSecret, id, store.Secret{Data: []byte("x"), TTL: time.Hour})
	if err := s.Delete(ctx(t), store.KindSecret, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Get(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func testStatus(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	for _, oneTime := range []bool{true, false} {
		id := NewID(t)
		mustCreate(t, s, store.KindFile, id, store.Secret{Data: []byte("x"), TTL: time.Hour, OneTime: oneTime})
		for i := 0; i < 3; i++ {
			got, err := s.Status(ctx(t), store.KindFile, id)
			if err != nil || got != oneTime {
				t.Fatalf("status %d: %v, %v; want %v", i, got, err, oneTime)
			}
		}
		if _, err := s.Get(ctx(t), store.KindFile, id); err != nil {
			t.Fatalf("get after status: %v", err)
		}
	}
	if _, err := s.Status(ctx(t), store.KindFile, NewID(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of a missing id: %v, want ErrNotFound", err)
	}
}

func testExpiry(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	kept := NewID(t)
	mustCreate(t, s, store.KindSecret, kept, store.Secret{Data: []byte("kept"), TTL: time.Hour})
	ids := []string{NewID(t), NewID(t)}
	mustCreate(t, s, store.KindSecret, ids[0], store.Secret{Data: []byte("short"), TTL: time.Second})
	mustCreate(t, s, store.KindSecret, ids[1], store.Secret{Data: []byte("short"), TTL: time.Second, OneTime: true})
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			_, err := s.Status(ctx(t), store.KindSecret, id)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("status while waiting for expiry: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("a secret with a 1s TTL was still there after 10s")
			}
			time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
		}
		if _, err := s.Get(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get of an expired secret: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete of an expired secret: %v, want ErrNotFound", err)
		}
	}
	// An expired id can be created again.
	mustCreate(t, s, store.KindSecret, ids[0], store.Secret{Data: []byte("again"), TTL: time.Hour})
	if _, err := s.Get(ctx(t), store.KindSecret, kept); err != nil {
		t.Fatalf("a long-lived secret expired with the short ones: %v", err)
	}
}

func testBinary(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	data := make([]byte, 256*1024)
	for i := range data {
		data[i] = byte(i * 7)
	}
	data[0] = 0xc3
	id := NewID(t)
	mustCreate(t, s, store.KindFile, id, store.Secret{Data: data, TTL: 24 * time.Hour})
	got, err := s.Get(ctx(t), store.KindFile, id)
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("binary data did not round-trip (err %v, %d bytes back)", err, len(got.Data))
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewID(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := s.Create(ctx(t), store.KindSecret, ids[i], store.Secret{Data: []byte(fmt.Sprint(i)), TTL: time.Hour, OneTime: true})
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent create: %v", err)
	}
	for i, id := range ids {
		got, err := s.Get(ctx(t), store.KindSecret, id)
		if err != nil || string(got.Data) != fmt.Sprint(i) {
			t.Fatalf("secret %d: %q, %v", i, got.Data, err)
		}
	}
}

func testPing(t *testing.T, s store.Store) {
	closeAtEnd(t, s)
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func testClose(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := s.Create(ctx(t), store.KindSecret, NewID(t), store.Secret{Data: []byte("x"), TTL: time.Hour}); err == nil {
		t.Fatalf("create after close succeeded")
	}
	if err := s.Ping(ctx(t)); err == nil {
		t.Fatalf("ping after close succeeded")
	}
}
