package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/internal/tomlfile"
	"github.com/vigil-sh/vigil/supervisor/signals"
	"github.com/vigil-sh/vigil/supervisor/supervise"
)

// Config is vigil's configuration as the TOML file and the flags write it.
// Each key has a flag of the same name with '-' for '_' (drain_timeout is
// -drain-timeout); a flag given on the command line wins over the file.
type Config struct {
	// Command is the program and its arguments; arguments after the flags
	// (or after --) replace it.
	Command []string `toml:"command"`
	// Env is extra environment for the child, "KEY=VALUE" each, over vigil's
	// own (a key given here replaces vigil's value).
	Env []string `toml:"env"`
	// DrainTimeout bounds a stop: then the child's group is SIGKILLed.
	DrainTimeout tomlfile.Duration `toml:"drain_timeout"`
	// StopSignal is what the child gets when vigil gets SIGTERM.
	StopSignal string `toml:"stop_signal"`
	// Group sends forwarded signals to the child's whole process group.
	Group bool `toml:"group"`
	// Restart is the policy: "no", "on-failure" or "always".
	Restart             string            `toml:"restart"`
	RestartBackoff      tomlfile.Duration `toml:"restart_backoff"`
	RestartBackoffMax   tomlfile.Duration `toml:"restart_backoff_max"`
	RestartBackoffReset tomlfile.Duration `toml:"restart_backoff_reset"`
	RestartMax          int               `toml:"restart_max"`
	RestartWindow       tomlfile.Duration `toml:"restart_window"`
	// RemapExit rewrites vigil's exit code last: "143:0" turns 143 into 0.
	RemapExit []string `toml:"remap_exit"`
	// LogLevel is trace, debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `toml:"log_format"`
	// Listen are the sockets vigil binds before the first child and hands
	// to every child ([[listen]]).
	Listen []ListenConfig `toml:"listen"`
	// Readiness says when a child counts as ready ([readiness]).
	Readiness ReadinessConfig `toml:"readiness"`
	// Reload says what a reload does ([reload]).
	Reload ReloadConfig `toml:"reload"`

	// path is the -config file, "" for none; reloadFlags records a reload
	// flag on the command line. Either turns reloads on. args is the
	// command line, read again on each reload.
	path        string
	reloadFlags bool
	args        []string
}

// DefaultConfig returns the settings vigil uses when neither the file nor
// a flag says otherwise.
func DefaultConfig() Config {
	return Config{
		DrainTimeout:        tomlfile.Duration(25 * time.Second),
		StopSignal:          "TERM",
		Restart:             "on-failure",
		RestartBackoff:      tomlfile.Duration(100 * time.Millisecond),
		RestartBackoffMax:   tomlfile.Duration(10 * time.Second),
		RestartBackoffReset: tomlfile.Duration(10 * time.Second),
		RestartMax:          5,
		RestartWindow:       tomlfile.Duration(time.Minute),
		LogLevel:            "info",
		LogFormat:           "text",
		Readiness:           defaultReadiness(),
		Reload:              defaultReload(),
	}
}

// maxDescendantGrace caps the time descendants get between SIGTERM and
// SIGKILL when vigil exits; the grace is the drain timeout up to this.
const maxDescendantGrace = 5 * time.Second

// settings is a validated Config in the types the program uses.
type settings struct {
	stopSignal syscall.Signal
	restart    supervise.Policy
	remap      map[int]int
	level      hclog.Level
	reloadSettings
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	_, err := c.settings()
	return err
}

func (c Config) settings() (settings, error) {
	var s settings
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Command) == 0 {
		bad("no command: give one after -- or set command in the config file")
	} else if c.Command[0] == "" {
		bad("command: the program name is empty")
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout: %s is negative", c.DrainTimeout.D())
	}
	errs = append(errs, c.unitErrors()...)
	errs = append(errs, envErrors(c.Env)...)
	errs = append(errs, reservedEnvErrors(c.Env)...)
	errs = append(errs, c.reloadErrors(&s.reloadSettings)...)
	var err error
	if s.stopSignal, err = signals.Parse(c.StopSignal); err != nil {
		bad("stop_signal: %w", err)
	}
	if s.restart, err = supervise.ParsePolicy(c.Restart); err != nil {
		bad("restart: %w", err)
	}
	errs = append(errs, c.backoffErrors()...)
	if s.remap, err = parseRemaps(c.RemapExit); err != nil {
		errs = append(errs, err)
	}
	if s.level = hclog.LevelFromString(c.LogLevel); s.level == hclog.NoLevel || s.level == hclog.Off {
		bad("log_level: unknown level %q (want trace, debug, info, warn or error)", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format: unknown format %q (want text or json)", c.LogFormat)
	}
	return s, errors.Join(errs...)
}

