package main

import (
	"reflect"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/config"
)

// reload re-reads the configuration on SIGHUP. What can change live (limits,
// CORS, per-request timeouts, log level, shutdown timing) is applied; what
// needs a restart is logged; an invalid file keeps every running setting.
func (s *server) reload() {
	next, err := loadConfig(s.flags, s.getenv)
	if err != nil {
		s.log.Error("reload: invalid configuration, keeping the running one", "problems", err.Error())
		notify(s.log, "STATUS=reload failed: invalid configuration")
		return
	}
	for _, key := range restartOnly(s.cfg, next) {
		s.log.Warn("reload: setting changed but needs a restart to apply", "key", key)
	}
	s.api.SetSettings(next.APISettings())
	if next.LogLevel != s.cfg.LogLevel {
		s.log.SetLevel(hclog.LevelFromString(next.LogLevel))
	}
	// Keep what cannot change live as it runs, so a later reload still
	// reports it as pending.
	next.Listen, next.Store, next.MetricsListen, next.LogFormat = s.cfg.Listen, s.cfg.Store, s.cfg.MetricsListen, s.cfg.LogFormat
	next.HTTP.IdleTimeout, next.HTTP.Concurrency, next.HTTP.MaxConnsPerIP = s.cfg.HTTP.IdleTimeout, s.cfg.HTTP.Concurrency, s.cfg.HTTP.MaxConnsPerIP
	next.SQLite, next.Redis = s.cfg.SQLite, s.cfg.Redis
	s.cfg = next
	s.log.Info("reload: configuration applied")
	notify(s.log, "STATUS=serving")
}

// restartOnly names the settings that differ between a and b and only take
// effect on a restart.
func restartOnly(a, b config.Config) []string {
	fields := []struct {
		key  string
		a, b any
	}{
		{"listen", a.Listen, b.Listen},
		{"store", a.Store, b.Store},
		{"metrics_listen", a.MetricsListen, b.MetricsListen},
		{"log_format", a.LogFormat, b.LogFormat},
		{"http.idle_timeout", a.HTTP.IdleTimeout, b.HTTP.IdleTimeout},
		{"http.concurrency", a.HTTP.Concurrency, b.HTTP.Concurrency},
		{"http.max_conns_per_ip", a.HTTP.MaxConnsPerIP, b.HTTP.MaxConnsPerIP},
		{"sqlite", a.SQLite, b.SQLite},
		{"redis", a.Redis, b.Redis},
	}
	var keys []string
	for _, f := range fields {
		if !reflect.DeepEqual(f.a, f.b) {
			keys = append(keys, f.key)
		}
	}
	return keys
}
