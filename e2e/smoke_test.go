package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// vigil run as `make run` runs it: configs/vigil.toml and configs/server.toml
// as shipped, from a directory laid out like the repository (bin/, configs/,
// data/), with only the port changed to a free one. It serves /health and
// /ready, keeps a secret, reloads on an edit, and stops cleanly.
func TestMakeRunConfig(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"bin", "configs", "data"} {
		must(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	must(t, os.Symlink(serverBin, filepath.Join(dir, "bin", "vigil-server")))
	must(t, os.Symlink(vigilBin, filepath.Join(dir, "bin", "vigil")))
	addr := freeAddr(t)
	copyConfig(t, dir, "vigil.toml", "127.0.0.1:1337", addr)
	copyConfig(t, dir, "server.toml", "", "")

	r := &rig{t: t, dir: dir, addr: addr, base: "http://" + addr, log: &logBuffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command("bin/vigil", "-config", "configs/vigil.toml")
	r.cmd.Dir = dir
	r.cmd.Env = cleanEnv()
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	must(t, r.cmd.Start())
	go func() { r.waitErr = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(r.cleanup)
	r.waitReady()
	for _, path := range []string{"/health", "/ready"} {
		if st, body, err := fetch(r.base + path); err != nil || st != 200 {
			t.Fatalf("GET %s: %d %s %v", path, st, body, err)
		}
	}
	id, err := create(freshClient, r.base, true)
	if err != nil {
		t.Fatal(err)
	}
	old := r.serverPid()

	server := filepath.Join(dir, "configs", "server.toml")
	b, err := os.ReadFile(server)
	must(t, err)
	writeFile(t, server, strings.Replace(string(b), "max_file_size = 524288", "max_file_size = 100003", 1))
	pid := r.waitReplaced(old, 1)
	if st, _, err := fetch(r.base + "/secret/" + id); err != nil || st != 200 {
		t.Fatalf("the secret created before the reload: %d %v", st, err)
	}
	r.stopAndCheck(old, pid)
}

// copyConfig copies configs/name from the repository into dir/configs,
// replacing old with new when old is set (and failing if old is missing).
func copyConfig(t *testing.T, dir, name, old, new string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "configs", name))
	must(t, err)
	s := string(b)
	if old != "" {
		if !strings.Contains(s, old) {
			t.Fatalf("configs/%s no longer contains %q", name, old)
		}
		s = strings.ReplaceAll(s, old, new)
	}
	writeFile(t, filepath.Join(dir, "configs", name), s)
}
