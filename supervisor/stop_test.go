package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestStop(t *testing.T) {
	t.Run("within-deadline/exit-0", func(t *testing.T) {
		v := startVigil(t, helperRun("signals", nil))
		v.out.waitFor(t, "child ready")
		v.signal(t, syscall.SIGTERM)
		v.out.waitFor(t, "child bye")
		if code := v.wait(t); code != 0 {
			t.Fatalf("exit code %d; stderr:\n%s", code, v.stderr)
		}
		for _, s := range []string{"child started: pid=", "stopping child", "child exited", "exit_code=0"} {
			if !strings.Contains(v.stderr.String(), s) {
				t.Errorf("log lacks %q:\n%s", s, v.stderr)
			}
		}
	})
	t.Run("ignores-term/killed-after-deadline", func(t *testing.T) {
		v := startVigil(t, helperRun("signals", []string{"-drain-timeout", "300ms"}, envOnStop+"=ignore"))
		v.out.waitFor(t, "child ready")
		v.signal(t, syscall.SIGTERM)
		if code := v.wait(t); code != 124 {
			t.Fatalf("exit code %d, want 124; stderr:\n%s", code, v.stderr)
		}
		if !strings.Contains(v.stderr.String(), "drain deadline passed") {
			t.Errorf("log lacks the deadline:\n%s", v.stderr)
		}
	})
	t.Run("second-term/sent-again", func(t *testing.T) {
		v := startVigil(t, helperRun("signals", []string{"-drain-timeout", "1h"}, envOnStop+"=ignore"))
		v.out.waitFor(t, "child ready")
		v.signal(t, syscall.SIGTERM)
		v.out.waitFor(t, "child sig SIGTERM")
		v.signal(t, syscall.SIGTERM)
		v.out.waitFor(t, "child sig SIGTERM")
		v.signal(t, syscall.SIGINT) // during a stop SIGINT is not passed on: it kills now
		if code := v.wait(t); code != 124 {
			t.Fatalf("exit code %d, want 124; stderr:\n%s", code, v.stderr)
		}
		if !strings.Contains(v.stderr.String(), "stop requested again") {
			t.Errorf("log lacks the second TERM:\n%s", v.stderr)
		}
	})
	t.Run("second-int/killed-now", func(t *testing.T) {
		v := startVigil(t, helperRun("signals", []string{"-drain-timeout", "1h"}, envOnStop+"=ignore"))
		v.out.waitFor(t, "child ready")
		v.signal(t, syscall.SIGINT)
		v.out.waitFor(t, "child sig SIGINT")
		v.signal(t, syscall.SIGINT)
		if code := v.wait(t); code != 124 {
			t.Fatalf("exit code %d, want 124; stderr:\n%s", code, v.stderr)
		}
	})
	t.Run("group/deadline-kills-whole-group", func(t *testing.T) {
		v := startVigil(t, sh([]string{"-drain-timeout", "200ms"}, `trap "" TERM; sleep 1000 & echo "bg $!"; wait`))
		bg, _ := strconv.Atoi(strings.TrimPrefix(v.out.waitFor(t, "bg "), "bg "))
		v.signal(t, syscall.SIGTERM)
		if code := v.wait(t); code != 124 {
			t.Fatalf("exit code %d, want 124; stderr:\n%s", code, v.stderr)
		}
		if !gone(bg) {
			t.Fatalf("background process %d of the child outlived vigil", bg)
		}
	})
}

// TestDescendantsStoppedBeforeExit: the child starts two daemons in their
// own sessions (out of its process group) and exits 0. vigil must give them
// SIGTERM, then SIGKILL the one that ignores it after the grace
// (min(drain timeout, 5s), the full 5s here so a loaded machine has time to
// run the handler), and exit 0 only when both are gone.
func TestDescendantsStoppedBeforeExit(t *testing.T) {
	v := startVigil(t, helperRun("spawn", []string{"-restart", "no", "-drain-timeout", "5s"}))
	fields := strings.Fields(strings.TrimPrefix(v.out.waitFor(t, "pids "), "pids "))
	if len(fields) != 2 {
		t.Fatalf("pids line %q", fields)
	}
	v.out.waitAll(t, "descendant exit got SIGTERM", "descendant ignore got SIGTERM")
	if code := v.wait(t); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, v.stderr)
	}
	for _, f := range fields {
		pid, _ := strconv.Atoi(f)
		if !gone(pid) {
			t.Errorf("descendant %d still alive after vigil exited", pid)
		}
	}
	for _, s := range []string{"signalling descendants left behind: count=2", "descendants still alive after the grace; killing them: count=1"} {
		if !strings.Contains(v.stderr.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, v.stderr)
		}
	}
}
