package signals

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const helperEnv = "VIGIL_SIGNALS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	// A race-built process sleeps atexit_sleep_ms (default 1s) before it
	// exits; the helpers are race-built under -race.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// helper is vigil's start in small: Prepare, Open, and a Route that takes
// SIGUSR1. It prints "ready PID MARKER FAST" and then one line per signal
// ("routed SIGUSR1" for what the Route took, "caught SIG" for what came on
// the channel), and exits on SIGTERM. The Route only hands its signal to the
// printing loop, so that a signal routed before "ready" is printed after it.
func helper() int {
	Prepare()
	src := Open()
	routed := make(chan syscall.Signal, 64)
	src.SetRoute(func(sig syscall.Signal) bool {
		if sig != unix.SIGUSR1 {
			return false
		}
		routed <- sig
		return true
	})
	var fast []string
	for _, sig := range src.Fast {
		fast = append(fast, Name(sig))
	}
	fmt.Printf("ready %d marker=%q fast=%s\n", os.Getpid(), os.Getenv(preparedEnv), strings.Join(fast, ","))
	for {
		select {
		case sig := <-routed:
			fmt.Printf("routed %s\n", Name(sig))
		case sig := <-src.C():
			if sig == unix.SIGUSR2 && os.Getenv(epipeEnv) != "" {
				fmt.Println(writeBrokenPipes())
				continue
			}
			fmt.Printf("caught %s\n", Name(sig))
			if sig == unix.SIGTERM {
				return 0
			}
		}
	}
}

// epipeEnv makes the helper answer SIGUSR2 with writeBrokenPipes.
const epipeEnv = "VIGIL_SIGNALS_TEST_EPIPE"

// writeBrokenPipes writes to stderr, which the test has closed the far end
// of, and to a pipe with no reader, from several threads: each write makes
// the kernel send the writing thread a SIGPIPE, and for stderr the runtime
// would kill the process unless SIGPIPE is caught or ignored.
func writeBrokenPipes() string {
	r, w, err := os.Pipe()
	if err != nil {
		return "pipe: " + err.Error()
	}
	r.Close()
	defer w.Close()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			runtime.LockOSThread() // spread the writes over threads
			defer runtime.UnlockOSThread()
			_, err := w.Write([]byte("x"))
			if _, err2 := os.Stderr.Write([]byte("x")); err2 == nil || !strings.Contains(err2.Error(), "broken pipe") {
				err = fmt.Errorf("stderr write: %v", err2)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "broken pipe") {
			return fmt.Sprintf("write: %v", err)
		}
	}
	return "wrote to broken pipes"
}

type helperProc struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	ready []string
}

func startHelper(t *testing.T, env ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), helperEnv+"=1"), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	h := &helperProc{cmd: cmd, lines: bufio.NewScanner(out)}
	h.ready = strings.Fields(h.next(t))
	if len(h.ready) != 4 || h.ready[0] != "ready" {
		t.Fatalf("helper said %q", h.ready)
	}
	return h
}

// next returns the helper's next line; a helper that died ends the test.
func (h *helperProc) next(t *testing.T) string {
	t.Helper()
	if !h.lines.Scan() {
		t.Fatalf("helper ended: %v", h.lines.Err())
	}
	return h.lines.Text()
}

func (h *helperProc) signal(t *testing.T, sig syscall.Signal, want string) {
	t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if got := h.next(t); got != want {
		t.Fatalf("after %s: helper said %q, want %q", Name(sig), got, want)
	}
}

// TestPrepareAndOpen runs the real start: the process re-executes itself
// once (same pid, marker gone), every thread blocks the signals read from
// the signalfd, a Route takes what it wants the moment it is read, and the
// signals Go never lets a program block arrive through os/signal.
func TestPrepareAndOpen(t *testing.T) {
	h := startHelper(t)
	if h.ready[1] != strconv.Itoa(h.cmd.Process.Pid) {
		t.Errorf("pid after the re-exec %s, want %d", h.ready[1], h.cmd.Process.Pid)
	}
	if h.ready[2] != `marker=""` {
		t.Errorf("the re-exec marker is still in the environment: %s", h.ready[2])
	}
	// The re-exec of /proc/self/exe must not leave the process named "exe".
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", h.cmd.Process.Pid))
	if want := filepath.Base(os.Args[0]); err != nil || strings.TrimSpace(string(comm)) != want[:min(len(want), 15)] {
		t.Errorf("process name after the re-exec %q (%v), want %q", comm, err, want)
	}
	fast := strings.Split(strings.TrimPrefix(h.ready[3], "fast="), ",")
	for _, name := range []string{"SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT", "SIGALRM", "SIGPIPE", "SIGRTMIN+1", "SIGRTMIN+30"} {
		if !slices.Contains(fast, name) {
			t.Errorf("%s is not read from the signalfd; fast = %v", name, fast)
		}
	}
	for _, name := range []string{"SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGSEGV", "SIGRTMIN+0"} {
		if slices.Contains(fast, name) {
			t.Errorf("%s is read from the signalfd; it must come through os/signal", name)
		}
	}

	// Every thread blocks every fast signal, or the kernel could hand one
	// to a thread that does not.
	want := fdSet()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", h.cmd.Process.Pid))
	if len(tasks) == 0 {
		t.Fatal("no threads found")
	}
	for _, status := range tasks {
		blk := sigBlk(t, status)
		if blk&want.Val[0] != want.Val[0] {
			t.Errorf("%s: SigBlk %016x lacks %016x", status, blk, want.Val[0]&^blk)
		}
	}

	h.signal(t, unix.SIGUSR1, "routed SIGUSR1")
	h.signal(t, unix.SIGUSR2, "caught SIGUSR2")
	h.signal(t, 35, "caught SIGRTMIN+1")
	h.signal(t, unix.SIGHUP, "caught SIGHUP")
	h.signal(t, unix.SIGPIPE, "caught SIGPIPE")
	h.signal(t, unix.SIGTERM, "caught SIGTERM")
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}

