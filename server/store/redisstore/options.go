package redisstore

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// Defaults for the zero fields of Options.
const (
	DefaultPrefix       = "vigil:"
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
)

// Options tune a Store. The zero value of each field means its default. A
// setting given in the URL's query (dial_timeout=3s, pool_size=20, ...) wins
// over the same setting here.
type Options struct {
	// Prefix starts every key: Prefix + kind + ":" + id. Default "vigil:".
	// Stores with different prefixes on one Redis never see each other's
	// secrets.
	Prefix string
	// PoolSize is the number of connections kept per Redis node. Default
	// go-redis's: 10 per GOMAXPROCS.
	PoolSize int
	// DialTimeout bounds connecting to Redis. Default 2s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for one reply. Default 1s.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending one command. Default 1s.
	WriteTimeout time.Duration
	// Logger receives the store's messages (named "redis"). Default: none.
	Logger hclog.Logger

	// forceScript makes the one-time claim use the Lua script, as on a Redis
	// without GETDEL (tests exercise that path against Redis 7).
	forceScript bool
}

// validate refuses negative values, which go-redis would read as "no
// timeout" or worse.
func (o Options) validate() error {
	if o.PoolSize < 0 || o.DialTimeout < 0 || o.ReadTimeout < 0 || o.WriteTimeout < 0 {
		return fmt.Errorf("redis options: pool size and timeouts cannot be negative (pool %d, dial %v, read %v, write %v)",
			o.PoolSize, o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// applyTo fills the settings the URL left unset.
func (o Options) applyTo(u *redis.UniversalOptions) {
	if u.PoolSize == 0 {
		u.PoolSize = o.PoolSize
	}
	if u.DialTimeout == 0 {
		u.DialTimeout = o.DialTimeout
	}
	if u.ReadTimeout == 0 {
		u.ReadTimeout = o.ReadTimeout
	}
	if u.WriteTimeout == 0 {
		u.WriteTimeout = o.WriteTimeout
	}
	// Lets the per-operation deadline cut a socket read short, so a hung
	// Redis cannot hold a request past it.
	u.ContextTimeoutEnabled = true
}

// opTimeout bounds one store operation, go-redis's retries included: one
// dial plus one reply, the slowest single attempt that can still succeed.
func opTimeout(u *redis.UniversalOptions) time.Duration {
	return u.DialTimeout + u.ReadTimeout
}
