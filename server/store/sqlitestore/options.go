package sqlitestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/store"
)

// Options configure Open; the zero value of each field means its default.
type Options struct {
	// Path is the database file. Its directory must exist; the file (and
	// its -wal and -shm companions) is created if missing.
	Path string
	// Synchronous is "normal" (the default) or "full". In WAL mode NORMAL
	// keeps every commit across a crash of the process; FULL also fsyncs
	// the WAL on each commit so commits survive a power loss.
	Synchronous string
	// BusyTimeout is how long a connection waits for a lock another process
	// holds before it fails (default 5s).
	BusyTimeout time.Duration
	// CheckpointInterval is how often the WAL is checkpointed into the
	// database file and truncated (default 30s).
	CheckpointInterval time.Duration
	// SweepInterval is how often expired rows are deleted (default 1m).
	// Expired rows are never returned either way; the sweep frees the space.
	SweepInterval time.Duration
	// Logger receives debug and info lines about maintenance and warnings;
	// never a secret or an id. Default: a null logger.
	Logger hclog.Logger
	// OnExpired, if set, is called after each sweep with the number of rows
	// it removed (for metrics).
	OnExpired func(n int)

	// testHookBatch, if set, runs in the writer goroutine after it has begun
	// a batch's transaction and taken its operations (they can no longer be
	// abandoned), before it runs them; batches whose operations were all
	// abandoned skip it.
	testHookBatch func()
	// readPatience, if set, replaces defaultReadPatience (see Get), so that
	// tests can send reads down the fallback path.
	readPatience time.Duration
	// walRestartFrames, if set, replaces walRestartFrames, so that tests
	// can see the WAL start over after a few writes.
	walRestartFrames int
}

// withDefaults fills in defaults and validates the options.
func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	var errs []error
	switch strings.ToLower(o.Synchronous) {
	case "", "normal":
		o.Synchronous = "NORMAL"
	case "full":
		o.Synchronous = "FULL"
	default:
		errs = append(errs, fmt.Errorf("synchronous %q: want \"normal\" or \"full\"", o.Synchronous))
	}
	o.BusyTimeout, errs = orDefault("busy timeout", o.BusyTimeout, 5*time.Second, errs)
	o.CheckpointInterval, errs = orDefault("checkpoint interval", o.CheckpointInterval, 30*time.Second, errs)
	o.SweepInterval, errs = orDefault("sweep interval", o.SweepInterval, time.Minute, errs)
	if o.readPatience <= 0 {
		o.readPatience = defaultReadPatience
	}
	if o.walRestartFrames <= 0 {
		o.walRestartFrames = walRestartFrames
	}
	if err := checkPath(&o); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("open sqlite store: %w", err)
	}
	return o, nil
}

// orDefault returns d for a zero duration and records an error for a
// negative one.
func orDefault(name string, v, d time.Duration, errs []error) (time.Duration, []error) {
	switch {
	case v == 0:
		return d, errs
	case v < 0:
		return v, append(errs, fmt.Errorf("%s %v is negative", name, v))
	}
	return v, errs
}

// checkPath makes the path absolute and checks that its directory exists,
// because SQLite would only say "unable to open database file".
func checkPath(o *Options) error {
	if o.Path == "" {
		return errors.New("no database path")
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return fmt.Errorf("database path %q: %w", o.Path, err)
	}
	o.Path = abs
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("directory of database %s: %w: %w", abs, store.ErrUnavailable, err)
	case !fi.IsDir():
		return fmt.Errorf("directory of database %s: %s is not a directory: %w", abs, dir, store.ErrUnavailable)
	}
	return nil
}
