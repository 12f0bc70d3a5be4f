package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// file is one watched path and the content state it last had.
type file struct {
	name  string // as the caller spelled it, for Change
	abs   string
	dir   string // watched, not the file: see the package comment
	base  string
	state string // see contentState
}

// resolve turns paths into files keyed by absolute path, checking every
// path and reporting all problems at once.
func resolve(paths []string) (map[string]*file, error) {
	files := map[string]*file{}
	var errs []error
	for _, p := range paths {
		f, err := resolveOne(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := files[f.abs]; !dup {
			files[f.abs] = f
		}
	}
	return files, errors.Join(errs...)
}

func resolveOne(p string) (*file, error) {
	if p == "" {
		return nil, errors.New("empty path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: directory: %w", p, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: %s is not a directory", p, dir)
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a file", p)
	}
	return &file{name: p, abs: abs, dir: dir, base: filepath.Base(abs)}, nil
}

// replace makes next the watched set: it watches its directories (again,
// for those already watched, which restores a watch the kernel dropped when
// the directory was removed), unwatches those no longer needed, and carries
// over the state of files that stay. Nothing changes if a directory cannot
// be watched.
func (w *Watcher) replace(next map[string]*file) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	oldDirs, newDirs := dirsOf(w.files), dirsOf(next)
	var added []string
	for dir := range newDirs {
		if err := w.fsw.Add(dir); err != nil {
			w.unwatch(added)
			return fmt.Errorf("watch directory %s: %w", dir, err)
		}
		if !oldDirs[dir] {
			added = append(added, dir)
		}
	}
	for abs, f := range next {
		if old, ok := w.files[abs]; ok {
			f.state = old.state
		} else {
			f.state = contentState(abs)
		}
	}
	var gone []string
	for dir := range oldDirs {
		if !newDirs[dir] {
			gone = append(gone, dir)
		}
	}
	w.unwatch(gone)
	w.files = next
	return nil
}

// unwatch removes directory watches, logging failures: a directory that was
// deleted has already lost its watch, which is what we wanted anyway.
func (w *Watcher) unwatch(dirs []string) {
	for _, dir := range dirs {
		if err := w.fsw.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.log.Debug("unwatch directory", "dir", dir, "error", err)
		}
	}
}

func dirsOf(files map[string]*file) map[string]bool {
	dirs := make(map[string]bool, len(files))
	for _, f := range files {
		dirs[f.dir] = true
	}
	return dirs
}
