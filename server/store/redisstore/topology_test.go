package redisstore

import (
	"strings"
	"testing"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

func conformance(t *testing.T, url string) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(testCtx(t), url, Options{Prefix: freshPrefix(t)})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	}, storetest.Options{ClaimTrials: 50, Readers: 32})
}

func TestSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "vigil-master")
	t.Run("conformance-through-sentinel", func(t *testing.T) {
		conformance(t, sentinel.URL())
	})
	t.Run("unknown-master/unavailable", func(t *testing.T) {
		url := strings.Replace(sentinel.URL(), "vigil-master", "no-such-master", 1)
		s := open(t, url, fastTimeouts)
		err := s.Ping(testCtx(t))
		mustBeUnavailable(t, "ping", err)
		t.Logf("ping: %v", err)
	})
}

func TestCluster(t *testing.T) {
	node := redistest.StartCluster(t)
	t.Run("conformance-through-cluster-client", func(t *testing.T) {
		conformance(t, node.URL())
	})
	t.Run("lua-fallback-in-cluster", func(t *testing.T) {
		s := open(t, node.URL(), Options{Prefix: freshPrefix(t), forceScript: true})
		claimOnce(t, s)
	})
}
