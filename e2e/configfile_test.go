package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// configFile is the server's config file and the way a test rewrites it.
type configFile interface {
	// Path is what vigil watches and vigil-server reads.
	Path() string
	Write(t *testing.T, content string)
}

// inPlace rewrites the file itself (truncate and write), as `echo >` does.
type inPlace struct{ path string }

func newInPlace(dir string) configFile { return inPlace{filepath.Join(dir, "server.toml")} }

func (f inPlace) Path() string { return f.path }

func (f inPlace) Write(t *testing.T, content string) {
	t.Helper()
	writeFile(t, f.path, content)
}

// renamed writes a temporary file and renames it over the config, as
// editors and `sed -i` do: the watched name gets a new inode each time.
type renamed struct{ path string }

func newRenamed(dir string) configFile { return renamed{filepath.Join(dir, "server.toml")} }

func (f renamed) Path() string { return f.path }

func (f renamed) Write(t *testing.T, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(f.path), ".server.toml.swp")
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, f.path); err != nil {
		t.Fatal(err)
	}
}

// configMap lays the file out as the kubelet does for a ConfigMap volume:
// dir/server.toml -> ..data/server.toml, ..data -> ..TIMESTAMP. An update
// writes a new timestamped directory, points ..data_tmp at it, renames
// ..data_tmp over ..data (the atomic swap) and removes the old directory;
// no event ever names server.toml.
type configMap struct {
	dir  string
	gen  int
	last string
}

func newConfigMap(dir string) configFile { return &configMap{dir: dir} }

func (f *configMap) Path() string { return filepath.Join(f.dir, "server.toml") }

func (f *configMap) Write(t *testing.T, content string) {
	t.Helper()
	f.gen++
	ts := fmt.Sprintf("..2025_06_01_12_00_00.%06d", f.gen)
	must(t, os.Mkdir(filepath.Join(f.dir, ts), 0o755))
	writeFile(t, filepath.Join(f.dir, ts, "server.toml"), content)
	tmp := filepath.Join(f.dir, "..data_tmp")
	must(t, os.Symlink(ts, tmp))
	must(t, os.Rename(tmp, filepath.Join(f.dir, "..data")))
	if f.last == "" {
		must(t, os.Symlink(filepath.Join("..data", "server.toml"), f.Path()))
	} else {
		must(t, os.RemoveAll(filepath.Join(f.dir, f.last)))
	}
	f.last = ts
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
