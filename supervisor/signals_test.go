package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/signals"
)

// required is the list the issue names; each must reach the child once.
var required = []syscall.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGPIPE,
	unix.SIGTERM, unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, 34 + 3, // SIGRTMIN+3
}

// TestForwardsEachSignalOnce sends each signal to vigil once and checks the
// child (and, with -group, a grandchild in its process group) got it exactly
// once. Every run ends with a stop, so all output is in when counting.
func TestForwardsEachSignalOnce(t *testing.T) {
	for _, mode := range []struct {
		name  string
		flags []string
		env   []string
		roles []string
	}{
		{"child", nil, nil, []string{"child"}},
		{"group", []string{"-group"}, []string{envGroup + "=1"}, []string{"child", "grandchild"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			for _, sig := range required {
				name := signals.Name(sig)
				t.Run(name, func(t *testing.T) {
					v := startVigil(t, helperRun("signals", mode.flags, mode.env...))
					v.out.waitFor(t, "child ready")
					v.signal(t, sig)
					var want []string
					for _, role := range mode.roles {
						want = append(want, role+" sig "+name)
					}
					v.out.waitAll(t, want...)
					if sig != syscall.SIGTERM && sig != syscall.SIGINT {
						v.signal(t, syscall.SIGTERM)
					}
					out := v.out.rest(t)
					if code := v.wait(t); code != 0 {
						t.Fatalf("exit code %d; stderr:\n%s", code, v.stderr)
					}
					for _, role := range mode.roles {
						if n := count(out, role+" sig "+name); n != 1 {
							t.Errorf("%s got %s %d times, want once; output %q", role, name, n, out)
						}
					}
					// SIGWINCH is logged at debug level (terminal resizes come in bursts).
					logged := sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGWINCH
					if !logged && !strings.Contains(v.stderr.String(), "signal forwarded: signal=") {
						t.Errorf("no \"signal forwarded\" log line:\n%s", v.stderr)
					}
				})
			}
		})
	}
}

func TestChildAndURGNeverForwarded(t *testing.T) {
	v := startVigil(t, helperRun("signals", []string{"-log-level", "debug"}))
	v.out.waitFor(t, "child ready")
	v.signal(t, syscall.SIGCHLD)
	v.signal(t, syscall.SIGURG)
	v.signal(t, syscall.SIGUSR1) // a marker that is forwarded
	v.out.waitFor(t, "child sig SIGUSR1")
	v.signal(t, syscall.SIGTERM)
	out := v.out.rest(t)
	if code := v.wait(t); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, v.stderr)
	}
	for _, line := range out {
		if strings.Contains(line, "SIGCHLD") || strings.Contains(line, "SIGURG") {
			t.Errorf("child got %q", line)
		}
	}
	for _, line := range strings.Split(v.stderr.String(), "\n") {
		if strings.Contains(line, "signal forwarded") && (strings.Contains(line, "SIGCHLD") || strings.Contains(line, "SIGURG")) {
			t.Errorf("vigil logged %q", line)
		}
	}
}

// earlyChild traps SIGUSR1 and SIGTERM in a shell: until the trap is set,
// SIGUSR1 has its default action (the child dies of it); from then on it is
// printed. There is no window where it would be silently dropped, which a Go
// child has (between its runtime start and its signal.Notify).
const earlyChild = `trap 'echo "child sig SIGUSR1"' USR1
trap 'kill $p; echo "child bye"; exit 0' TERM
echo "child ready"
sleep 1000 & p=$!
while :; do wait $p; done`

// TestEarlySignalNeverLost starts vigil with SIGUSR1 blocked and sends it
// SIGUSR1 the moment the process exists, long before its child runs. The
// signal stays pending until vigil's first line of main catches it; vigil
// must deliver it once the child runs, exactly once. The child either has
// its trap by then (prints "child sig SIGUSR1") or not yet, in which case
// the default action kills it (vigil exits 138): both mean delivered. Lost
// would hang; duplicated would print twice.
func TestEarlySignalNeverLost(t *testing.T) {
	const runs, workers = 300, 2
	jobs := make(chan int)
	var mu sync.Mutex
	handled, killed := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				h := earlySignalRun(t)
				mu.Lock()
				if h {
					handled++
				} else {
					killed++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < runs && !t.Failed(); i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("%d runs: the child's trap saw the signal %d times, its default action %d times", handled+killed, handled, killed)
}

// earlySignalRun reports whether the child's trap saw the signal (true) or
// its default action killed the child (false).
func earlySignalRun(t *testing.T) bool {
	r := sh([]string{"-restart", "no"}, earlyChild)
	r.block = []syscall.Signal{syscall.SIGUSR1}
	v, err := tryStartVigil(r)
	if err != nil {
		t.Error(err)
		return false
	}
	if err := v.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Errorf("signal vigil: %v", err)
	}
	for {
		line, ok := v.out.next()
		if !ok {
			break
		}
		if line == "child sig SIGUSR1" {
			v.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	code, ok := v.waitCode()
	out := v.out.all
	seen := count(out, "child sig SIGUSR1")
	switch {
	case !ok:
		v.cmd.Process.Kill()
		t.Errorf("vigil did not exit; output %q; stderr:\n%s", out, v.stderr)
	case code == 0 && seen == 1:
		return true
	case code == 138 && seen == 0 && strings.Contains(v.stderr.String(), "killed by SIGUSR1"):
		return false
	default:
		t.Errorf("exit code %d, output %q; want SIGUSR1 seen once (exit 0) or a death by it (138); stderr:\n%s", code, out, v.stderr)
	}
	return false
}

// TestChildStartsWithCleanSignalState starts vigil with a blocked signal
// mask and ignored signals (both survive fork and exec) and checks that the
// child, cat printing its own /proc status, has neither. cat then waits on
// stdin, so vigil's own status can be read to prove the setup took.
func TestChildStartsWithCleanSignalState(t *testing.T) {
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	r := launch{args: []string{"-restart", "no", "--", "cat", "/proc/self/status", "-"}, stdin: stdin}
	r.block = []syscall.Signal{unix.SIGUSR1, unix.SIGWINCH, unix.SIGALRM, unix.SIGTERM}
	r.ignore = []os.Signal{unix.SIGUSR2, unix.SIGQUIT}
	v := startVigil(t, r)
	stdin.Close()
	blk := strings.Fields(v.out.waitFor(t, "SigBlk:"))
	ign := strings.Fields(v.out.waitFor(t, "SigIgn:"))
	const zero = "0000000000000000"
	if len(blk) != 2 || blk[1] != zero || len(ign) != 2 || ign[1] != zero {
		t.Errorf("child %v %v, want both zero", blk, ign)
	}
	if !anyThreadBlocks(t, v.cmd.Process.Pid) {
		t.Errorf("no thread of vigil blocks a signal: the test did not start it with a blocked mask")
	}
	stdinW.Close()
	if code := v.wait(t); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, v.stderr)
	}
}

// anyThreadBlocks reports whether any thread of pid has a non-empty signal
// mask. The Go runtime unblocks signals on the thread that waits for
// Notify'd ones, so the main thread alone proves nothing.
func anyThreadBlocks(t *testing.T, pid int) bool {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err == nil && strings.Contains(string(b), "SigBlk:") && !strings.Contains(string(b), "SigBlk:\t0000000000000000") {
			return true
		}
	}
	return false
}
