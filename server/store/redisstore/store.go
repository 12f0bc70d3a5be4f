package redisstore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/server/store"
)

// Store is a store.Store on Redis (standalone, Sentinel or Cluster). It is
// safe for concurrent use, and any number of Stores in any number of
// processes may share one Redis and prefix.
type Store struct {
	client    redis.UniversalClient
	prefix    string
	opTimeout time.Duration
	log       hclog.Logger
	health    health

	// noGetDel is set once Redis has answered GETDEL with "unknown
	// command"; from then on one-time secrets are claimed by a Lua script.
	noGetDel atomic.Bool

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open parses url (see ParseURL) and returns a Store for it. A malformed URL
// is an error; Redis being unreachable is not: the store is returned, logs a
// warning, and every call (Ping included) fails with store.ErrUnavailable
// until Redis answers, so the server can start and report not ready. ctx
// bounds only the first PING.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	uo, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	opts.applyTo(uo)
	log := opts.Logger.Named("redis")
	useLogger(log)
	s := &Store{
		client:    redis.NewUniversalClient(uo),
		prefix:    opts.Prefix,
		opTimeout: opTimeout(uo),
		log:       log,
		health:    health{log: log},
	}
	s.noGetDel.Store(opts.forceScript)
	log.Info("redis store opened", "url", Redact(url), "mode", mode(uo), "prefix", s.prefix,
		"pool_size", poolSize(uo), "dial_timeout", uo.DialTimeout, "read_timeout", uo.ReadTimeout,
		"op_timeout", s.opTimeout)
	// A failure is logged once by the health tracker; the store stays
	// usable and recovers when Redis answers.
	_ = s.Ping(ctx)
	return s, nil
}

// poolSize is the pool size go-redis will use (per node).
func poolSize(u *redis.UniversalOptions) int {
	if u.PoolSize > 0 {
		return u.PoolSize
	}
	return 10 * runtime.GOMAXPROCS(0) // go-redis's default
}

func mode(u *redis.UniversalOptions) string {
	switch {
	case u.MasterName != "":
		return "sentinel"
	case u.IsClusterMode:
		return "cluster"
	}
	return "standalone"
}

// Ping returns nil when Redis answers PING, else an error wrapping
// store.ErrUnavailable (or store.ErrClosed after Close).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return s.result("ping", s.client.Ping(ctx).Err())
}

// Close closes the connection pool. Later calls fail with store.ErrClosed;
// Close itself is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if cerr := s.client.Close(); cerr != nil {
			err = fmt.Errorf("close redis client: %w", cerr)
		}
	})
	return err
}

// begin starts one operation under the store's time bound.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, store.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	return ctx, cancel, nil
}

// result classifies a go-redis error (nil and redis.Nil count as success:
// Redis answered) and keeps the health state.
func (s *Store) result(op string, err error) error {
	if err == nil || err == redis.Nil {
		s.health.ok()
		return nil
	}
	e := classify(op, err)
	s.health.failed(e)
	return e
}

func (s *Store) key(kind store.Kind, id string) string {
	return s.prefix + kind.String() + ":" + id
}
