package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests drive the real vigil binary, built once here, with children that
// are either system tools (sh, sleep, cat) or this test binary re-executed
// in a helper mode (VIGIL_TEST_HELPER, see helpers_test.go).
var vigilBin string

// waitLimit bounds every wait in these tests; nothing should need a tenth.
const waitLimit = 30 * time.Second

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	// A race-built process sleeps atexit_sleep_ms (default 1s) before it
	// exits; vigil and the helpers are race-built under -race.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	dir, err := os.MkdirTemp("", "vigil-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// vigil's notify-socket directories go here too, so those of a vigil a
	// test SIGKILLs (it cannot clean up) are removed with the rest.
	os.Setenv("TMPDIR", dir)
	vigilBin = filepath.Join(dir, "vigil")
	args := []string{"build", "-o", vigilBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build vigil: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects vigil's stderr while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines delivers what a process writes, line by line, with bounded waits.
type lines struct {
	ch  chan string
	all []string
}

func newLines(r io.Reader) *lines {
	l := &lines{ch: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.ch <- sc.Text()
		}
		close(l.ch)
	}()
	return l
}

// waitFor returns the first line, read from now on, that starts with want,
// failing on EOF or after waitLimit.
func (l *lines) waitFor(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case s, ok := <-l.ch:
			if !ok {
				t.Fatalf("output ended before a line starting %q; got %q", want, l.all)
			}
			l.all = append(l.all, s)
			if strings.HasPrefix(s, want) {
				return s
			}
		case <-timeout:
			t.Fatalf("no line starting %q within %s; got %q", want, waitLimit, l.all)
		}
	}
}

// waitAll waits until every one of want has been read as a whole line, in
// any order, counting lines read before the call too.
func (l *lines) waitAll(t *testing.T, want ...string) {
	t.Helper()
	missing := func() []string {
		var m []string
		for _, w := range want {
			if count(l.all, w) == 0 {
				m = append(m, w)
			}
		}
		return m
	}
	timeout := time.After(waitLimit)
	for len(missing()) > 0 {
		select {
		case s, ok := <-l.ch:
			if !ok {
				t.Fatalf("output ended without %q; got %q", missing(), l.all)
			}
			l.all = append(l.all, s)
		case <-timeout:
			t.Fatalf("no %q within %s; got %q", missing(), waitLimit, l.all)
		}
	}
}

// next returns the next line, or false at EOF or after waitLimit.
func (l *lines) next() (string, bool) {
	select {
	case s, ok := <-l.ch:
		if ok {
			l.all = append(l.all, s)
		}
		return s, ok
	case <-time.After(waitLimit):
		return "", false
	}
}

// rest reads to EOF and returns every line read so far.
func (l *lines) rest(t *testing.T) []string {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case s, ok := <-l.ch:
			if !ok {
				return l.all
			}
			l.all = append(l.all, s)
		case <-timeout:
			t.Fatalf("output did not end within %s; got %q", waitLimit, l.all)
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// vigil is one running vigil process.
type vigil struct {
	cmd    *exec.Cmd
	out    *lines
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

// launch describes how to start vigil.
type launch struct {
	args  []string // vigil's arguments, including -- and the command
	env   []string // added to the test's environment
	stdin io.Reader
	dir   string
	extra []*os.File
	// block, when set, are blocked in vigil's initial signal mask.
	block []syscall.Signal
	// ignore, when set, are ignored (SIG_IGN) when vigil starts.
	ignore []os.Signal
}

// helperRun starts vigil with flags and this test binary as the child in
// helper mode, with env added to the child's environment.
func helperRun(mode string, flags []string, env ...string) launch {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	args := append(append([]string{}, flags...), "--", self)
	return launch{args: args, env: append([]string{helperEnv + "=" + mode}, env...)}
}

func startVigil(t *testing.T, r launch) *vigil {
	t.Helper()
	v, err := tryStartVigil(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-v.done:
		default:
			v.cmd.Process.Kill()
			<-v.done
		}
	})
	return v
}

// startVigilCmd starts argv (which execs vigil itself) instead of vigil.
func startVigilCmd(t *testing.T, r launch, argv []string) *vigil {
	t.Helper()
	v, err := tryStart(r, argv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v.cmd.Process.Kill()
		<-v.done
	})
	return v
}

func tryStartVigil(r launch) (*vigil, error) {
	return tryStart(r, append([]string{vigilBin}, r.args...))
}

func tryStart(r launch, argv []string) (*vigil, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Dir = r.dir
	cmd.Stdin = r.stdin
	cmd.ExtraFiles = r.extra
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	v := &vigil{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = pw, v.stderr
	cmd.WaitDelay = waitLimit
	if len(r.ignore) > 0 {
		// SIG_IGN survives fork and exec; restore this process's handling
		// as soon as vigil has started.
		signal.Ignore(r.ignore...)
		defer signal.Reset(r.ignore...)
	}
	if err := startMasked(cmd, r.block); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start vigil: %w", err)
	}
	pw.Close()
	v.out = newLines(pr)
	go func() {
		defer close(v.done)
		defer pr.Close()
		cmd.Wait()
		v.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			v.code = 128 + int(ws.Signal())
		}
	}()
	return v, nil
}

// startMasked starts cmd from a thread whose signal mask blocks the given
// signals, so the new process starts with them blocked (a fork copies the
// forking thread's mask, and exec keeps it). The thread is never unlocked:
// it ends with the goroutine, taking the odd mask with it.
func startMasked(cmd *exec.Cmd, block []syscall.Signal) error {
	if len(block) == 0 {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var set unix.Sigset_t
		for _, s := range block {
			set.Val[(s-1)/64] |= 1 << ((uint(s) - 1) % 64)
		}
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

func (v *vigil) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := v.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal vigil: %v", err)
	}
}

// wait returns vigil's exit code (128+S if it was killed by S).
func (v *vigil) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-v.done:
		return v.code
	case <-time.After(waitLimit):
		v.cmd.Process.Kill()
		t.Fatalf("vigil did not exit within %s; stderr:\n%s", waitLimit, v.stderr)
		return -1
	}
}

// waitCode is wait without a *testing.T, for use from other goroutines.
func (v *vigil) waitCode() (int, bool) {
	select {
	case <-v.done:
		return v.code, true
	case <-time.After(waitLimit):
		return -1, false
	}
}

// waitLog polls vigil's stderr for a line containing want.
func (v *vigil) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(v.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("vigil never logged %q; stderr:\n%s", want, v.stderr)
		}
		time.Sleep(5 * time.Millisecond) // polling interval for a condition, bounded by the deadline
	}
}

// gone polls until pid no longer runs (exited, or a zombie nobody reaps).
func gone(pid int) bool {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
	return false
}
