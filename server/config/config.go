// Package config holds vigil-server's settings: defaults, the strict TOML
// file, environment variables and validation. Flags are applied by the
// command itself, last.
package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sh/vigil/internal/tomlfile"
	"github.com/vigil-sh/vigil/server/api"
)

// Config is everything vigil-server can be told. The TOML keys are the
// documented names; configs/server.toml lists each one.
type Config struct {
	Listen         string            `toml:"listen"`
	Store          string            `toml:"store"`
	MetricsListen  string            `toml:"metrics_listen"`
	MaxLength      int               `toml:"max_length"`
	MaxFileSize    int               `toml:"max_file_size"`
	Expirations    []int             `toml:"expirations"`
	DefaultExpiry  int               `toml:"default_expiry"`
	ForceOneTime   bool              `toml:"force_onetime"`
	ReadOnly       bool              `toml:"read_only"`
	DisableUpload  bool              `toml:"disable_upload"`
	PrefetchSecret bool              `toml:"prefetch_secret"`
	CORSOrigin     string            `toml:"cors_origin"`
	ShutdownDelay  tomlfile.Duration `toml:"shutdown_delay"`
	DrainTimeout   tomlfile.Duration `toml:"drain_timeout"`
	LogLevel       string            `toml:"log_level"`
	LogFormat      string            `toml:"log_format"`
	HTTP           HTTP              `toml:"http"`
	SQLite         SQLite            `toml:"sqlite"`
	Redis          Redis             `toml:"redis"`
}

// HTTP holds the fasthttp server's limits and timeouts.
type HTTP struct {
	ReadTimeout   tomlfile.Duration `toml:"read_timeout"`
	WriteTimeout  tomlfile.Duration `toml:"write_timeout"`
	IdleTimeout   tomlfile.Duration `toml:"idle_timeout"`
	Concurrency   int               `toml:"concurrency"`
	MaxConnsPerIP int               `toml:"max_conns_per_ip"`
}

// SQLite tunes the embedded store.
type SQLite struct {
	Synchronous        string            `toml:"synchronous"`
	BusyTimeout        tomlfile.Duration `toml:"busy_timeout"`
	CheckpointInterval tomlfile.Duration `toml:"checkpoint_interval"`
	SweepInterval      tomlfile.Duration `toml:"sweep_interval"`
}

// Redis tunes the Redis store.
type Redis struct {
	Prefix       string            `toml:"prefix"`
	PoolSize     int               `toml:"pool_size"`
	DialTimeout  tomlfile.Duration `toml:"dial_timeout"`
	ReadTimeout  tomlfile.Duration `toml:"read_timeout"`
	WriteTimeout tomlfile.Duration `toml:"write_timeout"`
}

// Default returns the settings used when neither the file nor the
// environment nor a flag says otherwise.
func Default() Config {
	// The API's own defaults (Yopass's) are the one source for its limits.
	api := api.DefaultSettings()
	return Config{
		Listen:         "127.0.0.1:1337",
		Store:          "sqlite:data/vigil.db",
		MaxLength:      api.MaxLength,
		MaxFileSize:    api.MaxFileSize,
		Expirations:    api.Expirations,
		DefaultExpiry:  api.DefaultExpiry,
		PrefetchSecret: api.PrefetchSecret,
		DrainTimeout:   tomlfile.Duration(20 * time.Second),
		LogLevel:       "info",
		LogFormat:      "text",
		HTTP: HTTP{
			ReadTimeout:  tomlfile.Duration(10 * time.Second),
			WriteTimeout: tomlfile.Duration(10 * time.Second),
			IdleTimeout:  tomlfile.Duration(60 * time.Second),
			Concurrency:  10000,
		},
		SQLite: SQLite{
			Synchronous:        "normal",
			BusyTimeout:        tomlfile.Duration(5 * time.Second),
			CheckpointInterval: tomlfile.Duration(30 * time.Second),
			SweepInterval:      tomlfile.Duration(time.Minute),
		},
		Redis: Redis{
			Prefix:       "vigil:",
			DialTimeout:  tomlfile.Duration(2 * time.Second),
			ReadTimeout:  tomlfile.Duration(time.Second),
			WriteTimeout: tomlfile.Duration(time.Second),
		},
	}
}

// Load returns the defaults overlaid by the file at path (when path is not
// empty) and then by the environment.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := tomlfile.Load(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Validate returns every problem with the settings at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen: %q is not host:port: %v", c.Listen, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			add("metrics_listen: %q is not host:port: %v", c.MetricsListen, err)
		}
	}
	if _, err := ParseStore(c.Store); err != nil {
		add("store: %v", err)
	}
	// The API checks its own settings (limits, expirations, CORS origin).
	if err := c.APISettings().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownDelay < 0 {
		add("shutdown_delay: must not be negative")
	}
	if c.DrainTimeout <= 0 {
		add("drain_timeout: must be positive")
	}
	if !slices.Contains([]string{"trace", "debug", "info", "warn", "error"}, strings.ToLower(c.LogLevel)) {
		add("log_level: %q is not one of trace, debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add("log_format: %q is not text or json", c.LogFormat)
	}
	errs = append(errs, c.HTTP.validate()...)
	errs = append(errs, c.SQLite.validate()...)
	errs = append(errs, c.Redis.validate()...)
	return errors.Join(errs...)
}

// APISettings returns the API's settings: the ones a SIGHUP applies live.
func (c Config) APISettings() api.Settings {
	st := api.DefaultSettings()
	st.MaxLength = c.MaxLength
	st.MaxFileSize = c.MaxFileSize
	st.Expirations = c.Expirations
	st.DefaultExpiry = c.DefaultExpiry
	st.ForceOneTime = c.ForceOneTime
	st.ReadOnly = c.ReadOnly
	st.DisableUpload = c.DisableUpload
	st.PrefetchSecret = c.PrefetchSecret
	st.CORSOrigin = c.CORSOrigin
	st.ReadTimeout = c.HTTP.ReadTimeout.D()
	st.WriteTimeout = c.HTTP.WriteTimeout.D()
	return st
}

func (h HTTP) validate() []error {
	var errs []error
	for name, d := range map[string]tomlfile.Duration{"read_timeout": h.ReadTimeout, "write_timeout": h.WriteTimeout, "idle_timeout": h.IdleTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("http.%s: must be positive (every timeout is set)", name))
		}
	}
	if h.Concurrency <= 0 {
		errs = append(errs, fmt.Errorf("http.concurrency: must be positive, got %d", h.Concurrency))
	}
	if h.MaxConnsPerIP < 0 {
		errs = append(errs, fmt.Errorf("http.max_conns_per_ip: must not be negative, got %d", h.MaxConnsPerIP))
	}
	return errs
}

func (s SQLite) validate() []error {
	var errs []error
	if s.Synchronous != "normal" && s.Synchronous != "full" {
		errs = append(errs, fmt.Errorf("sqlite.synchronous: %q is not normal or full", s.Synchronous))
	}
	for name, d := range map[string]tomlfile.Duration{"busy_timeout": s.BusyTimeout, "checkpoint_interval": s.CheckpointInterval, "sweep_interval": s.SweepInterval} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("sqlite.%s: must be positive", name))
		}
	}
	return errs
}

func (r Redis) validate() []error {
	var errs []error
	if r.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("redis.pool_size: must not be negative, got %d", r.PoolSize))
	}
	for name, d := range map[string]tomlfile.Duration{"dial_timeout": r.DialTimeout, "read_timeout": r.ReadTimeout, "write_timeout": r.WriteTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("redis.%s: must be positive", name))
		}
	}
	return errs
}
