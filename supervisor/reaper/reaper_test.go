package reaper

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// syncBuffer is a log sink the test can read while the reaper writes.
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

func newReaper(t *testing.T) (*Reaper, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	r := Start(hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Debug, DisableTime: true}))
	t.Cleanup(r.Close)
	return r, buf
}

func shAttr() *syscall.ProcAttr {
	return &syscall.ProcAttr{Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true}}
}

func waitStatus(t *testing.T, exited <-chan Status) Status {
	t.Helper()
	select {
	case st := <-exited:
		return st
	case <-time.After(30 * time.Second):
		t.Fatal("no exit status within 30s")
		return Status{}
	}
}

func TestSpawnRoutesStatusToOwner(t *testing.T) {
	r, _ := newReaper(t)
	pid, exited, err := r.Spawn("/bin/sh", []string{"sh", "-c", "exit 3"}, shAttr())
	if err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, exited)
	if st.Pid != pid || !st.WaitStatus.Exited() || st.WaitStatus.ExitStatus() != 3 {
		t.Fatalf("status = %+v (%s), want pid %d exit 3", st, st, pid)
	}
	if err := r.Kill(pid, unix.SIGTERM); !errors.Is(err, ErrReaped) {
		t.Fatalf("Kill after reap = %v, want ErrReaped", err)
	}
}

// Processes that exit before Spawn even returns must still reach their owner:
// the registration race the reaper exists to close.
func TestSpawnFastExitsNeverLost(t *testing.T) {
	r, buf := newReaper(t)
	const workers, each = 4, 50
	var wg sync.WaitGroup
	var spawned sync.Map // pid -> struct{}
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				pid, exited, err := r.Spawn("/bin/true", []string{"true"}, shAttr())
				if err != nil {
					errs <- err
					return
				}
				spawned.Store(pid, struct{}{})
				select {
				case st := <-exited:
					if st.WaitStatus.ExitStatus() != 0 {
						errs <- errors.New("true: " + st.String())
					}
				case <-time.After(30 * time.Second):
					errs <- errors.New("status lost")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Only this test's own processes count. A process an earlier test left
	// behind is a real orphan of this test process (a subreaper) and may be
	// reaped here: with -count=N, the sleep that
	// TestKillGroupReachesGroupWhileLeaderLives kills.
	for _, m := range regexp.MustCompile(`orphan reaped: pid=(\d+)`).FindAllStringSubmatch(buf.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		if _, ok := spawned.Load(pid); ok {
			t.Errorf("spawned process %d was taken for an orphan:\n%s", pid, buf)
		}
	}
}

func TestOrphansReapedAndLogged(t *testing.T) {
	r, buf := newReaper(t)
	// 100 background readers block on a pipe the test holds. sh exits at
	// once, so they are reparented to this process (a subreaper); closing
	// the pipe then makes all of them exit at the same moment.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	script := `exec 3<&0; i=0; while [ $i -lt 100 ]; do head -c1 <&3 >/dev/null & i=$((i+1)); done; exit 7`
	attr := shAttr()
	attr.Files[0] = pr.Fd()
	_, exited, err := r.Spawn("/bin/sh", []string{"sh", "-c", script}, attr)
	if err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, exited)
	if st.WaitStatus.ExitStatus() != 7 {
		t.Fatalf("status = %s, want exit status 7", st)
	}
	pw.Close()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(buf.String(), "orphan reaped") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("reaped %d orphans, want 100:\n%s", strings.Count(buf.String(), "orphan reaped"), buf)
		}
		r.Reap()
		time.Sleep(10 * time.Millisecond) // polling interval for a condition, with a deadline
	}
	if strings.Contains(buf.String(), "ERROR") {
		t.Errorf("errors while reaping:\n%s", buf)
	}
}

func TestKillGroupReachesGroupWhileLeaderLives(t *testing.T) {
	r, _ := newReaper(t)
	// The leader waits for its background child; both are in the new
	// session's group, so one KillGroup ends both.
	pid, exited, err := r.Spawn("/bin/sh", []string{"sh", "-c", "sleep 1000 & wait"}, shAttr())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.KillGroup(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, exited)
	if !st.WaitStatus.Signaled() || st.WaitStatus.Signal() != unix.SIGKILL {
		t.Fatalf("status = %s, want killed by SIGKILL", st)
	}
	if err := r.KillGroup(pid, unix.SIGKILL); !errors.Is(err, ErrReaped) {
		t.Fatalf("KillGroup after reap = %v, want ErrReaped", err)
	}
}

func TestSpawnAfterCloseFails(t *testing.T) {
	r, _ := newReaper(t)
	r.Close()
	if _, _, err := r.Spawn("/bin/true", []string{"true"}, shAttr()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Spawn after Close = %v, want ErrClosed", err)
	}
	r.Reap() // must not block
}

func TestDescribe(t *testing.T) {
	cases := map[unix.WaitStatus]string{
		3 << 8:                "exit status 3",
		unix.WaitStatus(15):   "killed by SIGTERM",
		unix.WaitStatus(0x8b): "killed by SIGSEGV (core dumped)",
	}
	for ws, want := range cases {
		if got := Describe(ws); got != want {
			t.Errorf("Describe(%#x) = %q, want %q", uint32(ws), got, want)
		}
	}
}
