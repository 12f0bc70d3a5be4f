package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// go-redis parses Sentinel and Cluster URLs as redis://host?addr=host2&...
// (ParseFailoverURL, ParseClusterURL). Our URLs list the hosts in the
// authority instead; they are rewritten into go-redis's form and parsed by
// go-redis, so every query option means the same in all forms.

// parseSentinel handles redis+sentinel://[user:pass@]h1,h2/master[/db].
func parseSentinel(r rawURL) (*redis.UniversalOptions, error) {
	addrs, err := splitHosts(r.hosts, "26379")
	if err != nil {
		return nil, err
	}
	master, db, err := sentinelPath(r.path)
	if err != nil {
		return nil, err
	}
	q, err := ownQuery(r.query)
	if err != nil {
		return nil, err
	}
	user, password, err := r.credentials()
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	// In go-redis's form the userinfo authenticates to the Sentinels and
	// username/password parameters to Redis; ours is the other way round.
	sentinel := sentinelUserinfo(q)
	q.Set("master_name", master)
	setIfNotEmpty(q, "username", user)
	setIfNotEmpty(q, "password", password)
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	g := url.URL{Scheme: baseScheme(r.scheme), User: sentinel, Host: addrs[0], Path: "/" + db, RawQuery: q.Encode()}
	o, err := redis.ParseFailoverURL(g.String())
	if err != nil {
		return nil, unwrapURLError(err)
	}
	return fromFailover(o)
}

// parseCluster handles redis+cluster://[user:pass@]h1,h2.
func parseCluster(r rawURL) (*redis.UniversalOptions, error) {
	addrs, err := splitHosts(r.hosts, "6379")
	if err != nil {
		return nil, err
	}
	if strings.Trim(r.path, "/") != "" {
		return nil, fmt.Errorf("path %q: a Redis Cluster has no database number", r.path)
	}
	q, err := ownQuery(r.query)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	g := baseScheme(r.scheme) + "://"
	if r.hasUser {
		g += r.userinfo + "@" // still percent-encoded, as go-redis expects
	}
	g += addrs[0] + "?" + q.Encode()
	o, err := redis.ParseClusterURL(g)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	return fromCluster(o), nil
}

// splitHosts turns "h1:p1,h2" into host:port addresses.
func splitHosts(hosts, defaultPort string) ([]string, error) {
	if hosts == "" {
		return nil, errors.New("no host")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		a, err := hostPort(h, defaultPort)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty host in the host list")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port (or a bare IPv6 literal in brackets): use the default.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("host %q: invalid port %q", h, port)
	}
	if host == "" || strings.ContainsAny(host, "[]/@ ") {
		return "", fmt.Errorf("invalid host %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

// sentinelPath splits "/master[/db]".
func sentinelPath(p string) (master, db string, err error) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case parts[0] == "":
		return "", "", errors.New("no master name: want redis+sentinel://host1,host2/mastername[/db]")
	case len(parts) > 2:
		return "", "", fmt.Errorf("path %q: want /mastername[/db]", p)
	}
	master = parts[0]
	if len(parts) == 2 {
		db = parts[1]
	}
	if master, err = url.PathUnescape(master); err != nil {
		return "", "", fmt.Errorf("master name: %w", err)
	}
	return master, db, nil
}

// ownQuery parses the query and refuses the parameters that our URL form
// expresses elsewhere (hosts, master, credentials).
func ownQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	for _, k := range []string{"addr", "master_name", "username", "password"} {
		if q.Has(k) {
			return nil, fmt.Errorf("query parameter %q is not allowed here: list hosts in the authority, the master in the path, credentials as user:password@", k)
		}
	}
	return q, nil
}

func sentinelUserinfo(q url.Values) *url.Userinfo {
	user, password := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	switch {
	case password != "":
		return url.UserPassword(user, password)
	case user != "":
		return url.User(user)
	}
	return nil
}

func setIfNotEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func baseScheme(scheme string) string {
	if strings.HasPrefix(scheme, "rediss") {
		return "rediss"
	}
	return "redis"
}