func (c Config) backoffErrors() []error {
	var errs []error
	if c.RestartBackoff <= 0 {
		errs = append(errs, fmt.Errorf("restart_backoff: must be positive, got %s", c.RestartBackoff.D()))
	}
	if c.RestartBackoffMax < c.RestartBackoff {
		errs = append(errs, fmt.Errorf("restart_backoff_max: %s is below restart_backoff %s", c.RestartBackoffMax.D(), c.RestartBackoff.D()))
	}
	if c.RestartBackoffReset < 0 {
		errs = append(errs, fmt.Errorf("restart_backoff_reset: %s is negative", c.RestartBackoffReset.D()))
	}
	if c.RestartMax < 0 {
		errs = append(errs, fmt.Errorf("restart_max: %d is negative (0 means no limit)", c.RestartMax))
	}
	if c.RestartWindow <= 0 {
		errs = append(errs, fmt.Errorf("restart_window: must be positive, got %s", c.RestartWindow.D()))
	}
	return errs
}

// minDuration is the shortest non-zero duration vigil accepts. TOML's bare
// integer (drain_timeout = 25) decodes into a duration as nanoseconds, not
// as an error, so anything shorter than this is taken for a missing unit.
const minDuration = time.Millisecond

func (c Config) unitErrors() []error {
	var errs []error
	for _, d := range []struct {
		key string
		v   tomlfile.Duration
	}{
		{"drain_timeout", c.DrainTimeout}, {"restart_backoff", c.RestartBackoff},
		{"restart_backoff_max", c.RestartBackoffMax}, {"restart_backoff_reset", c.RestartBackoffReset},
		{"restart_window", c.RestartWindow},
	} {
		errs = append(errs, unitError(d.key, d.v)...)
	}
	for _, key := range slices.Sorted(maps.Keys(c.reloadDurations())) {
		errs = append(errs, unitError(key, c.reloadDurations()[key])...)
	}
	return errs
}

func unitError(key string, v tomlfile.Duration) []error {
	if v > 0 && v.D() < minDuration {
		return []error{fmt.Errorf("%s: %s is below %s: write the duration with a unit, such as \"25s\"", key, v.D(), minDuration)}
	}
	return nil
}

func envErrors(env []string) []error {
	var errs []error
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("env %q: want KEY=VALUE", kv))
		}
	}
	return errs
}

// parseRemaps reads "FROM:TO" pairs of exit codes 0..255.
func parseRemaps(list []string) (map[int]int, error) {
	m := make(map[int]int, len(list))
	var errs []error
	for _, r := range list {
		from, to, err := parseRemap(r)
		switch {
		case err != nil:
			errs = append(errs, err)
		case hasKey(m, from):
			errs = append(errs, fmt.Errorf("remap_exit %q: exit code %d is remapped twice", r, from))
		default:
			m[from] = to
		}
	}
	return m, errors.Join(errs...)
}

func parseRemap(r string) (from, to int, err error) {
	a, b, ok := strings.Cut(r, ":")
	if !ok {
		return 0, 0, fmt.Errorf("remap_exit %q: want FROM:TO, such as 143:0", r)
	}
	from, errA := strconv.Atoi(strings.TrimSpace(a))
	to, errB := strconv.Atoi(strings.TrimSpace(b))
	if errA != nil || errB != nil || from < 0 || from > 255 || to < 0 || to > 255 {
		return 0, 0, fmt.Errorf("remap_exit %q: both codes must be numbers 0..255", r)
	}
	return from, to, nil
}

func hasKey(m map[int]int, k int) bool {
	_, ok := m[k]
	return ok
}

// descendantGrace is min(drain timeout, 5s).
func (c Config) descendantGrace() time.Duration {
	return min(c.DrainTimeout.D(), maxDescendantGrace)
}