// TestPendingBeforeOpen: a fast signal sent while the process starts with
// it blocked (so before any handler or signalfd exists) is read once the
// Source opens, exactly once.
func TestPendingBeforeOpen(t *testing.T) {
	for i := 0; i < 20; i++ {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=1")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		// Block SIGUSR1 in the thread that forks, so the helper starts with
		// it blocked, and send it before the helper can have run a line.
		var set unix.Sigset_t
		addSig(&set, unix.SIGUSR1)
		err = withLockedMask(&set, func() error {
			if err := cmd.Start(); err != nil {
				return err
			}
			return cmd.Process.Signal(unix.SIGUSR1)
		})
		if err != nil {
			t.Fatal(err)
		}
		h := &helperProc{cmd: cmd, lines: bufio.NewScanner(out)}
		if ready := h.next(t); !strings.HasPrefix(ready, "ready ") {
			t.Fatalf("helper said %q", ready)
		}
		// Routed or not: it may be read before the Route is set.
		if got := h.next(t); got != "routed SIGUSR1" && got != "caught SIGUSR1" {
			t.Fatalf("run %d: first line %q, want the early SIGUSR1", i, got)
		}
		h.signal(t, unix.SIGTERM, "caught SIGTERM")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
}

// TestWithoutBlockedSignals: when the signals are not blocked after all
// (here: the marker says the re-exec happened, but it did not), every
// signal comes through os/signal, and the Route still takes what it wants.
// TestOwnBrokenPipe: vigil's own writes to a closed pipe or to a closed
// stderr neither kill it nor reach a Route or the channel as a SIGPIPE,
// while a SIGPIPE sent to it still does.
func TestOwnBrokenPipe(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1", epipeEnv+"=1")
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = errW
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errW.Close()
	errR.Close() // from now on a write to its stderr fails with EPIPE
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	h := &helperProc{cmd: cmd, lines: bufio.NewScanner(out)}
	if h.ready = strings.Fields(h.next(t)); len(h.ready) != 4 || !strings.Contains(h.ready[3], "SIGPIPE") {
		t.Fatalf("helper said %q, want SIGPIPE among the fast signals", h.ready)
	}
	for range 5 {
		h.signal(t, unix.SIGUSR2, "wrote to broken pipes")
	}
	// Had any of those writes' SIGPIPEs been taken for a signal, it would be
	// the next line, before this one's.
	h.signal(t, unix.SIGPIPE, "caught SIGPIPE")
	h.signal(t, unix.SIGTERM, "caught SIGTERM")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}

// TestSelfSent reads, from a real signalfd, the SIGPIPE the kernel sends a
// thread that writes to a pipe with no reader, and one the thread sends
// itself with tgkill: only the first is vigil's own.
func TestSelfSent(t *testing.T) {
	var set unix.Sigset_t
	addSig(&set, unix.SIGPIPE)
	err := withLockedMask(&set, func() error {
		fd, err := unix.Signalfd(-1, &set, unix.SFD_NONBLOCK|unix.SFD_CLOEXEC)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return err
		}
		unix.Close(p[0])
		defer unix.Close(p[1])
		read := func() (*unix.SignalfdSiginfo, error) {
			var info unix.SignalfdSiginfo
			buf := (*[unsafe.Sizeof(info)]byte)(unsafe.Pointer(&info))[:]
			if n, err := unix.Read(fd, buf); err != nil || n != len(buf) {
				return nil, fmt.Errorf("read signalfd: %d bytes, %v", n, err)
			}
			return &info, nil
		}
		if _, err := unix.Write(p[1], []byte("x")); err != unix.EPIPE {
			return fmt.Errorf("write to a pipe with no reader: %v, want EPIPE", err)
		}
		info, err := read()
		if err != nil {
			return err
		}
		if !selfSent(info, os.Getpid()) {
			return fmt.Errorf("the write's SIGPIPE (code %d, pid %d) not taken for vigil's own", info.Code, info.Pid)
		}
		if err := unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGPIPE); err != nil {
			return err
		}
		if info, err = read(); err != nil {
			return err
		}
		if selfSent(info, os.Getpid()) {
			return fmt.Errorf("a sent SIGPIPE (code %d) taken for vigil's own write", info.Code)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWithoutBlockedSignals(t *testing.T) {
	h := startHelper(t, preparedEnv+"=1")
	if h.ready[3] != "fast=" {
		t.Errorf("signals read from a signalfd although none is blocked: %s", h.ready[3])
	}
	h.signal(t, unix.SIGUSR1, "routed SIGUSR1")
	h.signal(t, unix.SIGUSR2, "caught SIGUSR2")
	h.signal(t, unix.SIGTERM, "caught SIGTERM")
}

// withLockedMask runs f on a locked thread whose mask has set blocked (a
// fork copies the forking thread's mask, and exec keeps it).
func withLockedMask(set *unix.Sigset_t, f func() error) error {
	done := make(chan error, 1)
	go func() {
		// Not unlocked: the thread's mask was changed, so it exits with the
		// goroutine rather than going back to the pool.
		runtime.LockOSThread()
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, set, nil); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("start with a blocked signal: no answer in 30s")
	}
}

// sigBlk reads the SigBlk line of a /proc status file.
func sigBlk(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no SigBlk in %s", path)
	return 0
}
