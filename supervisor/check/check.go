// Package check runs a configuration check command before a reload: the
// command must exit 0 within a timeout for the reload to go ahead.
//
// The command starts through the child package, so vigil's reaper stays the
// only waiter for every process (never exec.Cmd.Wait next to the reaper).
// Its stdout and stderr go to one pipe whose content is returned for the
// log: when a check fails, its output is what tells the operator why.
package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/child"
	"github.com/vigil-sh/vigil/supervisor/reaper"
)

// MaxOutput is the most output kept from one check; the rest is counted
// and dropped, so a chatty checker cannot fill vigil's memory or log.
const MaxOutput = 16 << 10

// outputGrace is how long, after the check exited, its output may still
// take to reach EOF. A process the checker left behind can hold the pipe
// open forever; the output is then cut at this point.
const outputGrace = 500 * time.Millisecond

// Command is the check to run.
type Command struct {
	// Args is the argument vector; Args[0] is looked up in PATH.
	Args []string
	// Env is the complete environment.
	Env []string
	// Dir is the working directory; empty means vigil's.
	Dir string
}

// Result is how one check run ended.
type Result struct {
	// Exit is how the check process ended; zero when it never started.
	Exit child.Exit
	// Err is set when the check could not be started at all (not found,
	// not executable, fork failed) or was cancelled.
	Err error
	// TimedOut is true when the check ran longer than its timeout and was
	// killed.
	TimedOut bool
	// Timeout is the limit the check ran under.
	Timeout time.Duration
	// Output is what the check wrote on stdout and stderr, at most
	// MaxOutput bytes; Dropped counts the bytes beyond.
	Output  string
	Dropped int
	// Took is the time from start to exit.
	Took time.Duration
}

// OK reports whether the check passed: it ran and exited 0 in time.
func (r Result) OK() bool {
	return r.Err == nil && !r.TimedOut && r.Exit.StartErr == nil &&
		r.Exit.Status.Exited() && r.Exit.Status.ExitStatus() == 0
}

// String says how the check ended: "exit status 1", "killed by SIGSEGV",
// "timed out after 10s", "exec ...: not found".
func (r Result) String() string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case r.TimedOut:
		return fmt.Sprintf("timed out after %s", r.Timeout)
	}
	return r.Exit.String()
}

// Run runs cmd through r and waits for it, at most timeout (then its
// process group is SIGKILLed). Cancelling ctx kills it too; Result.Err is
// then ctx's error. Run blocks; call it from its own goroutine.
func Run(ctx context.Context, r *reaper.Reaper, cmd Command, timeout time.Duration, log hclog.Logger) Result {
	res := Result{Timeout: timeout}
	if len(cmd.Args) == 0 || cmd.Args[0] == "" {
		res.Err = errors.New("check: empty command")
		return res
	}
	path, err := exec.LookPath(cmd.Args[0])
	if err != nil {
		res.Err = fmt.Errorf("check: %w", err)
		return res
	}
	pr, pw, err := outputPipe()
	if err != nil {
		res.Err = fmt.Errorf("check: output pipe: %w", err)
		return res
	}
	spec := child.Spec{Path: path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir, Stdout: pw, Stderr: pw}
	c, err := child.Start(r, spec, nil, log)
	pw.Close() // the check holds its own copies now
	if err != nil {
		pr.Close()
		res.Err = fmt.Errorf("check: %w", err)
		return res
	}
	out := collect(pr)
	res.TimedOut, res.Err = wait(ctx, c, timeout)
	res.Exit = c.Exit()
	res.Took = res.Exit.Ran
	res.Output, res.Dropped = out.result(outputGrace)
	return res
}

// outputPipe returns a pipe whose write end is blocking. os.Pipe makes both
// ends non-blocking for Go's poller, and that flag lives in the open file
// description the check shares: its writes would fail with EAGAIN as soon
// as it outpaced vigil's reading.
func outputPipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	rc, err := w.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = unix.SetNonblock(int(fd), false) })
		err = errors.Join(cerr, err)
	}
	if err != nil {
		r.Close()
		w.Close()
		return nil, nil, err
	}
	return r, w, nil
}

// wait waits for c to end, killing its process group on timeout or when ctx
// is done.
func wait(ctx context.Context, c *child.Child, timeout time.Duration) (timedOut bool, err error) {
	limit := time.NewTimer(timeout)
	defer limit.Stop()
	select {
	case <-c.Done():
		return false, nil
	case <-limit.C:
		timedOut = true
	case <-ctx.Done():
		err = fmt.Errorf("check cancelled: %w", ctx.Err())
	}
	c.Kill()
	<-c.Done() // SIGKILL cannot be refused
	return timedOut, err
}
