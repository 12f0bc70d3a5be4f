package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

var (
	redisLog     atomic.Pointer[hclog.Logger]
	redisLogOnce sync.Once
)

// useLogger sends go-redis's own messages (one per failed dial while Redis
// is down) to log at debug level instead of a bare line on stderr; the
// store logs each outage itself, once, at warn level. go-redis has one
// process-wide logger: the most recently opened store's logger gets them.
func useLogger(log hclog.Logger) {
	l := log.Named("go-redis")
	redisLog.Store(&l)
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{}) })
}

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		(*l).Debug(fmt.Sprintf(format, v...))
	}
}
