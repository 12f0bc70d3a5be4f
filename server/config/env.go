package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigil-sh/vigil/internal/tomlfile"
)

// envVar binds one environment variable to a setting. Containers set these
// instead of mounting a file; they override the file and are overridden by
// flags.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

// EnvVars lists the variables vigil-server reads, for documentation and
// tests.
func EnvVars() []string {
	names := make([]string, len(envVars))
	for i, e := range envVars {
		names[i] = e.name
	}
	return names
}

var envVars = []envVar{
	{"VIGIL_LISTEN", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"VIGIL_STORE", func(c *Config, v string) error { c.Store = v; return nil }},
	{"VIGIL_METRICS_LISTEN", func(c *Config, v string) error { c.MetricsListen = v; return nil }},
	{"VIGIL_MAX_LENGTH", intVar(func(c *Config) *int { return &c.MaxLength })},
	{"VIGIL_MAX_FILE_SIZE", intVar(func(c *Config) *int { return &c.MaxFileSize })},
	{"VIGIL_DEFAULT_EXPIRY", intVar(func(c *Config) *int { return &c.DefaultExpiry })},
	{"VIGIL_FORCE_ONETIME", boolVar(func(c *Config) *bool { return &c.ForceOneTime })},
	{"VIGIL_READ_ONLY", boolVar(func(c *Config) *bool { return &c.ReadOnly })},
	{"VIGIL_DISABLE_UPLOAD", boolVar(func(c *Config) *bool { return &c.DisableUpload })},
	{"VIGIL_PREFETCH_SECRET", boolVar(func(c *Config) *bool { return &c.PrefetchSecret })},
	{"VIGIL_CORS_ORIGIN", func(c *Config, v string) error { c.CORSOrigin = v; return nil }},
	{"VIGIL_SHUTDOWN_DELAY", durationVar(func(c *Config) *tomlfile.Duration { return &c.ShutdownDelay })},
	{"VIGIL_DRAIN_TIMEOUT", durationVar(func(c *Config) *tomlfile.Duration { return &c.DrainTimeout })},
	{"VIGIL_LOG_LEVEL", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"VIGIL_LOG_FORMAT", func(c *Config, v string) error { c.LogFormat = v; return nil }},
}

func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	for _, e := range envVars {
		v := getenv(e.name)
		if v == "" {
			continue
		}
		if err := e.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s=%q: %w", e.name, v, err))
		}
	}
	return errors.Join(errs...)
}

func intVar(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a whole number")
		}
		*field(c) = n
		return nil
	}
}

func boolVar(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("not true or false")
		}
		*field(c) = b
		return nil
	}
}

func durationVar(field func(*Config) *tomlfile.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration such as 20s")
		}
		*field(c) = tomlfile.Duration(d)
		return nil
	}
}
