package redisstore

import (
	"bufio"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// commandCalls reads how often Redis ran each command (INFO commandstats).
func commandCalls(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(testCtx(t), "commandstats").Result()
	if err != nil {
		t.Fatalf("info commandstats: %v", err)
	}
	calls := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_getdel:calls=3,usec=...
		name, rest, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		calls[name], _ = strconv.Atoi(n)
	}
	return calls
}

func claimOnce(t *testing.T, s *Store) {
	t.Helper()
	id := storetest.NewID(t)
	mustCreate(t, s, id, store.Secret{Data: []byte("once"), TTL: time.Hour, OneTime: true})
	if got, err := s.Get(testCtx(t), store.KindSecret, id); err != nil || string(got.Data) != "once" {
		t.Fatalf("claim: %q, %v", got.Data, err)
	}
	if _, err := s.Get(testCtx(t), store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second claim: %v, want ErrNotFound", err)
	}
}

func TestClaim(t *testing.T) {
	t.Run("getdel/used-on-redis-7", func(t *testing.T) {
		srv := redistest.Start(t)
		s := open(t, srv.URL(), Options{})
		claimOnce(t, s)
		if calls := commandCalls(t, srv.Client()); calls["getdel"] != 1 || calls["evalsha"]+calls["eval"] != 0 {
			t.Fatalf("commands run: getdel %d, evalsha %d, eval %d; want GETDEL once and no script",
				calls["getdel"], calls["evalsha"], calls["eval"])
		}
	})
	t.Run("forced-script/never-sends-getdel", func(t *testing.T) {
		srv := redistest.Start(t)
		s := open(t, srv.URL(), Options{forceScript: true})
		claimOnce(t, s)
		claimOnce(t, s)
		if calls := commandCalls(t, srv.Client()); calls["getdel"] != 0 || calls["evalsha"]+calls["eval"] < 2 {
			t.Fatalf("commands run: getdel %d, evalsha %d, eval %d; want the script only",
				calls["getdel"], calls["evalsha"], calls["eval"])
		}
	})
	t.Run("no-getdel-on-server/detected-and-falls-back", func(t *testing.T) {
		// Renaming GETDEL away makes Redis 7 answer as Redis 6.0 would.
		srv := redistest.Start(t, "--rename-command", "GETDEL", "")
		s := open(t, srv.URL(), Options{})
		claimOnce(t, s)
		if !s.noGetDel.Load() {
			t.Fatal("the store did not remember that GETDEL is missing")
		}
		claimOnce(t, s)
		id := storetest.NewID(t)
		mustCreate(t, s, id, store.Secret{Data: []byte("race"), TTL: time.Hour, OneTime: true})
		if wins := storetest.ClaimRace(t, 32, func() error {
			_, err := s.Get(testCtx(t), store.KindSecret, id)
			return err
		}); wins != 1 {
			t.Fatalf("%d winners through the script, want 1", wins)
		}
	})
}
