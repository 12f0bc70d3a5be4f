package redisstore

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOutageLoggedOnce(t *testing.T) {
	srv := redistest.Start(t)
	var out syncBuffer
	opts := fastTimeouts
	opts.Prefix = freshPrefix(t)
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &out, DisableTime: true, Level: hclog.Info})
	const password = "pw-in-url-1234"
	if err := srv.Client().ConfigSet(testCtx(t), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	s := open(t, "redis://:"+password+"@"+srv.Addr()+"/0", opts)
	id := storetest.NewID(t)
	mustCreate(t, s, id, store.Secret{Data: []byte("x"), TTL: time.Hour})

	srv.Stop()
	for i := 0; i < 3; i++ {
		_, err := s.Get(testCtx(t), store.KindSecret, id)
		mustBeUnavailable(t, "get while stopped", err)
	}
	srv.Restart()
	if err := srv.Client().ConfigSet(testCtx(t), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ping after restart", 30*time.Second, func() error { return s.Ping(testCtx(t)) })

	log := out.String()
	t.Logf("log:\n%s", log)
	for line, want := range map[string]int{"redis store opened": 1, "redis is unavailable": 1, "redis is reachable again": 1} {
		if got := strings.Count(log, line); got != want {
			t.Errorf("%q logged %d times, want %d", line, got, want)
		}
	}
	for _, secret := range []string{password, id} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}
