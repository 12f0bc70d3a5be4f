package redisstore

import (
	"testing"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"getdel", Options{}},
		{"lua-fallback", Options{forceScript: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				opts := tc.opts
				opts.Prefix = freshPrefix(t)
				s, err := Open(testCtx(t), srv.URL(), opts)
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				return s
			}, storetest.Options{ClaimTrials: 50, Readers: 32})
		})
	}
}
