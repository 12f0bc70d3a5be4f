package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestManyOrphansReaped: the child leaves 200 background readers behind and
// exits 7; closing their shared stdin then makes all 200 exit at the same
// moment. vigil must exit 7 (its child's status was not stolen) and reap
// every orphan, with no wait error.
func TestManyOrphansReaped(t *testing.T) {
	const orphans = 200
	script := `exec 3<&0; i=0; while [ $i -lt ` + strconv.Itoa(orphans) + ` ]; do head -c1 <&3 >/dev/null & i=$((i+1)); done; echo spawned; exit 7`
	for run := 0; run < 3; run++ {
		stdin, stdinW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r := sh([]string{"-restart", "no"}, script)
		r.stdin = stdin
		v := startVigil(t, r)
		stdin.Close()
		v.out.waitFor(t, "spawned")
		v.waitLog(t, "child exited")
		stdinW.Close()
		if code := v.wait(t); code != 7 {
			t.Fatalf("exit code %d, want 7; stderr:\n%s", code, v.stderr)
		}
		log := v.stderr.String()
		if n := strings.Count(log, "orphan reaped"); n != orphans {
			t.Errorf("run %d: %d orphans reaped, want %d", run, n, orphans)
		}
		for _, bad := range []string{"no child processes", "ECHILD", "[ERROR]"} {
			if strings.Contains(log, bad) {
				t.Errorf("run %d: log has %q:\n%s", run, bad, log)
			}
		}
	}
}

// TestParentDeathKillsChild: vigil SIGKILLed (not PID 1) must not leave its
// child running: the child has SIGKILL as its parent-death signal.
func TestParentDeathKillsChild(t *testing.T) {
	v := startVigil(t, helperRun("sleep", nil))
	pid, err := strconv.Atoi(strings.TrimPrefix(v.out.waitFor(t, "pid "), "pid "))
	if err != nil {
		t.Fatal(err)
	}
	v.signal(t, syscall.SIGKILL)
	if code := v.wait(t); code != 137 {
		t.Fatalf("vigil exit %d, want 137", code)
	}
	if !gone(pid) {
		t.Fatalf("child %d still running after vigil was killed", pid)
	}
}

// unshareOrSkip returns the unshare command line that runs vigil as PID 1
// of a new pid namespace, or skips (fails in CI) when that is impossible.
func unshareOrSkip(t *testing.T) []string {
	t.Helper()
	argv := []string{"unshare", "--pid", "--fork", "--mount-proc"}
	err := exec.Command(argv[0], append(argv[1:], "true")...).Run()
	if err == nil {
		return argv
	}
	if os.Getenv("VIGIL_REQUIRE_UNSHARE") == "1" {
		t.Fatalf("unshare --pid --fork --mount-proc does not work here (%v) and VIGIL_REQUIRE_UNSHARE=1", err)
	}
	t.Skipf("SKIPPING PID 1 TESTS: unshare --pid --fork --mount-proc does not work here (%v); needs root or CAP_SYS_ADMIN", err)
	return nil
}

// vigilPid finds vigil, the child of the unshare process, by its parent pid.
func vigilPid(t *testing.T, unsharePid int) int {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(unsharePid) + "/task/" + strconv.Itoa(unsharePid) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
	t.Fatal("vigil did not start under unshare")
	return 0
}

// TestAsPID1 runs vigil as PID 1 of a new pid namespace.
func TestAsPID1(t *testing.T) {
	unshare := unshareOrSkip(t)
	start := func(t *testing.T, flags []string, script string) (*vigil, int) {
		argv := append(append(append([]string{}, unshare...), vigilBin), flags...)
		argv = append(argv, "--", "/bin/sh", "-c", script)
		v := startVigilCmd(t, launch{}, argv)
		return v, vigilPid(t, v.cmd.Process.Pid)
	}
	// zombies counts processes in state Z in this namespace's /proc.
	const zombies = `z=0; for f in /proc/[0-9]*/stat; do s=$(cut -d')' -f2 "$f" 2>/dev/null | cut -d' ' -f2); [ "$s" = Z ] && z=$((z+1)); done; echo $z`

	t.Run("zombies-reaped", func(t *testing.T) {
		// Orphans whose parents exit at once are reparented to PID 1; the
		// script polls its own namespace until no zombie is left.
		script := `i=0; while [ $i -lt 50 ]; do (true &) ; i=$((i+1)); done
n=0; while [ $n -lt 500 ]; do z=$(` + zombies + `); [ "$z" = 0 ] && { echo "no zombies"; exit 0; }; n=$((n+1)); sleep 0.02; done
echo "zombies left: $z"; exit 1`
		v, _ := start(t, []string{"-restart", "no"}, script)
		out := v.out.rest(t)
		if code := v.wait(t); code != 0 || count(out, "no zombies") != 1 {
			t.Fatalf("exit %d, output %q; stderr:\n%s", code, out, v.stderr)
		}
		if !strings.Contains(v.stderr.String(), "orphan reaped") {
			t.Errorf("no orphan reaped as PID 1:\n%s", v.stderr)
		}
	})
	t.Run("sigterm/clean-stop-not-exit-2", func(t *testing.T) {
		v, pid := start(t, nil, "echo ready; exec sleep 1000")
		v.out.waitFor(t, "ready")
		syscall.Kill(pid, syscall.SIGTERM)
		if code := v.wait(t); code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", code, v.stderr)
		}
	})
	t.Run("sigterm-ignored/deadline-code", func(t *testing.T) {
		v, pid := start(t, []string{"-drain-timeout", "200ms"}, `trap "" TERM; echo ready; exec sleep 1000`)
		v.out.waitFor(t, "ready")
		syscall.Kill(pid, syscall.SIGTERM)
		if code := v.wait(t); code != 124 {
			t.Fatalf("exit %d, want 124; stderr:\n%s", code, v.stderr)
		}
	})
	t.Run("child-exit-code/passed-through", func(t *testing.T) {
		v, _ := start(t, []string{"-restart", "no"}, "exit 42")
		if code := v.wait(t); code != 42 {
			t.Fatalf("exit %d, want 42; stderr:\n%s", code, v.stderr)
		}
	})
	t.Run("descendants/term-then-kill", func(t *testing.T) {
		// The child exits as soon as both are sleeping: vigil then signals
		// them at once, so the first must already ignore SIGTERM. It does
		// once its comm is "sleep" (the trap comes before the exec, and
		// SIG_IGN survives exec); without this wait the SIGTERM could reach
		// the subshell before its trap and kill both (seen in CI).
		v, _ := start(t, []string{"-restart", "no", "-drain-timeout", "5s"},
			`(trap "" TERM; exec sleep 1000) & a=$!; (exec sleep 1000) & b=$!
for p in $a $b; do n=0; until [ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ]; do
  n=$((n+1)); [ $n -lt 500 ] || { echo "$p never became sleep"; exit 1; }; sleep 0.01; done; done
echo ready; exit 0`)
		v.out.waitFor(t, "ready")
		if code := v.wait(t); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, v.stderr)
		}
		log := v.stderr.String()
		if !strings.Contains(log, "signalling descendants left behind: count=2") || !bytes.Contains([]byte(log), []byte("killing them: count=1")) {
			t.Errorf("descendants not handled as expected:\n%s", log)
		}
	})
}
