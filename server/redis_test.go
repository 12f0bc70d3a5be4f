package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
)

// Two servers sharing one Redis, as behind a load balancer: a secret created
// through one is read once through the other, and one-time claims raced
// across both have exactly one winner.
func TestTwoServersOneRedis(t *testing.T) {
	rdb := redistest.Start(t)
	a, b := newSocket(t), newSocket(t)
	startServer(t, a, nil, "-store", rdb.URL())
	startServer(t, b, nil, "-store", rdb.URL())
	id := createSecret(t, a.url(), true)
	if st := getSecret(t, b.url(), id); st != 200 {
		t.Fatalf("read through the other server: %d", st)
	}
	if st := getSecret(t, a.url(), id); st != 404 {
		t.Fatalf("second read of a one-time secret: %d, want 404", st)
	}
	for trial := 0; trial < 20; trial++ {
		id := createSecret(t, b.url(), true)
		if got := raceHTTP(t, []string{a.url(), b.url()}, id, 32); got != 1 {
			t.Fatalf("trial %d: %d readers got the one-time secret, want 1", trial, got)
		}
	}
}

// While Redis is away, requests get a clear 503 (not a hang, not a 500) and
// /ready reports not ready; when it returns, the server recovers by itself
// and nothing stored before is lost.
func TestRedisOutage(t *testing.T) {
	rdb := redistest.StartPersistent(t)
	sock := newSocket(t)
	p := startServer(t, sock, nil, "-store", rdb.URL())
	kept := createSecret(t, sock.url(), false)

	rdb.Stop()
	start := time.Now()
	if st := postStatus(t, sock.url()); st != 503 {
		t.Fatalf("create while Redis is down: %d, want 503", st)
	}
	if st := getSecret(t, sock.url(), kept); st != 503 {
		t.Fatalf("read while Redis is down: %d, want 503", st)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("requests while Redis is down took %v: they must fail fast", took)
	}
	waitFor(t, "/ready to report not ready", func() bool { return status(t, sock.url()+"/ready") == 503 })
	if st := status(t, sock.url()+"/health"); st != 200 {
		t.Fatalf("/health while Redis is down: %d (liveness must not depend on the store)", st)
	}

	rdb.Restart()
	waitFor(t, "/ready to recover", func() bool { return status(t, sock.url()+"/ready") == 200 })
	if st := getSecret(t, sock.url(), kept); st != 200 {
		t.Fatalf("a secret stored before the outage: %d, want 200", st)
	}
	createSecret(t, sock.url(), true)

	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// A hung Redis (stopped with SIGSTOP) gives 503 within the read timeout, not
// a request that hangs.
func TestRedisHung(t *testing.T) {
	rdb := redistest.Start(t)
	sock := newSocket(t)
	startServer(t, sock, nil, "-store", rdb.URL())
	id := createSecret(t, sock.url(), false)
	rdb.Pause()
	start := time.Now()
	if st := getSecret(t, sock.url(), id); st != 503 {
		t.Fatalf("read from a hung Redis: %d, want 503", st)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("a read from a hung Redis took %v", took)
	}
	rdb.Resume()
	waitFor(t, "reads to recover", func() bool { return getSecret(t, sock.url(), id) == 200 })
}
