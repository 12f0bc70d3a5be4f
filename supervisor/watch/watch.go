// Package watch reports when the content of configuration files changes.
//
// It watches each file's directory rather than the file, because an editor's
// save-by-rename, `sed -i` and a Kubernetes ConfigMap update (an atomic swap
// of the `..data` symlink, where no event ever names the file) all leave a
// watch on the file itself silent forever. Events are filtered by name,
// debounced, and confirmed by hashing the content, so a rewrite that leaves
// the bytes identical reports nothing.
package watch

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// DefaultDebounce is the quiet period used when Options.Debounce is zero.
const DefaultDebounce = 100 * time.Millisecond

// Options configures a Watcher. The zero value of every field but Paths
// means its default.
type Options struct {
	// Paths are the files to watch. A file may be missing (it is reported
	// when it appears), but its directory must exist.
	Paths []string
	// Debounce is how long events must stay quiet before the files are
	// hashed; every new event restarts it. Zero means DefaultDebounce.
	Debounce time.Duration
	// Logger receives errors and event details. Nil means no logging.
	Logger hclog.Logger
}

// Change lists the watched files whose content differs from the last time
// it was seen: edited, deleted, or re-created. Paths are spelled as they were
// given to New or SetPaths, sorted and without duplicates.
type Change struct {
	Paths []string
	// FirstEvent and LastEvent are when the first and the last event behind
	// this Change were read; Compared is when the files were hashed (the
	// quiet period had ended). They time a reload's first steps.
	FirstEvent, LastEvent, Compared time.Time
}

// Watcher watches a set of files and sends a Change when their content
// changes. Create it with New, then call Run exactly once.
type Watcher struct {
	log      hclog.Logger
	debounce time.Duration
	fsw      *fsnotify.Watcher
	changes  chan Change
	started  atomic.Bool
	closing  sync.Once

	// mu guards the watched set, which SetPaths replaces while Run reads it.
	mu    sync.Mutex
	files map[string]*file // by absolute path
}

// New validates the paths, records the current content of each file and
// starts watching their directories. It returns an error naming the path if
// a directory does not exist or a path is a directory. Events are queued
// from here on, so nothing between New and Run is missed.
func New(opts Options) (*Watcher, error) {
	files, err := resolve(opts.Paths)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: create inotify watcher: %w", err)
	}
	w := &Watcher{
		log:      opts.Logger,
		debounce: opts.Debounce,
		fsw:      fsw,
		changes:  make(chan Change),
		files:    map[string]*file{},
	}
	if w.log == nil {
		w.log = hclog.NewNullLogger()
	}
	if w.debounce <= 0 {
		w.debounce = DefaultDebounce
	}
	if err := w.replace(files); err != nil {
		_ = fsw.Close()
		return nil, fmt.Errorf("watch: %w", err)
	}
	return w, nil
}

// Changes returns the channel Run sends on. It is closed when Run returns.
// Changes that pile up while nobody receives are merged into one.
func (w *Watcher) Changes() <-chan Change { return w.changes }

// SetPaths replaces the watched set, for a configuration reload that changed
// the watch list. Files already watched keep their last seen content; new
// ones start from their current content (so adding a file reports nothing by
// itself). On error the old set stays in force. Safe to call while Run runs.
func (w *Watcher) SetPaths(paths []string) error {
	files, err := resolve(paths)
	if err != nil {
		return fmt.Errorf("watch: set paths: %w", err)
	}
	if err := w.replace(files); err != nil {
		return fmt.Errorf("watch: set paths: %w", err)
	}
	return nil
}

// Close stops watching. Run returns soon after; Close is only needed for a
// Watcher whose Run is never called. Safe to call more than once.
func (w *Watcher) Close() error {
	var err error
	w.closing.Do(func() { err = w.fsw.Close() })
	if errors.Is(err, fsnotify.ErrClosed) {
		err = nil
	}
	return err
}
