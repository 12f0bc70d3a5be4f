package redisstore

import (
	"net/url"
	"strings"
)

// rawURL is a URL cut at its separators without decoding anything, so that
// forms net/url rejects (several hosts) and URLs that fail to parse can still
// be redacted and split.
type rawURL struct {
	scheme   string
	userinfo string // "" when there is no "@"
	hasUser  bool
	hosts    string // "h1:p1,h2:p2"
	path     string // from the first "/" after the hosts, without query
	query    string // without "?", fragment dropped
}

func splitRaw(raw string) (rawURL, bool) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return rawURL{}, false
	}
	r := rawURL{scheme: scheme}
	rest, _, _ = strings.Cut(rest, "#")
	rest, r.query, _ = strings.Cut(rest, "?")
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, r.path = rest[:i], rest[i:]
	}
	// The last "@" ends the userinfo: a password may itself contain "@".
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		r.userinfo, r.hasUser, authority = authority[:i], true, authority[i+1:]
	}
	r.hosts = authority
	return r, true
}

// credentials decodes the userinfo into a user name and a password.
func (r rawURL) credentials() (user, password string, err error) {
	u, p, _ := strings.Cut(r.userinfo, ":")
	if user, err = url.PathUnescape(u); err != nil {
		return "", "", err
	}
	if password, err = url.PathUnescape(p); err != nil {
		return "", "", err
	}
	return user, password, nil
}

// secrets lists every password in the URL, raw and decoded, so that error
// messages can be scrubbed of them.
func (r rawURL) secrets() []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	if _, p, ok := strings.Cut(r.userinfo, ":"); ok {
		add(p)
	} else {
		add(r.userinfo) // a lone userinfo may well be a password
	}
	for _, kv := range strings.Split(r.query, "&") {
		if k, v, _ := strings.Cut(kv, "="); isSecretParam(k) {
			add(v)
		}
	}
	return out
}

func isSecretParam(name string) bool {
	return strings.Contains(strings.ToLower(name), "password")
}
