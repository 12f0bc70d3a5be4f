package watch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// waitFor bounds every wait for a Change: far above what a loaded machine
// needs, so a timeout means a bug.
const waitFor = 10 * time.Second

// start creates a Watcher on paths and runs it until the test ends.
func start(t *testing.T, opts Options) *Watcher {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t, nil)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Run did not return after cancel")
		}
	})
	return w
}

// testLogger logs through t, and also into buf when it is not nil.
func testLogger(t *testing.T, buf *syncBuffer) hclog.Logger {
	out := []io.Writer{tWriter{t}}
	if buf != nil {
		out = append(out, buf)
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        "watch",
		Level:       hclog.Trace,
		Output:      io.MultiWriter(out...),
		DisableTime: true,
	})
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// next returns the next Change, failing the test if none comes in time.
func next(t *testing.T, w *Watcher) Change {
	t.Helper()
	select {
	case c, ok := <-w.Changes():
		if !ok {
			t.Fatalf("Changes closed")
		}
		return c
	case <-time.After(waitFor):
		t.Fatalf("no Change within %v", waitFor)
		return Change{}
	}
}

// expect fails unless the next Change names exactly paths.
func expect(t *testing.T, w *Watcher, paths ...string) {
	t.Helper()
	slices.Sort(paths)
	if got := next(t, w); !slices.Equal(got.Paths, paths) {
		t.Fatalf("Change.Paths = %q, want %q", got.Paths, paths)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// marker is a second watched file. Because events are processed in order, a
// Change for the marker that arrives alone proves that nothing was reported
// for anything done before the marker was written - no sleeping needed.
type marker struct {
	path string
	n    int
}

func newMarker(t *testing.T, dir string) *marker {
	m := &marker{path: filepath.Join(dir, "marker.txt")}
	write(t, m.path, "0")
	return m
}

// touch changes the marker's content and expects a Change naming only it.
func (m *marker) touch(t *testing.T, w *Watcher) {
	t.Helper()
	m.n++
	write(t, m.path, strconv.Itoa(m.n))
	expect(t, w, m.path)
}

func TestWatcherReportsContentChanges(t *testing.T) {
	t.Run("in-place-write", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "a = 1\n")
		w := start(t, Options{Paths: []string{cfg}})
		write(t, cfg, "a = 2\n")
		expect(t, w, cfg)
		write(t, cfg, "a = 3\n")
		expect(t, w, cfg)
	})
	t.Run("save-by-rename", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "a = 1\n")
		w := start(t, Options{Paths: []string{cfg}})
		for i := 2; i <= 3; i++ {
			tmp := filepath.Join(dir, ".vigil.toml.swp")
			write(t, tmp, fmt.Sprintf("a = %d\n", i))
			if err := os.Rename(tmp, cfg); err != nil {
				t.Fatal(err)
			}
			expect(t, w, cfg)
		}
	})
	t.Run("sed-in-place", func(t *testing.T) {
		t.Parallel()
		sed, err := exec.LookPath("sed")
		if err != nil {
			t.Skipf("SKIPPED: sed not found: %v", err)
		}
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "drain = \"5s\"\n")
		w := start(t, Options{Paths: []string{cfg}})
		for _, expr := range []string{"s/5s/9s/", "s/9s/7s/"} {
			if out, err := exec.Command(sed, "-i", expr, cfg).CombinedOutput(); err != nil {
				t.Fatalf("sed -i: %v: %s", err, out)
			}
			expect(t, w, cfg)
		}
	})
	t.Run("missing-at-start-then-created", func(t *testing.T) {
		t.Parallel()
		cfg := filepath.Join(t.TempDir(), "later.toml")
		w := start(t, Options{Paths: []string{cfg}})
		write(t, cfg, "x = 1\n")
		expect(t, w, cfg)
	})
	t.Run("two-directories", func(t *testing.T) {
		t.Parallel()
		a := filepath.Join(t.TempDir(), "vigil.toml")
		b := filepath.Join(t.TempDir(), "tls.crt")
		write(t, a, "1")
		write(t, b, "1")
		w := start(t, Options{Paths: []string{a, b}})
		write(t, a, "2")
		write(t, b, "2")
		seen := map[string]bool{}
		for !seen[a] || !seen[b] {
			for _, p := range next(t, w).Paths {
				seen[p] = true
			}
		}
		write(t, b, "3")
		expect(t, w, b)
	})
}

func TestWatcherDeletedFile(t *testing.T) {
	t.Run("delete-reported-then-recreate-reported", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "a = 1\n")
		m := newMarker(t, dir)
		w := start(t, Options{Paths: []string{cfg, m.path}})
		if err := os.Remove(cfg); err != nil {
			t.Fatal(err)
		}
		expect(t, w, cfg)
		// Same content as before the delete: still a change, since the
		// consumer last saw the file missing.
		write(t, cfg, "a = 1\n")
		expect(t, w, cfg)
		write(t, cfg, "a = 2\n")
		expect(t, w, cfg)
		m.touch(t, w)
	})
}

