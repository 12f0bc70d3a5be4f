// Package reaper owns every wait for child processes in vigil.
//
// One goroutine, locked to its OS thread for the reaper's whole life, does
// three things no other code may do: it forks children (Spawn), it calls
// wait4(-1, WNOHANG) on each SIGCHLD and on a slow safety tick, and it routes
// each status to the owner of that pid or, for a pid nobody started, logs it
// as a reaped orphan. Because the same goroutine forks and waits, a child
// that exits at once can never be reaped before its pid is registered, and
// because nothing else waits, no status is ever stolen ("no child
// processes"). Never call exec.Cmd.Wait or os.Process.Wait next to a Reaper.
package reaper

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/signals"
)

// SafetyTick is how often the reaper waits for children even when no
// SIGCHLD arrived. SIGCHLD is never lost (the loop waits until nothing is
// left), so this only bounds the damage of a surprise; it is slow so an idle
// vigil stays asleep.
const SafetyTick = 30 * time.Second

// ErrReaped is returned by Kill and KillGroup when the process has already
// been reaped: its pid may belong to someone else by now.
var ErrReaped = errors.New("process already reaped")

// ErrClosed is returned by Spawn after Close.
var ErrClosed = errors.New("reaper closed")

// Status is how a process ended, as wait4 reported it.
type Status struct {
	Pid        int
	WaitStatus unix.WaitStatus
}

// String describes the status: "exit status 3", "signal SIGTERM".
func (s Status) String() string { return Describe(s.WaitStatus) }

// Describe writes a wait status the way vigil's logs do: "exit status 3",
// "killed by SIGTERM", "killed by SIGSEGV (core dumped)".
func Describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled() && ws.CoreDump():
		return fmt.Sprintf("killed by %s (core dumped)", signals.Name(ws.Signal()))
	case ws.Signaled():
		return "killed by " + signals.Name(ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// Reaper forks and reaps. Create it with Start; its methods are safe for
// concurrent use.
type Reaper struct {
	log     hclog.Logger
	sigchld chan os.Signal
	spawns  chan spawnRequest
	reaps   chan chan struct{}
	quit    chan struct{}
	stopped chan struct{}

	// mu guards procs and is held across each wait4, so Kill never signals
	// a pid that has been reaped (and could have been reused).
	mu    sync.Mutex
	procs map[int]chan Status
}

// Start starts the reaper goroutine. When vigil is not PID 1 it also marks
// the process a child subreaper (PR_SET_CHILD_SUBREAPER), so orphans of its
// children are reparented to it and reaped here instead of by init; if the
// kernel refuses, that is logged and reaping of direct children still works.
func Start(log hclog.Logger) *Reaper {
	r := &Reaper{
		log:     log,
		sigchld: make(chan os.Signal, 1),
		spawns:  make(chan spawnRequest),
		reaps:   make(chan chan struct{}),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		procs:   make(map[int]chan Status),
	}
	signal.Notify(r.sigchld, unix.SIGCHLD)
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			log.Warn("cannot become a child subreaper; orphans go to init", "error", err)
		}
	}
	go r.loop()
	return r
}

// Close stops the reaper goroutine and ends its thread. Children it started
// that are still running then receive their parent-death signal, if they
// were given one; call Close only when none should be left.
func (r *Reaper) Close() {
	select {
	case <-r.stopped:
		return
	case r.quit <- struct{}{}:
	}
	<-r.stopped
}

// Reap waits, on the reaper goroutine, for every child that has exited by
// now, and returns when they have been routed or logged. vigil calls it
// before exiting so no zombie is left unaccounted for.
func (r *Reaper) Reap() {
	done := make(chan struct{})
	select {
	case r.reaps <- done:
		<-done
	case <-r.stopped:
	}
}

func (r *Reaper) loop() {
	// Every child is forked from this thread, which must outlive them: the
	// kernel sends a child's parent-death signal when the thread that forked
	// it exits, not the process (golang/go#27505). The goroutine never
	// unlocks, so the thread ends only with Close.
	runtime.LockOSThread()
	defer close(r.stopped)
	tick := time.NewTicker(SafetyTick)
	defer tick.Stop()
	for {
		select {
		case <-r.sigchld:
			r.reapAll()
		case <-tick.C:
			r.reapAll()
		case req := <-r.spawns:
			req.reply <- r.spawn(req)
		case done := <-r.reaps:
			r.reapAll()
			close(done)
		case <-r.quit:
			signal.Stop(r.sigchld)
			return
		}
	}
}

// reapAll waits until no exited child is left. SIGCHLD is not queued per
// child, so one signal can stand for any number of exits.
func (r *Reaper) reapAll() {
	for {
		st, owner, ok := r.reapOne()
		if !ok {
			return
		}
		if owner != nil {
			owner <- st // buffered for exactly this one status
			continue
		}
		r.log.Info("orphan reaped", "pid", st.Pid, "status", st.String())
	}
}

func (r *Reaper) reapOne() (Status, chan Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD || (err == nil && pid <= 0):
			return Status{}, nil, false
		case err != nil:
			r.log.Error("wait for children", "error", err)
			return Status{}, nil, false
		}
		owner := r.procs[pid]
		delete(r.procs, pid)
		return Status{Pid: pid, WaitStatus: ws}, owner, true
	}
}

// Kill sends sig to pid, a process started by Spawn, unless it has already
// been reaped (ErrReaped). A zombie not yet reaped still holds its pid, so
// the signal can never reach a stranger that reused it.
func (r *Reaper) Kill(pid int, sig syscall.Signal) error {
	return r.kill(pid, pid, sig)
}

// KillGroup sends sig to the process group whose id is pid, the pid of a
// process started by Spawn as a group leader (Setsid or Setpgid), unless
// that leader has already been reaped (ErrReaped).
func (r *Reaper) KillGroup(pid int, sig syscall.Signal) error {
	return r.kill(pid, -pid, sig)
}

func (r *Reaper) kill(pid, target int, sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.procs[pid]; !ok {
		return ErrReaped
	}
	if err := unix.Kill(target, sig); err != nil {
		return fmt.Errorf("send %s to %d: %w", signals.Name(sig), target, err)
	}
	return nil
}
