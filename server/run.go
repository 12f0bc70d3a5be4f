package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/config"
	"github.com/vigil-sh/vigil/server/store/redisstore"
)

// Exit codes of vigil-server (README "Exit codes").
const (
	exitOK            = 0
	exitFailure       = 1  // the store or a listener could not be opened, or serving failed
	exitUsage         = 2  // unknown flag or bad flag syntax
	exitDrainTimedOut = 75 // EX_TEMPFAIL: requests were still in flight at the drain deadline, or a second signal cut the drain short
	exitConfig        = 78 // EX_CONFIG: the configuration is invalid
)

// flags are the command-line settings; each overrides the file and the
// environment when given.
type flags struct {
	configPath string
	listen     string
	store      string
	check      bool
	version    bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("vigil-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "config", "", "TOML configuration `file` (see configs/server.toml)")
	fs.StringVar(&f.listen, "listen", "", "listen `address` host:port (overrides the config file)")
	fs.StringVar(&f.store, "store", "", "store `URL`: sqlite:PATH or redis://... (overrides the config file)")
	fs.BoolVar(&f.check, "check", false, "validate the configuration, print every problem, exit 0 or 78")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return f, nil
}

// loadConfig reads defaults, file, environment and flags, in that order,
// and validates the result, including the store URL's details.
func loadConfig(f flags, getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(f.configPath, getenv)
	if err != nil {
		return cfg, err
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.store != "" {
		cfg.Store = f.store
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if u, _ := config.ParseStore(cfg.Store); u.Kind == config.StoreRedis {
		if _, err := redisstore.ParseURL(u.URL); err != nil {
			return cfg, fmt.Errorf("store: %w", err)
		}
	}
	return cfg, nil
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "vigil-server:", err)
		return exitUsage
	}
	if f.version {
		fmt.Fprintln(stdout, "vigil-server", version)
		return exitOK
	}
	cfg, err := loadConfig(f, getenv)
	if err != nil {
		printProblems(stderr, err)
		return exitConfig
	}
	if f.check {
		fmt.Fprintln(stderr, "vigil-server: configuration is valid")
		return exitOK
	}
	logger := newLogger(cfg, stderr)
	srv := &server{cfg: cfg, flags: f, getenv: getenv, log: logger}
	return srv.run(sigs)
}

// printProblems writes each joined error on its own line.
func printProblems(w io.Writer, err error) {
	fmt.Fprintln(w, "vigil-server: invalid configuration:")
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(w, "  "+line)
	}
}

func newLogger(cfg config.Config, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "vigil-server",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogFormat == "json",
		Output:     w,
	})
}
