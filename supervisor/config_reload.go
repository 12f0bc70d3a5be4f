package main

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-sh/vigil/internal/tomlfile"
	"github.com/vigil-sh/vigil/supervisor/signals"
	"github.com/vigil-sh/vigil/supervisor/sockets"
	"github.com/vigil-sh/vigil/supervisor/supervise"
)

// ListenConfig is one [[listen]] entry: a socket vigil binds before the
// first child and hands to every child.
type ListenConfig struct {
	// Name is the socket's LISTEN_FDNAMES entry.
	Name string `toml:"name"`
	// Address is "127.0.0.1:1337", "[::1]:8080" or "unix:/path".
	Address string `toml:"address"`
}

// ReadinessConfig is the [readiness] table.
type ReadinessConfig struct {
	// Mode is "started" (ready once the command runs, after Delay) or
	// "notify" (ready on READY=1).
	Mode  string            `toml:"mode"`
	Delay tomlfile.Duration `toml:"delay"`
	// StartTimeout bounds the time to ready; a child that misses it is
	// killed.
	StartTimeout tomlfile.Duration `toml:"start_timeout"`
}

// ReloadConfig is the [reload] table.
type ReloadConfig struct {
	// Strategy is "restart" (new child, then drain the old) or "signal"
	// (send Signal to the child).
	Strategy string `toml:"strategy"`
	Signal   string `toml:"signal"`
	// Watch lists files whose change triggers a reload; vigil's own config
	// file is always watched too.
	Watch []string `toml:"watch"`
	// Check is run before every reload and must exit 0; empty means none.
	Check        []string          `toml:"check"`
	CheckTimeout tomlfile.Duration `toml:"check_timeout"`
	// Debounce is the quiet time after the last file event.
	Debounce tomlfile.Duration `toml:"debounce"`
}

// Default values of the reload-related keys.
const (
	defaultStartTimeout = 60 * time.Second
	defaultCheckTimeout = 10 * time.Second
	defaultDebounce     = 100 * time.Millisecond
)

func defaultReadiness() ReadinessConfig {
	return ReadinessConfig{Mode: "started", StartTimeout: tomlfile.Duration(defaultStartTimeout)}
}

func defaultReload() ReloadConfig {
	return ReloadConfig{
		Strategy:     "restart",
		Signal:       "HUP",
		CheckTimeout: tomlfile.Duration(defaultCheckTimeout),
		Debounce:     tomlfile.Duration(defaultDebounce),
	}
}

// reloadSettings are the parsed reload-related keys.
type reloadSettings struct {
	readyMode    supervise.ReadyMode
	strategy     supervise.Strategy
	reloadSignal syscall.Signal
}

// reloadErrors validates [[listen]], [readiness] and [reload].
func (c Config) reloadErrors(s *reloadSettings) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var err error
	if s.readyMode, err = supervise.ParseReadyMode(c.Readiness.Mode); err != nil {
		bad("readiness.mode: %w", err)
	}
	rd := c.Readiness
	if rd.Delay < 0 {
		bad("readiness.delay: %s is negative", rd.Delay.D())
	}
	if rd.StartTimeout <= 0 {
		bad("readiness.start_timeout: must be positive, got %s", rd.StartTimeout.D())
	} else if rd.Delay >= rd.StartTimeout {
		bad("readiness.delay: %s is not below start_timeout %s", rd.Delay.D(), rd.StartTimeout.D())
	}
	if s.strategy, err = supervise.ParseStrategy(c.Reload.Strategy); err != nil {
		bad("reload.strategy: %w", err)
	}
	if s.reloadSignal, err = signals.Parse(c.Reload.Signal); err != nil {
		bad("reload.signal: %w", err)
	}
	if len(c.Reload.Check) > 0 && c.Reload.Check[0] == "" {
		bad("reload.check: the program name is empty")
	}
	if slices.Contains(c.Reload.Watch, "") {
		bad("reload.watch: an entry is empty")
	}
	if c.Reload.CheckTimeout <= 0 {
		bad("reload.check_timeout: must be positive, got %s", c.Reload.CheckTimeout.D())
	}
	if c.Reload.Debounce <= 0 {
		bad("reload.debounce: must be positive, got %s", c.Reload.Debounce.D())
	}
	if err := sockets.Validate(c.listenSpecs()); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// reloadDurations are the reload-related durations, for the unit check.
func (c Config) reloadDurations() map[string]tomlfile.Duration {
	return map[string]tomlfile.Duration{
		"readiness.delay": c.Readiness.Delay, "readiness.start_timeout": c.Readiness.StartTimeout,
		"reload.check_timeout": c.Reload.CheckTimeout, "reload.debounce": c.Reload.Debounce,
	}
}

func (c Config) listenSpecs() []sockets.Spec {
	specs := make([]sockets.Spec, len(c.Listen))
	for i, l := range c.Listen {
		specs[i] = sockets.Spec{Name: l.Name, Address: l.Address}
	}
	return specs
}

// reloadEnabled says whether SIGHUP means a reload and files are watched:
// with a config file, or with a reload flag on the command line. Plain
// `vigil -- cmd` (tini-style) forwards SIGHUP like any other signal.
func (c Config) reloadEnabled() bool {
	return c.path != "" || c.reloadFlags
}

// watchList is reload.watch plus vigil's own config file.
func (c Config) watchList() []string {
	list := slices.Clone(c.Reload.Watch)
	if c.path != "" && !slices.Contains(list, c.path) {
		list = append(list, c.path)
	}
	return list
}

// reservedEnv are variables vigil sets for each child itself.
var reservedEnv = []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET"}

func reservedEnvErrors(env []string) []error {
	var errs []error
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(reservedEnv, k) {
			errs = append(errs, fmt.Errorf("env %q: vigil sets %s for each child itself", kv, k))
		}
	}
	return errs
}

// startOnly names the settings that differ between a and b but only take
// effect when vigil itself starts.
func startOnly(a, b Config) []string {
	var keys []string
	if a.LogLevel != b.LogLevel {
		keys = append(keys, "log_level")
	}
	if a.LogFormat != b.LogFormat {
		keys = append(keys, "log_format")
	}
	if !slices.Equal(a.RemapExit, b.RemapExit) {
		keys = append(keys, "remap_exit")
	}
	if a.Reload.Debounce != b.Reload.Debounce {
		keys = append(keys, "reload.debounce")
	}
	return keys
}
