package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStdioPassThrough(t *testing.T) {
	r := sh([]string{"-restart", "no"}, `read line; echo "out:$line"; echo "err:$line" >&2`)
	r.stdin = strings.NewReader("hello\n")
	v := startVigil(t, r)
	v.out.waitFor(t, "out:hello")
	if code := v.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, v.stderr)
	}
	if !strings.Contains(v.stderr.String(), "err:hello") {
		t.Errorf("child's stderr not passed through:\n%s", v.stderr)
	}
	for _, line := range v.out.rest(t) {
		if strings.Contains(line, "vigil") {
			t.Errorf("vigil wrote to stdout: %q", line)
		}
	}
}

func TestWorkingDirAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	r := sh([]string{"-restart", "no", "-env", "VIGIL_TEST_EXTRA=from vigil"},
		`echo "dir:$(pwd -P)"; echo "env:$VIGIL_TEST_VALUE"; echo "extra:$VIGIL_TEST_EXTRA"; echo "listen:${LISTEN_FDS-unset}:${LISTEN_PID-unset}"`)
	r.dir = dir
	r.env = []string{"VIGIL_TEST_VALUE=some value", "LISTEN_FDS=2", "LISTEN_PID=1"}
	v := startVigil(t, r)
	want, err := filepath.EvalSymlinks(dir) // pwd -P prints the resolved path
	if err != nil {
		t.Fatal(err)
	}
	v.out.waitFor(t, "dir:"+want)
	v.out.waitFor(t, "env:some value")
	v.out.waitFor(t, "extra:from vigil")
	// vigil's own socket-activation variables describe its descriptors,
	// which the child does not get.
	v.out.waitFor(t, "listen:unset:unset")
	if code := v.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, v.stderr)
	}
}

// TestNoDescriptorLeaks starts vigil with two extra open descriptors (3, 4)
// and checks the child, ls listing its own descriptors, has only 0, 1, 2 and
// the directory ls itself opened to list them.
func TestNoDescriptorLeaks(t *testing.T) {
	f1, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := os.CreateTemp(t.TempDir(), "leak")
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	r := launch{args: []string{"-restart", "no", "--", "ls", "-l", "/proc/self/fd"}, extra: []*os.File{f1, f2}}
	v := startVigil(t, r)
	out := v.out.rest(t)
	if code := v.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, v.stderr)
	}
	var fds []string
	for _, line := range out {
		f := strings.Fields(line)
		if len(f) < 3 || f[len(f)-2] != "->" {
			continue // the "total" line
		}
		fd, target := f[len(f)-3], f[len(f)-1]
		if fd == "3" && strings.HasPrefix(target, "/proc/") {
			continue // ls's own directory handle
		}
		fds = append(fds, fd)
	}
	if strings.Join(fds, " ") != "0 1 2" {
		t.Fatalf("child has descriptors %v, want 0 1 2; ls said:\n%s", fds, strings.Join(out, "\n"))
	}
}
