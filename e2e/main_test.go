package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Paths of the binaries TestMain builds, and of the repository.
var (
	repoRoot  string
	vigilBin  string
	serverBin string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: find the repository:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "vigil-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	vigilBin = filepath.Join(dir, "vigil")
	serverBin = filepath.Join(dir, "vigil-server")
	for bin, pkg := range map[string]string{vigilBin: "./supervisor", serverBin: "./server"} {
		if err := goBuild(root, bin, pkg); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	return m.Run()
}

// goBuild builds pkg into bin without the race detector: the binaries are
// the system under test, the test process is what runs with -race.
func goBuild(root, bin, pkg string) error {
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}
