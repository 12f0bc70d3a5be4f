package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/config"
	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/redisstore"
	"github.com/vigil-sh/vigil/server/store/sqlitestore"
)

// openStore opens the backend that cfg.Store names.
func openStore(cfg config.Config, log hclog.Logger, set *metrics.Set) (store.Store, error) {
	u, err := config.ParseStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	switch u.Kind {
	case config.StoreSQLite:
		return openSQLite(cfg, u.Path, log.Named("sqlite"), set)
	case config.StoreRedis:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return redisstore.Open(ctx, u.URL, redisstore.Options{
			Prefix:       cfg.Redis.Prefix,
			PoolSize:     cfg.Redis.PoolSize,
			DialTimeout:  cfg.Redis.DialTimeout.D(),
			ReadTimeout:  cfg.Redis.ReadTimeout.D(),
			WriteTimeout: cfg.Redis.WriteTimeout.D(),
			Logger:       log.Named("redis"),
		})
	}
	return nil, fmt.Errorf("unknown store kind %q", u.Kind)
}

func openSQLite(cfg config.Config, path string, log hclog.Logger, set *metrics.Set) (store.Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create the store's directory: %w", err)
	}
	expired := set.GetOrCreateCounter(`vigil_secrets_expired_total`)
	return sqlitestore.Open(sqlitestore.Options{
		Path:               path,
		Synchronous:        cfg.SQLite.Synchronous,
		BusyTimeout:        cfg.SQLite.BusyTimeout.D(),
		CheckpointInterval: cfg.SQLite.CheckpointInterval.D(),
		SweepInterval:      cfg.SQLite.SweepInterval.D(),
		Logger:             log,
		OnExpired:          func(n int) { expired.Add(n) },
	})
}
