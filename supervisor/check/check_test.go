package check

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/reaper"
	"github.com/vigil-sh/vigil/supervisor/reexec"
)

// Checks start through /proc/self/exe, which in a test is this binary.
func TestMain(m *testing.M) {
	reexec.Main()
	os.Exit(m.Run())
}

func newReaper(t *testing.T) *reaper.Reaper {
	t.Helper()
	r := reaper.Start(hclog.NewNullLogger())
	t.Cleanup(r.Close)
	return r
}

func sh(script string) Command {
	return Command{Args: []string{"sh", "-c", script}, Env: os.Environ()}
}

func TestRun(t *testing.T) {
	r := newReaper(t)
	log := hclog.NewNullLogger()
	cases := []struct {
		name     string
		cmd      Command
		timeout  time.Duration
		ok       bool
		output   string
		describe string
	}{
		{"passes/exit-0", sh("echo fine"), time.Minute, true, "fine\n", "exit status 0"},
		{"fails/exit-1-with-stderr", sh("echo out; echo 'line 3: bad key' >&2; exit 1"), time.Minute, false, "out\nline 3: bad key\n", "exit status 1"},
		{"crashes/killed-by-signal", sh("echo dying; kill -SEGV $$"), time.Minute, false, "dying\n", "killed by SIGSEGV"},
		{"hangs/killed-after-timeout", sh("echo waiting; exec sleep 1000"), 200 * time.Millisecond, false, "waiting\n", "timed out after 200ms"},
		{"not-found", Command{Args: []string{"vigil-no-such-checker"}}, time.Minute, false, "", "executable file not found"},
		{"empty", Command{}, time.Minute, false, "", "empty command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(context.Background(), r, tc.cmd, tc.timeout, log)
			if res.OK() != tc.ok {
				t.Fatalf("OK() = %v, want %v (%s, output %q)", res.OK(), tc.ok, res, res.Output)
			}
			if res.Output != tc.output {
				t.Errorf("output %q, want %q", res.Output, tc.output)
			}
			if !strings.Contains(res.String(), tc.describe) {
				t.Errorf("String() = %q, want it to contain %q", res.String(), tc.describe)
			}
		})
	}
}

// A checker that leaves a process behind holding its output pipe must not
// make Run wait for that process.
func TestRunDoesNotWaitForLeftovers(t *testing.T) {
	r := newReaper(t)
	res := Run(context.Background(), r, sh("echo started; sleep 1000 & echo done"), time.Minute, hclog.NewNullLogger())
	if !res.OK() || res.Output != "started\ndone\n" {
		t.Fatalf("result %s, output %q", res, res.Output)
	}
	// The leftover sleep is in the check's process group; end it.
	_ = syscall.Kill(-res.Exit.Pid, syscall.SIGKILL)
}

func TestRunCapsOutput(t *testing.T) {
	r := newReaper(t)
	res := Run(context.Background(), r, sh("head -c 100000 /dev/zero"), time.Minute, hclog.NewNullLogger())
	if !res.OK() || len(res.Output) != MaxOutput || res.Dropped != 100000-MaxOutput {
		t.Fatalf("result %s, kept %d, dropped %d", res, len(res.Output), res.Dropped)
	}
}

func TestRunCancelled(t *testing.T) {
	r := newReaper(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, r, sh("exec sleep 1000"), time.Hour, hclog.NewNullLogger()) }()
	cancel()
	select {
	case res := <-done:
		if res.OK() || res.Err == nil || !strings.Contains(res.String(), "cancelled") {
			t.Fatalf("result %s", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
