package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/server/store"
)

// replyError is an error reply from Redis, as go-redis types it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

var _ redis.Error = replyError("")

func TestClassify(t *testing.T) {
	const id = "0123456789abcdefghijkl"
	for _, tc := range []struct {
		name string
		err  error
		kind error // nil: neither unavailable nor closed
		msg  string
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, store.ErrUnavailable, "connection refused"},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), store.ErrUnavailable, "connection lost"},
		{"eof", io.EOF, store.ErrUnavailable, "connection lost"},
		{"deadline", context.DeadlineExceeded, store.ErrUnavailable, "timed out"},
		{"pool-timeout", redis.ErrPoolTimeout, store.ErrUnavailable, "free connection"},
		{"dns", &net.DNSError{Err: "no such host", Name: "redis.invalid"}, store.ErrUnavailable, "resolve"},
		{"loading", replyError("LOADING Redis is loading the dataset in memory"), store.ErrUnavailable, "loading"},
		{"readonly", replyError("READONLY You can't write against a read only replica."), store.ErrUnavailable, "read-only"},
		{"clusterdown", replyError("CLUSTERDOWN The cluster is down"), store.ErrUnavailable, "cluster is down"},
		{"masterdown", replyError("MASTERDOWN Link with MASTER is down"), store.ErrUnavailable, "master is down"},
		{"oom", replyError("OOM command not allowed when used memory > 'maxmemory'."), store.ErrUnavailable, "out of memory"},
		{"max-clients", replyError("ERR max number of clients reached"), store.ErrUnavailable, "too many clients"},
		{"sentinel-no-master", fmt.Errorf("redis: all sentinels specified in configuration are unreachable: %w", redis.Nil), store.ErrUnavailable, "no Sentinel"},
		{"closed", redis.ErrClosed, store.ErrClosed, "closed"},
		{"canceled", context.Canceled, nil, "canceled"},
		{"wrongtype", replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), nil, "another type"},
		{"other-reply-quotes-key", replyError("ERR unknown command 'X', with args beginning with: 'vigil:secret:" + id + "'"), nil, "error ERR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := classify("get", tc.err)
			if tc.kind != nil && !errors.Is(e, tc.kind) {
				t.Fatalf("%v: not %v", e, tc.kind)
			}
			if tc.kind == nil && (errors.Is(e, store.ErrUnavailable) || errors.Is(e, store.ErrClosed)) {
				t.Fatalf("%v: classified as unavailable or closed", e)
			}
			if !errors.Is(e, tc.err) {
				t.Fatalf("%v: the go-redis error is not reachable by errors.Is", e)
			}
			if !strings.Contains(e.Error(), tc.msg) || strings.Contains(e.Error(), id) {
				t.Fatalf("message %q: want %q in it and no id", e.Error(), tc.msg)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	for err, want := range map[error]bool{
		replyError("ERR unknown command 'GETDEL', with args beginning with: 'k' "):  true,
		replyError("ERR unknown command `GETDEL`, with args beginning with: `k`, "): true, // Redis < 6.2 quoting
		replyError("ERR syntax error"):                                              false,
		io.EOF:                                                                      false,
	} {
		if got := isUnknownCommand(err); got != want {
			t.Errorf("isUnknownCommand(%v) = %v, want %v", err, got, want)
		}
	}
}