func TestWatcherIgnoresNoOps(t *testing.T) {
	t.Run("identical-rewrite-and-chmod-report-nothing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "a = 1\n")
		m := newMarker(t, dir)
		w := start(t, Options{Paths: []string{cfg, m.path}})
		write(t, cfg, "a = 1\n")
		if err := os.Chmod(cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := os.Chtimes(cfg, now, now); err != nil {
			t.Fatal(err)
		}
		m.touch(t, w) // arrives alone: the no-ops above reported nothing
	})
	t.Run("identical-rewrite-before-real-change-reports-once", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "a = 1\n")
		m := newMarker(t, dir)
		w := start(t, Options{Paths: []string{cfg, m.path}})
		write(t, cfg, "a = 1\n")
		write(t, cfg, "a = 2\n")
		expect(t, w, cfg)
		m.touch(t, w) // no second Change for cfg came before it
	})
	t.Run("burst-of-50-writes-coalesced", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "0")
		m := newMarker(t, dir)
		w := start(t, Options{Paths: []string{cfg, m.path}})
		for i := 1; i <= 50; i++ {
			write(t, cfg, strconv.Itoa(i))
		}
		write(t, m.path, "burst done")
		cfgChanges := 0
		for {
			c := next(t, w)
			if slices.Contains(c.Paths, cfg) {
				cfgChanges++
			}
			if slices.Contains(c.Paths, m.path) {
				break
			}
		}
		t.Logf("50 writes gave %d Changes", cfgChanges)
		// Each write restarts the 100 ms quiet period, so one Change is
		// expected; 10 leaves room for a machine that stalls between writes.
		if cfgChanges < 1 || cfgChanges > 10 {
			t.Fatalf("50 writes gave %d Changes, want 1..10", cfgChanges)
		}
	})
}

func TestWatcherKubernetesConfigMap(t *testing.T) {
	t.Run("data-symlink-swap", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cm := newConfigMap(t, dir, map[string]string{"vigil.toml": "a = 1\n", "tls.crt": "cert 1"})
		cfg, crt := filepath.Join(dir, "vigil.toml"), filepath.Join(dir, "tls.crt")
		m := newMarker(t, t.TempDir())
		w := start(t, Options{Paths: []string{cfg, crt, m.path}})

		cm.update(t, map[string]string{"vigil.toml": "a = 2\n", "tls.crt": "cert 1"})
		expect(t, w, cfg) // tls.crt kept its content

		cm.update(t, map[string]string{"vigil.toml": "a = 2\n", "tls.crt": "cert 2"})
		expect(t, w, crt)

		cm.update(t, map[string]string{"vigil.toml": "a = 2\n", "tls.crt": "cert 2"})
		m.touch(t, w) // a swap to identical content reported nothing

		cm.update(t, map[string]string{"vigil.toml": "a = 3\n", "tls.crt": "cert 3"})
		expect(t, w, cfg, crt)
	})
}

// configMap reproduces the layout kubelet's AtomicWriter keeps in a
// ConfigMap volume:
//
//	dir/..2026_11_24_10_00_00.000000001/vigil.toml
//	dir/..data -> ..2026_11_24_10_00_00.000000001
//	dir/vigil.toml -> ..data/vigil.toml
type configMap struct {
	dir     string
	current string // the timestamped directory ..data points at
	n       int
}

