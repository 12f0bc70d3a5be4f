package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL checks a Redis store URL and returns the go-redis options it
// names. The forms are:
//
//	redis://[user:password@]host[:port][/db][?option=value...]
//	rediss://...                           (the same over TLS)
//	unix://[user:password@]/path/to/redis.sock[?db=N&...]
//	redis+sentinel://[user:password@]host1[:port],host2[:port]/master[/db][?...]
//	redis+cluster://[user:password@]host1[:port],host2[:port][?...]
//
// rediss+sentinel:// and rediss+cluster:// use TLS. Ports default to 6379
// (26379 for Sentinel addresses). The user and password are Redis's; for
// Sentinel, sentinel_username and sentinel_password query parameters
// authenticate to the Sentinels. The query takes go-redis's option names
// (dial_timeout, read_timeout, write_timeout, pool_size, max_retries,
// client_name, skip_verify, ...); an unknown one is an error. Options that
// would read from replicas (read_only, replica_only, route_by_latency,
// route_randomly) and disabled timeouts are refused: a one-time secret must
// be claimed on the master and a request must never hang.
//
// Error messages hold the URL with its password redacted, never the password.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	u, err := parseByScheme(raw)
	if err == nil {
		err = validate(u)
	}
	if err != nil {
		// Not wrapped with %w: go-redis's and net/url's messages may quote
		// the URL, password included; only the scrubbed text leaves here.
		msg := strings.TrimPrefix(scrub(raw, err.Error()), "redis: ")
		return nil, fmt.Errorf("redis URL %q: %s", Redact(raw), msg)
	}
	return u, nil
}

func parseByScheme(raw string) (*redis.UniversalOptions, error) {
	r, ok := splitRaw(raw)
	if !ok {
		return nil, errors.New(`no scheme: want redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://`)
	}
	switch r.scheme {
	case "redis", "rediss", "unix":
		return parseSimple(raw, r)
	case "redis+sentinel", "rediss+sentinel":
		return parseSentinel(r)
	case "redis+cluster", "rediss+cluster":
		return parseCluster(r)
	}
	return nil, fmt.Errorf("unsupported scheme %q: want redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster", r.scheme)
}

func parseSimple(raw string, r rawURL) (*redis.UniversalOptions, error) {
	if strings.Contains(r.hosts, ",") {
		return nil, fmt.Errorf("several hosts need %s+sentinel:// or %s+cluster://", r.scheme, r.scheme)
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	if o.Network == "tcp" {
		// go-redis takes any digits as a port; a typo would only show at
		// the first dial.
		if _, err := hostPort(o.Addr, "6379"); err != nil {
			return nil, err
		}
	}
	return fromSimple(o), nil
}

// unwrapURLError drops net/url's quote of the whole URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func validate(u *redis.UniversalOptions) error {
	var errs []error
	if u.DialTimeout < 0 || u.ReadTimeout < 0 || u.WriteTimeout < 0 || u.PoolTimeout < 0 {
		errs = append(errs, errors.New("timeouts cannot be disabled: a request must never hang"))
	}
	if u.ReadOnly || u.RouteByLatency || u.RouteRandomly {
		errs = append(errs, errors.New("read_only, replica_only, route_by_latency and route_randomly are not supported: secrets are read and claimed on the master"))
	}
	if u.DB < 0 {
		errs = append(errs, fmt.Errorf("database number %d is negative", u.DB))
	}
	if u.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("pool_size %d is negative", u.PoolSize))
	}
	return errors.Join(errs...)
}
