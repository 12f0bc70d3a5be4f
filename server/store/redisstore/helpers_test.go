package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// freshPrefix isolates one test's keys from every other test's.
func freshPrefix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b) + ":"
}

// open opens a store and closes it at the end of the test.
func open(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCreate(t testing.TB, s store.Store, id string, sec store.Secret) {
	t.Helper()
	if err := s.Create(testCtx(t), store.KindSecret, id, sec); err != nil {
		t.Fatalf("create: %v", err)
	}
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a bounded wait
	}
}

// mustBeUnavailable checks that err wraps store.ErrUnavailable.
func mustBeUnavailable(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: %v, want an error wrapping store.ErrUnavailable", what, err)
	}
}
