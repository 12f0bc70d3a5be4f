package config

import (
	"errors"
	"fmt"
	"strings"
)

// StoreKind names a store backend.
type StoreKind string

const (
	// StoreSQLite is the embedded default: a SQLite file.
	StoreSQLite StoreKind = "sqlite"
	// StoreRedis is a Redis server, Sentinel group or Cluster.
	StoreRedis StoreKind = "redis"
)

// StoreURL is a parsed -store value.
type StoreURL struct {
	Kind StoreKind
	// Path is the SQLite file (for StoreSQLite).
	Path string
	// URL is the whole Redis URL (for StoreRedis).
	URL string
}

var redisSchemes = []string{"redis://", "rediss://", "redis+sentinel://", "redis+cluster://"}

// ParseStore parses "sqlite:PATH" or a Redis URL. It checks the form only;
// the backend checks the rest when it opens.
func ParseStore(s string) (StoreURL, error) {
	if path, ok := strings.CutPrefix(s, "sqlite:"); ok {
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return StoreURL{}, errors.New(`"sqlite:" needs a file path, such as "sqlite:data/vigil.db"`)
		}
		return StoreURL{Kind: StoreSQLite, Path: path}, nil
	}
	for _, scheme := range redisSchemes {
		if strings.HasPrefix(s, scheme) {
			return StoreURL{Kind: StoreRedis, URL: s}, nil
		}
	}
	return StoreURL{}, fmt.Errorf("%q is not sqlite:PATH or a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL", redact(s))
}

// redact hides a password in a URL-like string before it reaches a log or
// an error message.
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	return scheme + "://xxxxx@" + rest[at+1:]
}
