package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-sh/vigil/internal/tomlfile"
)

// errHelp and errVersion end run successfully after printing.
var (
	errHelp    = errors.New("help requested")
	errVersion = errors.New("version requested")
)

const usageHead = `Usage: vigil [options] [--] command [args...]
       vigil -config FILE [options]

vigil runs a command as a supervised child: it forwards signals, reaps
orphans (as PID 1 or as a subreaper), stops the child within a drain
deadline, restarts it by policy, and exits with a code that says how it
ended. Options override the config file; the file overrides the defaults.

Options:
`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// durationFlag is a flag.Value over tomlfile.Duration.
type durationFlag struct{ d *tomlfile.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.D().String()
}

func (f durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration such as 25s or 500ms")
	}
	*f.d = tomlfile.Duration(d)
	return nil
}

// loadConfig reads the command line: the config file named by -config
// (decoded strictly over the defaults), then every flag that was given, then
// the command after the flags. The result is validated.
func loadConfig(args []string, stdout, stderr io.Writer) (Config, error) {
	var flags Config
	var configPath string
	var remaps, env, watchList stringList
	var showVersion bool
	fs := newFlagSet(&flags, &configPath, &showVersion, &remaps, &env, &watchList)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stderr)
			return Config{}, errHelp
		}
		return Config{}, fmt.Errorf("%w (see vigil -help)", err)
	}
	if showVersion {
		fmt.Fprintf(stdout, "vigil %s\n", version)
		return Config{}, errVersion
	}
	cfg := DefaultConfig()
	if configPath != "" {
		if err := tomlfile.Load(configPath, &cfg); err != nil {
			return Config{}, err
		}
	}
	flags.RemapExit, flags.Env, flags.Reload.Watch = remaps, env, watchList
	fs.Visit(func(f *flag.Flag) {
		applyFlag(&cfg, &flags, f.Name)
		if applyReloadFlag(&cfg, &flags, f.Name) {
			cfg.reloadFlags = true
		}
	})
	if fs.NArg() > 0 {
		cfg.Command = fs.Args()
	}
	cfg.path, cfg.args = configPath, args
	return cfg, cfg.Validate()
}

func newFlagSet(c *Config, configPath *string, showVersion *bool, remaps, env, watchList *stringList) *flag.FlagSet {
	d := DefaultConfig()
	*c = d
	fs := flag.NewFlagSet("vigil", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed once by run
	fs.StringVar(configPath, "config", "", "read settings from this TOML `file`")
	fs.Var(durationFlag{&c.DrainTimeout}, "drain-timeout", "`duration` a stopped child may take to drain before its process group is SIGKILLed")
	fs.StringVar(&c.StopSignal, "stop-signal", d.StopSignal, "`signal` sent to the child when vigil receives SIGTERM")
	fs.BoolVar(&c.Group, "group", false, "send forwarded signals to the child's whole process group")
	fs.StringVar(&c.Restart, "restart", d.Restart, "restart `policy`: no, on-failure or always")
	fs.Var(durationFlag{&c.RestartBackoff}, "restart-backoff", "`delay` before the first restart, doubled each time")
	fs.Var(durationFlag{&c.RestartBackoffMax}, "restart-backoff-max", "longest `delay` between restarts")
	fs.Var(durationFlag{&c.RestartBackoffReset}, "restart-backoff-reset", "a child that ran for this `duration` starts the backoff over")
	fs.IntVar(&c.RestartMax, "restart-max", d.RestartMax, "restarts allowed within -restart-window before vigil gives up (0: no limit)")
	fs.Var(durationFlag{&c.RestartWindow}, "restart-window", "the `window` -restart-max counts restarts in")
	fs.Var(remaps, "remap-exit", "rewrite vigil's exit code `FROM:TO` (repeatable), such as 143:0")
	fs.Var(env, "env", "set `KEY=VALUE` in the child's environment (repeatable)")
	fs.StringVar(&c.Readiness.Mode, "readiness", d.Readiness.Mode, "readiness `mode`: started (ready once the command runs) or notify (ready on READY=1)")
	fs.Var(durationFlag{&c.Readiness.StartTimeout}, "start-timeout", "a child not ready within this `duration` is killed")
	fs.StringVar(&c.Reload.Strategy, "reload-strategy", d.Reload.Strategy, "reload `strategy`: restart or signal (turns reloads on: SIGHUP reloads)")
	fs.StringVar(&c.Reload.Signal, "reload-signal", d.Reload.Signal, "`signal` for the signal reload strategy (turns reloads on)")
	fs.Var(watchList, "watch", "reload when this `file` changes (repeatable; turns reloads on)")
	fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, "log `level`: trace, debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", d.LogFormat, "log `format`: text or json")
	fs.BoolVar(showVersion, "version", false, "print the version and exit")
	return fs
}

// applyFlag copies one flag that was given on the command line from flags
// into cfg. A repeatable flag replaces the file's whole list.
func applyFlag(cfg, flags *Config, name string) {
	switch name {
	case "drain-timeout":
		cfg.DrainTimeout = flags.DrainTimeout
	case "stop-signal":
		cfg.StopSignal = flags.StopSignal
	case "group":
		cfg.Group = flags.Group
	case "restart":
		cfg.Restart = flags.Restart
	case "restart-backoff":
		cfg.RestartBackoff = flags.RestartBackoff
	case "restart-backoff-max":
		cfg.RestartBackoffMax = flags.RestartBackoffMax
	case "restart-backoff-reset":
		cfg.RestartBackoffReset = flags.RestartBackoffReset
	case "restart-max":
		cfg.RestartMax = flags.RestartMax
	case "restart-window":
		cfg.RestartWindow = flags.RestartWindow
	case "remap-exit":
		cfg.RemapExit = flags.RemapExit
	case "env":
		cfg.Env = flags.Env
	case "log-level":
		cfg.LogLevel = flags.LogLevel
	case "log-format":
		cfg.LogFormat = flags.LogFormat
	}
}

// applyReloadFlag copies one readiness or reload flag that was given on the
// command line, and reports whether it turns reloads on.
func applyReloadFlag(cfg, flags *Config, name string) bool {
	switch name {
	case "readiness":
		cfg.Readiness.Mode = flags.Readiness.Mode
	case "start-timeout":
		cfg.Readiness.StartTimeout = flags.Readiness.StartTimeout
	case "reload-strategy":
		cfg.Reload.Strategy = flags.Reload.Strategy
		return true
	case "reload-signal":
		cfg.Reload.Signal = flags.Reload.Signal
		return true
	case "watch":
		cfg.Reload.Watch = flags.Reload.Watch
		return true
	}
	return false
}

func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, usageHead)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\nExit codes: the child's code N, or 128+S if it died of signal S; 0 for a\n"+
		"clean stop; 124 when the drain deadline passed; 69 when the child was not\n"+
		"ready within the start timeout; 126/127 when the command cannot be\n"+
		"executed / is not found; 78 for an invalid configuration or a [[listen]]\n"+
		"socket that cannot be bound.\n")
}
