package redisstore

import (
	"testing"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore/redistest"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// aclRules is the least a Redis user needs for this store (DOC.md quotes it).
var aclRules = []any{"on", ">acl-Passw0rd", "~vigil:*",
	"+get", "+getrange", "+getdel", "+set", "+del", "+ping", "+evalsha", "+eval"}

func TestLeastPrivilegeACLUser(t *testing.T) {
	srv := redistest.Start(t)
	args := append([]any{"ACL", "SETUSER", "vigil"}, aclRules...)
	if err := srv.Client().Do(testCtx(t), args...).Err(); err != nil {
		t.Fatalf("acl setuser: %v", err)
	}
	url := "redis://vigil:acl-Passw0rd@" + srv.Addr() + "/0"
	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, err := Open(testCtx(t), url, Options{Prefix: "vigil:" + freshPrefix(t)})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return s
		}, storetest.Options{ClaimTrials: 5})
	})
	t.Run("lua-fallback", func(t *testing.T) {
		claimOnce(t, open(t, url, Options{forceScript: true}))
	})
	t.Run("database-1/needs-select", func(t *testing.T) {
		url1 := "redis://vigil:acl-Passw0rd@" + srv.Addr() + "/1"
		mustBeUnavailable(t, "ping without +select", open(t, url1, Options{}).Ping(testCtx(t)))
		if err := srv.Client().Do(testCtx(t), "ACL", "SETUSER", "vigil", "+select").Err(); err != nil {
			t.Fatal(err)
		}
		claimOnce(t, open(t, url1, Options{}))
	})
	t.Run("outside-its-keys/unavailable", func(t *testing.T) {
		s := open(t, url, Options{Prefix: "other:"})
		err := s.Create(testCtx(t), store.KindSecret, storetest.NewID(t), store.Secret{Data: []byte("x"), TTL: 3600e9})
		mustBeUnavailable(t, "create outside ~vigil:*", err)
	})
}
