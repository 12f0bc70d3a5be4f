package watch

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// kubeDataLink is the symlink kubelet's AtomicWriter swaps on every ConfigMap
// or Secret update. The visible file is a symlink through it, so no event
// ever names the file itself; an event on `..data` concerns every file in
// that directory.
const kubeDataLink = "..data"

// errRunTwice is returned by a second call to Run.
var errRunTwice = errors.New("watch: Run called more than once")

// Run watches until ctx is done, sending a Change on Changes() each time
// watched content changes, and closes Changes() when it returns. It never
// stops on a watch error: it logs it. It returns nil when ctx is done or the
// Watcher is closed, and an error only if called twice.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errRunTwice
	}
	defer close(w.changes)
	defer w.Close()

	quiet := time.NewTimer(w.debounce)
	quiet.Stop()
	defer quiet.Stop()
	dirty := map[string]bool{}   // files an event named since the last check
	pending := map[string]bool{} // changed files not yet received by the consumer
	var first, last time.Time    // of the events since the last check
	var times Change             // the timing of what pending holds
	seen := func() {
		last = time.Now()
		if first.IsZero() {
			first = last
		}
		quiet.Reset(w.debounce)
	}
	for {
		var out chan<- Change
		if len(pending) > 0 {
			out = w.changes
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return nil
			}
			if w.mark(ev, dirty) {
				seen()
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return nil
			}
			if w.handleError(err, dirty) {
				seen()
			}
		case <-quiet.C:
			if w.check(dirty, pending) > 0 {
				if times.FirstEvent.IsZero() {
					times.FirstEvent = first
				}
				times.LastEvent, times.Compared = last, time.Now()
			}
			clear(dirty)
			first, last = time.Time{}, time.Time{}
		case out <- changeOf(pending, times):
			clear(pending)
			times = Change{}
		}
	}
}

// mark records which watched files an event may have changed and reports
// whether it concerned any.
func (w *Watcher) mark(ev fsnotify.Event, dirty map[string]bool) bool {
	if ev.Op == fsnotify.Chmod {
		return false // attributes only: content is unchanged
	}
	dir, base := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if dirsOf(w.files)[ev.Name] && ev.Op.Has(fsnotify.Remove|fsnotify.Rename) {
		// The kernel dropped the watch with the directory. SetPaths, once
		// the directory exists again, restores it.
		w.log.Error("watched directory removed; its files are no longer watched", "dir", ev.Name)
	}
	hit := false
	for abs, f := range w.files {
		if f.dir == dir && (f.base == base || base == kubeDataLink) {
			dirty[abs] = true
			hit = true
		}
	}
	if hit {
		w.log.Trace("event", "name", ev.Name, "op", ev.Op.String())
	}
	return hit
}

// handleError logs a watch error. An overflow means events were lost, so
// every file is checked; the return value says whether a check is due.
func (w *Watcher) handleError(err error, dirty map[string]bool) bool {
	if !errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Error("watch error", "error", err)
		return false
	}
	w.log.Warn("inotify queue overflowed; re-checking every watched file", "error", err)
	w.mu.Lock()
	defer w.mu.Unlock()
	for abs := range w.files {
		dirty[abs] = true
	}
	return true
}

// check hashes the dirty files, adds those whose content changed to
// pending, and says how many did.
func (w *Watcher) check(dirty, pending map[string]bool) (changed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for abs := range dirty {
		f, ok := w.files[abs]
		if !ok {
			continue // SetPaths dropped it meanwhile
		}
		state := contentState(abs)
		if state == f.state {
			continue
		}
		w.log.Debug("file changed", "path", f.name, "missing", state == stateMissing)
		f.state = state
		pending[f.name] = true
		changed++
	}
	return changed
}

// changeOf is the Change for pending, with the timing of times.
func changeOf(pending map[string]bool, times Change) Change {
	if len(pending) == 0 {
		return Change{}
	}
	paths := make([]string, 0, len(pending))
	for p := range pending {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	times.Paths = paths
	return times
}
