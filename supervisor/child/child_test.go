package child

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/reaper"
	"github.com/vigil-sh/vigil/supervisor/reexec"
)

// Children start through /proc/self/exe, which in a test is this binary.
func TestMain(m *testing.M) {
	reexec.Main()
	os.Exit(m.Run())
}

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

type fixture struct {
	r      *reaper.Reaper
	log    hclog.Logger
	buf    *syncBuffer
	events chan Event
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	buf := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Debug, DisableTime: true})
	r := reaper.Start(log.Named("reaper"))
	t.Cleanup(r.Close)
	return &fixture{r: r, log: log, buf: buf, events: make(chan Event, 16)}
}

func (f *fixture) start(t *testing.T, spec Spec) *Child {
	t.Helper()
	if spec.Env == nil {
		spec.Env = os.Environ()
	}
	if spec.Stderr == nil {
		spec.Stderr = os.Stderr
	}
	c, err := Start(f.r, spec, f.events, f.log.Named("child"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sh(script string) Spec {
	return Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
}

// next returns the next event of c, failing after 30s.
func (f *fixture) next(t *testing.T, c *Child) Event {
	t.Helper()
	for {
		select {
		case ev := <-f.events:
			if ev.Child == c {
				return ev
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no event from child %d within 30s", c.Pid())
		}
	}
}

func (f *fixture) exit(t *testing.T, c *Child) Exit {
	t.Helper()
	for {
		if ev := f.next(t, c); ev.Kind == Exited {
			return ev.Exit
		}
	}
}

// readLine reads one line from r within 30s.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		s, _ := r.ReadString('\n')
		ch <- strings.TrimSpace(s)
	}()
	select {
	case s := <-ch:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("no line within 30s")
		return ""
	}
}

func TestRunsThenExits(t *testing.T) {
	f := newFixture(t)
	c := f.start(t, sh("exit 3"))
	if ev := f.next(t, c); ev.Kind != Running {
		t.Fatalf("first event = %v, want Running", ev.Kind)
	}
	ex := f.exit(t, c)
	if ex.StartErr != nil || !ex.Status.Exited() || ex.Status.ExitStatus() != 3 || ex.Stopped || ex.Killed {
		t.Fatalf("exit = %+v (%s), want exit status 3", ex, ex)
	}
	<-c.Done()
	if c.Exit() != ex {
		t.Fatalf("Exit() = %+v, event said %+v", c.Exit(), ex)
	}
}

func TestExecFailureReported(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02 not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, reason string
		code               int
	}{
		{"missing/127", filepath.Join(dir, "missing"), "no such file", 127},
		{"not-executable/126", noexec, "permission denied", 126},
		{"exec-format/126", garbage, "exec format error", 126},
		{"directory/126", dir, "permission denied", 126},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.start(t, Spec{Path: tc.path, Args: []string{tc.path}})
			ev := f.next(t, c)
			if ev.Kind != Exited {
				t.Fatalf("event = %v, want Exited without Running", ev.Kind)
			}
			se := ev.Exit.StartErr
			if se == nil || se.Code != tc.code || ev.Exit.Status.ExitStatus() != tc.code {
				t.Fatalf("exit = %+v, want start error with code %d", ev.Exit, tc.code)
			}
			if !strings.Contains(se.Error(), tc.path) || !strings.Contains(se.Error(), tc.reason) {
				t.Fatalf("error %q should name %s and %q", se, tc.path, tc.reason)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Run("exits-on-signal/not-killed", func(t *testing.T) {
		f := newFixture(t)
		c := f.start(t, Spec{Path: "/bin/sleep", Args: []string{"sleep", "1000"}})
		f.next(t, c) // Running
		c.Stop(syscall.SIGTERM, time.Minute)
		ex := f.exit(t, c)
		if !ex.Stopped || ex.Killed || !ex.Status.Signaled() || ex.Status.Signal() != syscall.SIGTERM {
			t.Fatalf("exit = %+v (%s), want stopped by SIGTERM", ex, ex)
		}
	})
	t.Run("ignores-term/killed-after-deadline", func(t *testing.T) {
		f := newFixture(t)
		pr, pw, _ := os.Pipe()
		defer pr.Close()
		c := f.start(t, Spec{Path: "/bin/sh", Args: []string{"sh", "-c", `trap "" TERM; echo ready; exec sleep 1000`}, Stdout: pw})
		pw.Close()
		readLine(t, bufio.NewReader(pr))
		c.Stop(syscall.SIGTERM, 100*time.Millisecond)
		ex := f.exit(t, c)
		if !ex.Stopped || !ex.Killed {
			t.Fatalf("exit = %+v (%s), want killed after the deadline", ex, ex)
		}
		if !strings.Contains(f.buf.String(), "drain deadline passed") {
			t.Errorf("log lacks the deadline line:\n%s", f.buf)
		}
	})
	t.Run("stop-before-running/delivered-once-running", func(t *testing.T) {
		f := newFixture(t)
		c := f.start(t, Spec{Path: "/bin/sleep", Args: []string{"sleep", "1000"}})
		c.Stop(syscall.SIGTERM, time.Minute) // before the Running event
		var kinds []Kind
		var ex Exit
		for ev := f.next(t, c); ; ev = f.next(t, c) {
			kinds = append(kinds, ev.Kind)
			if ev.Kind == Exited {
				ex = ev.Exit
				break
			}
		}
		if len(kinds) != 2 || kinds[0] != Running {
			t.Fatalf("events = %v, want Running then Exited", kinds)
		}
		if !ex.Status.Signaled() || ex.Status.Signal() != syscall.SIGTERM || ex.Killed {
			t.Fatalf("exit = %s, want killed by SIGTERM", ex)
		}
	})
	t.Run("kill/now", func(t *testing.T) {
		f := newFixture(t)
		c := f.start(t, Spec{Path: "/bin/sleep", Args: []string{"sleep", "1000"}})
		f.next(t, c)
		c.Kill()
		if ex := f.exit(t, c); !ex.Killed {
			t.Fatalf("exit = %+v, want Killed", ex)
		}
		c.Stop(syscall.SIGTERM, time.Second) // after exit: must not block
		c.Kill()
	})
}

func TestGroupSignalReachesDescendants(t *testing.T) {
	f := newFixture(t)
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	// The grandchild reports the signal it gets; the child only waits.
	spec := sh(`sh -c 'trap "echo grandchild got USR1; exit 0" USR1; echo ready; while :; do sleep 1; done' & wait`)
	spec.Stdout, spec.Group = pw, true
	c := f.start(t, spec)
	pw.Close()
	br := bufio.NewReader(pr)
	if got := readLine(t, br); got != "ready" {
		t.Fatalf("got %q, want ready", got)
	}
	f.next(t, c)
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, br); got != "grandchild got USR1" {
		t.Fatalf("got %q", got)
	}
	ex := f.exit(t, c)
	// The child itself (sh in wait) dies of USR1 too: it was in the group.
	if !ex.Status.Signaled() || ex.Status.Signal() != syscall.SIGUSR1 {
		t.Fatalf("exit = %s, want killed by SIGUSR1", ex)
	}
}

func TestEnvListenPIDAndExtraFiles(t *testing.T) {
	f := newFixture(t)
	out, outW, _ := os.Pipe()
	defer out.Close()
	extra, extraW, _ := os.Pipe()
	defer extra.Close()
	// No pipeline after ls: while sh sets one up it holds the pipe ends
	// itself, and ls could list them as the shell's. "exit 0" keeps sh from
	// exec'ing ls in its place (ls would then list its own directory fd).
	spec := sh(`echo "$LISTEN_PID $$ $LISTEN_FDS"; echo via-fd3 >&3; ls /proc/$$/fd; exit 0`)
	spec.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_PID=1")
	spec.Stdout, spec.ExtraFiles = outW, []*os.File{extraW}
	c := f.start(t, spec)
	outW.Close()
	extraW.Close()
	br := bufio.NewReader(out)
	fields := strings.Fields(readLine(t, br))
	if len(fields) != 3 || fields[0] != fields[1] || fields[0] != strconv.Itoa(c.Pid()) || fields[2] != "1" {
		t.Fatalf("LISTEN_PID, $$, LISTEN_FDS = %v; want the child's pid %d twice and 1", fields, c.Pid())
	}
	if got := readLine(t, bufio.NewReader(extra)); got != "via-fd3" {
		t.Fatalf("fd 3 carried %q", got)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	fds := strings.Fields(string(rest))
	slices.SortFunc(fds, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if got := strings.Join(fds, " "); got != "0 1 2 3" {
		t.Fatalf("open fds = %q, want 0 1 2 3 (no status pipe, nothing else)", got)
	}
	if ex := f.exit(t, c); ex.Status.ExitStatus() != 0 {
		t.Fatalf("exit = %s", ex)
	}
}

func TestNoListenPIDWithoutListenFDs(t *testing.T) {
	f := newFixture(t)
	out, outW, _ := os.Pipe()
	defer out.Close()
	spec := sh(`echo "pid=${LISTEN_PID-unset}"`)
	spec.Stdout = outW
	c := f.start(t, spec)
	outW.Close()
	if got := readLine(t, bufio.NewReader(out)); got != "pid=unset" {
		t.Fatalf("got %q, want pid=unset", got)
	}
	f.exit(t, c)
}

// An ignored SIGHUP survives exec and the Go runtime keeps it ignored in
// the re-exec; the command must still start with every default.
func TestChildStartsWithDefaultDispositions(t *testing.T) {
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	f := newFixture(t)
	out, outW, _ := os.Pipe()
	defer out.Close()
	c := f.start(t, Spec{Path: "/bin/grep", Args: []string{"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}, Stdout: outW})
	outW.Close()
	br := bufio.NewReader(out)
	for i := 0; i < 2; i++ {
		line := readLine(t, br)
		if !strings.HasSuffix(line, "0000000000000000") {
			t.Errorf("child %s, want all zero", line)
		}
	}
	f.exit(t, c)
}

func TestSeveralChildrenAtOnce(t *testing.T) {
	f := newFixture(t)
	old := f.start(t, Spec{Path: "/bin/sleep", Args: []string{"sleep", "1000"}})
	f.next(t, old)
	cur := f.start(t, Spec{Path: "/bin/sleep", Args: []string{"sleep", "1000"}})
	f.next(t, cur)
	old.Stop(syscall.SIGTERM, time.Minute)
	if ex := f.exit(t, old); ex.Status.Signal() != syscall.SIGTERM {
		t.Fatalf("old exit = %s", ex)
	}
	select {
	case <-cur.Done():
		t.Fatal("stopping the old child ended the new one")
	default:
	}
	cur.Stop(syscall.SIGTERM, time.Minute)
	f.exit(t, cur)
}
