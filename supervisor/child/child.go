// Package child runs one supervised command: start it through vigil's
// re-exec, signal it, stop it with a drain deadline, and report how it ended.
// Several children can live at once (an old and a new one during a reload);
// each reports on the events channel its owner passed to Start, so one
// goroutine can own them all.
package child

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/reaper"
	"github.com/vigil-sh/vigil/supervisor/reexec"
)

// Spec describes the command to start.
type Spec struct {
	// Path is the executable, already resolved (exec.LookPath) so a missing
	// command is reported before anything is forked.
	Path string
	// Args is the full argument vector; Args[0] is the command's name.
	Args []string
	// Env is the complete environment. When it holds LISTEN_FDS the child
	// also gets LISTEN_PID set to its own pid.
	Env []string
	// Dir is the working directory; empty means vigil's.
	Dir string
	// Stdin, Stdout and Stderr become fds 0, 1 and 2; nil means /dev/null.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles become fds 3, 4, ... in order (listening sockets). Their
	// blocking mode is left as it is.
	ExtraFiles []*os.File
	// Group makes Signal and Stop signal the child's whole process group
	// instead of only the child.
	Group bool
}

// Kind says what happened to a child.
type Kind int

const (
	// Running means the command was exec'd: the child now runs its own code.
	Running Kind = iota + 1
	// Exited means the child has ended and been reaped; Event.Exit says how.
	// It is always the last event of a child.
	Exited
)

// Event is one thing that happened to a child, as sent on the events channel.
type Event struct {
	Child *Child
	Kind  Kind
	Exit  Exit // set for Exited
}

// Exit is how a child ended.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
	// StartErr is set when the command could not be exec'd (the process then
	// exited with StartErr.Code without running the command).
	StartErr *StartError
	// Stopped is true when Stop was called before the child ended.
	Stopped bool
	// Killed is true when the child died of the SIGKILL vigil sent it, after
	// the drain deadline or through Kill.
	Killed bool
	// Ran is the time from start to exit, for restart backoff.
	Ran time.Duration
}

// String describes the exit: "exit status 3", "killed by SIGTERM".
func (e Exit) String() string {
	if e.StartErr != nil {
		return e.StartErr.Error()
	}
	return reaper.Describe(e.Status)
}

// StartError is the failure to exec the command, reported by the re-exec.
type StartError struct {
	Path   string
	Code   int // 127 not found, 126 not executable
	Reason string
}

// Error describes the failure with the path and the reason.
func (e *StartError) Error() string {
	return fmt.Sprintf("exec %s: %s", e.Path, e.Reason)
}

// ExitCode is the exit code vigil uses for this failure.
func (e *StartError) ExitCode() int { return e.Code }

// Child is a started command. Its methods are safe for concurrent use.
type Child struct {
	pid     int
	group   bool
	path    string
	started time.Time
	reaper  *reaper.Reaper
	log     hclog.Logger
	events  chan<- Event
	reqs    chan request
	done    chan struct{}
	exit    Exit
}

type request struct {
	kill  bool
	sig   syscall.Signal
	drain time.Duration
}

// Start forks the command through the re-exec on r's thread and returns at
// once; the child reports Running when the command is exec'd and Exited when
// it has been reaped, on events (which may be nil: Done and Exit still work).
// The child runs in a new session, so it is the leader of its own process
// group: kill(-pid) reaches it and its descendants, and the terminal's
// signals (Ctrl-C) go to vigil, which forwards them once. Its parent-death
// signal is SIGKILL, so it does not outlive a vigil that is SIGKILLed.
func Start(r *reaper.Reaper, spec Spec, events chan<- Event, log hclog.Logger) (*Child, error) {
	if len(spec.Args) == 0 {
		return nil, fmt.Errorf("start %s: empty argument list", spec.Path)
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: status pipe: %w", spec.Path, err)
	}
	pid, exited, err := spawn(r, spec, statusW)
	statusW.Close()
	if err != nil {
		statusR.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	c := &Child{
		pid: pid, group: spec.Group, path: spec.Path, started: time.Now(),
		reaper: r, log: log, events: events,
		reqs: make(chan request), done: make(chan struct{}),
	}
	go c.watch(statusR, exited)
	return c, nil
}

// Pid is the child's pid (also its process group and session id).
func (c *Child) Pid() int { return c.pid }

// Group says whether Signal reaches the child's whole process group.
func (c *Child) Group() bool { return c.group }

// Done is closed when the child has ended; Exit is valid from then on.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exit is how the child ended. Call it only after Done is closed.
func (c *Child) Exit() Exit { return c.exit }

// Signal sends sig to the child, or to its process group when the Spec said
// Group. It returns reaper.ErrReaped once the child has been reaped. A
// signal sent before the child is Running reaches vigil's re-exec, where it
// takes its default action: the owner should hold signals until Running.
func (c *Child) Signal(sig syscall.Signal) error {
	if c.group {
		return c.reaper.KillGroup(c.pid, sig)
	}
	return c.reaper.Kill(c.pid, sig)
}

// Stop asks the child to end: it sends sig (now, or as soon as the command
// runs) and, if the child is still there after drain, SIGKILLs its whole
// process group. Calling Stop again sends sig again and keeps the first
// deadline. Stop does not wait; watch Done or the events channel.
func (c *Child) Stop(sig syscall.Signal, drain time.Duration) {
	c.request(request{sig: sig, drain: drain})
}

// Kill SIGKILLs the child's process group now, as if the drain deadline had
// passed.
func (c *Child) Kill() {
	c.request(request{kill: true})
}

func (c *Child) request(r request) {
	select {
	case c.reqs <- r:
	case <-c.done:
	}
}

// spawn starts the re-exec with fds 0, 1, 2, the extra files, and the status
// pipe last, so the re-exec can close everything above it.
func spawn(r *reaper.Reaper, spec Spec, statusW *os.File) (int, <-chan reaper.Status, error) {
	var closers []io.Closer
	defer func() {
		for _, cl := range closers {
			cl.Close()
		}
	}()
	std := []*os.File{spec.Stdin, spec.Stdout, spec.Stderr}
	for i, f := range std {
		if f == nil {
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return 0, nil, fmt.Errorf("open %s: %w", os.DevNull, err)
			}
			closers = append(closers, null)
			std[i] = null
		}
	}
	all := append(append(std, spec.ExtraFiles...), statusW)
	fds := make([]uintptr, len(all))
	for i, f := range all {
		fd, err := rawFd(f)
		if err != nil {
			return 0, nil, fmt.Errorf("fd %d: %w", i, err)
		}
		fds[i] = fd
	}
	attr := &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: fds,
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	}
	pid, exited, err := r.Spawn(reexec.Self, reexec.Argv(len(fds)-1, spec.Path, spec.Args), attr)
	// The descriptors must stay open until the fork has duplicated them.
	runtime.KeepAlive(all)
	return pid, exited, err
}

// rawFd returns f's descriptor without (*os.File).Fd's side effect of
// switching it to blocking mode, which would also switch every other holder
// of a shared listening socket.
func rawFd(f *os.File) (uintptr, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("raw descriptor of %s: %w", f.Name(), err)
	}
	var fd uintptr
	if err := sc.Control(func(d uintptr) { fd = d }); err != nil {
		return 0, fmt.Errorf("raw descriptor of %s: %w", f.Name(), err)
	}
	return fd, nil
}

func (c *Child) post(ev Event) {
	if c.events != nil {
		c.events <- ev
	}
}