func newConfigMap(t *testing.T, dir string, files map[string]string) *configMap {
	t.Helper()
	cm := &configMap{dir: dir}
	cm.current = cm.writeVersion(t, files)
	if err := os.Symlink(cm.current, filepath.Join(dir, kubeDataLink)); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if err := os.Symlink(filepath.Join(kubeDataLink, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return cm
}

// update is AtomicWriter's update: a new timestamped directory, a
// `..data_tmp` symlink to it renamed over `..data`, then the old directory
// removed. No event names the visible files.
func (cm *configMap) update(t *testing.T, files map[string]string) {
	t.Helper()
	old := cm.current
	cm.current = cm.writeVersion(t, files)
	tmp := filepath.Join(cm.dir, "..data_tmp")
	if err := os.Symlink(cm.current, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(cm.dir, kubeDataLink)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cm.dir, old)); err != nil {
		t.Fatal(err)
	}
}

func (cm *configMap) writeVersion(t *testing.T, files map[string]string) string {
	t.Helper()
	cm.n++
	name := fmt.Sprintf("..2026_11_24_10_00_00.%09d", cm.n)
	if err := os.Mkdir(filepath.Join(cm.dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	for f, content := range files {
		write(t, filepath.Join(cm.dir, name, f), content)
	}
	return name
}

func TestWatcherSetPaths(t *testing.T) {
	t.Run("replaces-watched-set", func(t *testing.T) {
		t.Parallel()
		a := filepath.Join(t.TempDir(), "a.toml")
		b := filepath.Join(t.TempDir(), "b.toml")
		write(t, a, "1")
		write(t, b, "1")
		w := start(t, Options{Paths: []string{a}})
		if err := w.SetPaths([]string{b}); err != nil {
			t.Fatal(err)
		}
		write(t, a, "2") // no longer watched
		write(t, b, "2")
		expect(t, w, b)
	})
	t.Run("added-file-reports-nothing-by-itself", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.toml"), filepath.Join(dir, "b.toml")
		write(t, a, "1")
		write(t, b, "1")
		w := start(t, Options{Paths: []string{a}})
		if err := w.SetPaths([]string{a, b}); err != nil {
			t.Fatal(err)
		}
		write(t, a, "2")
		expect(t, w, a)
		write(t, b, "2")
		expect(t, w, b)
	})
	t.Run("error-keeps-old-set", func(t *testing.T) {
		t.Parallel()
		a := filepath.Join(t.TempDir(), "a.toml")
		write(t, a, "1")
		w := start(t, Options{Paths: []string{a}})
		bad := filepath.Join(t.TempDir(), "no-such-dir", "b.toml")
		err := w.SetPaths([]string{bad})
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Fatalf("SetPaths(%q) error = %v, want one naming the path", bad, err)
		}
		write(t, a, "2")
		expect(t, w, a)
	})
}

func TestWatcherDirectoryRemoved(t *testing.T) {
	t.Run("logged-and-restored-by-set-paths", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "conf")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "vigil.toml")
		write(t, cfg, "1")
		m := newMarker(t, t.TempDir())
		var logs syncBuffer
		w := start(t, Options{Paths: []string{cfg, m.path}, Logger: testLogger(t, &logs)})
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		expect(t, w, cfg) // the file went with it
		m.touch(t, w)     // the directory's events were all handled
		if !strings.Contains(logs.String(), "watched directory removed") {
			t.Fatalf("removal not logged:\n%s", logs.String())
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, cfg, "2")
		if err := w.SetPaths([]string{cfg, m.path}); err != nil {
			t.Fatal(err)
		}
		write(t, cfg, "3")
		expect(t, w, cfg)
	})
}

func TestNewRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"directory-does-not-exist": filepath.Join(dir, "nope", "vigil.toml"),
		"path-is-a-directory":      dir,
		"parent-is-a-file":         filepath.Join(mustFile(t, dir), "vigil.toml"),
	} {
		t.Run(name, func(t *testing.T) {
			w, err := New(Options{Paths: []string{path}})
			if err == nil {
				w.Close()
				t.Fatalf("New(%q) succeeded", path)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %q", err, path)
			}
		})
	}
	t.Run("empty-path", func(t *testing.T) {
		if w, err := New(Options{Paths: []string{""}}); err == nil {
			w.Close()
			t.Fatal("New with an empty path succeeded")
		}
	})
}

func mustFile(t *testing.T, dir string) string {
	p := filepath.Join(dir, "plain-file")
	write(t, p, "x")
	return p
}

func TestWatcherLifecycle(t *testing.T) {
	t.Run("run-twice-fails-and-cancel-closes-changes", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "vigil.toml")
		w, err := New(Options{Paths: []string{cfg}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		write(t, cfg, "1")
		expect(t, w, cfg) // Run is running
		if err := w.Run(ctx); err == nil {
			t.Fatal("second Run succeeded")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
		if _, ok := <-w.Changes(); ok {
			t.Fatal("Changes still open after Run returned")
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close after Run: %v", err)
		}
	})
}

// TestWatcherOverflow fills the kernel's inotify queue before Run reads it, so
// the change to the watched file is dropped by the kernel; only the re-check
// on fsnotify.ErrEventOverflow can report it.
func TestWatcherOverflow(t *testing.T) {
	limit := readInt(t, "/proc/sys/fs/inotify/max_queued_events")
	if limit > 100_000 {
		t.Skipf("SKIPPED: max_queued_events is %d; filling it would be slow", limit)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.toml")
	write(t, cfg, "1")
	var logs syncBuffer
	w, err := New(Options{Paths: []string{cfg}, Logger: testLogger(t, &logs)})
	if err != nil {
		t.Fatal(err)
	}
	// Each round queues three events (create, modify, delete); fsnotify
	// buffers a few thousand itself before blocking, hence the margin.
	noise := filepath.Join(dir, "noise")
	for range limit/3 + 5000 {
		write(t, noise, "x")
		if err := os.Remove(noise); err != nil {
			t.Fatal(err)
		}
	}
	write(t, cfg, "2")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	expect(t, w, cfg)
	if !strings.Contains(logs.String(), "overflow") {
		t.Fatalf("no overflow was logged; the test did not exercise it:\n%s", logs.String())
	}
}

func readInt(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
