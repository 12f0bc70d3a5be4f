// Package reexec is the tiny re-exec of vigil through which every child
// starts: vigil forks /proc/self/exe with a marker argv[0], and that process,
// before doing anything else, prepares itself and execs the real command.
// The pid does not change across exec, so the command finds LISTEN_PID equal
// to its own pid (systemd's socket-activation contract), which vigil could not
// know before the fork.
//
// Before the exec it also gives the command a clean start whatever vigil
// inherited: every signal disposition back to default, an empty signal mask,
// and no file descriptor besides 0, 1, 2 and the ones handed over on purpose.
// Whether the exec worked is reported to vigil on a status pipe: EOF alone
// means the command is running; a line "CODE reason" means it is not, and the
// process exits with CODE (127 not found, 126 not executable).
package reexec

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Self is the executable a parent starts to re-enter vigil.
const Self = "/proc/self/exe"

// marker is argv[0] of the re-exec. Nobody runs vigil under this name by
// accident, and ps shows it for the few milliseconds before the exec.
const marker = "vigil:exec"

// Exit codes of a failed exec, as shells use them.
const (
	// CodeNotFound is the exit code when the command does not exist.
	CodeNotFound = 127
	// CodeNotExecutable is the exit code when the command exists but cannot
	// be executed (permission, not a program, a directory).
	CodeNotExecutable = 126
)

// Argv returns the argument vector that makes Main exec path with args
// (args[0] is the command's own argv[0]). statusFd is the descriptor number,
// in the child, of the write end of the status pipe; it must be the highest
// descriptor handed to the child, since every descriptor above it is closed
// on exec.
func Argv(statusFd int, path string, args []string) []string {
	return append([]string{marker, strconv.Itoa(statusFd), path}, args...)
}

// Main execs the command when this process was started through Argv, and
// otherwise returns at once. Call it first thing in main, and in TestMain of
// any test that starts children.
func Main() {
	if len(os.Args) < 4 || os.Args[0] != marker {
		return
	}
	os.Exit(run(os.Args[1], os.Args[2], os.Args[3:]))
}

func run(fdArg, path string, argv []string) int {
	// The signal mask is per thread and exec keeps the calling thread's.
	runtime.LockOSThread()
	fd, err := strconv.Atoi(fdArg)
	if err != nil || fd < 3 {
		fmt.Fprintf(os.Stderr, "vigil: re-exec: bad status fd %q\n", fdArg)
		return CodeNotExecutable
	}
	unix.CloseOnExec(fd)
	if err := closeOnExecFrom(fd + 1); err != nil {
		return report(fd, CodeNotExecutable, fmt.Errorf("close inherited descriptors: %w", err))
	}
	env := withListenPID(os.Environ(), os.Getpid())
	resetSignals()
	err = unix.Exec(path, argv, env)
	return report(fd, ExitCode(err), err)
}

// ExitCode maps an exec error to the exit code a shell would use: 127 when
// the file does not exist, 126 for anything else.
func ExitCode(err error) int {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, os.ErrNotExist) {
		return CodeNotFound
	}
	return CodeNotExecutable
}

func report(fd, code int, err error) int {
	msg := fmt.Sprintf("%d %v", code, err)
	if _, werr := unix.Write(fd, []byte(msg)); werr != nil {
		fmt.Fprintf(os.Stderr, "vigil: exec: %v\n", err)
	}
	return code
}

// ParseStatus reads what the re-exec wrote on the status pipe: nothing means
// the command is running (nil); otherwise the exit code and the reason.
func ParseStatus(b []byte) (code int, reason string, failed bool) {
	if len(b) == 0 {
		return 0, "", false
	}
	c, rest, _ := strings.Cut(string(b), " ")
	code, err := strconv.Atoi(c)
	if err != nil {
		return CodeNotExecutable, string(b), true
	}
	return code, rest, true
}

// withListenPID sets LISTEN_PID to pid when LISTEN_FDS is present, as the
// socket-activation contract requires; otherwise env is returned unchanged.
func withListenPID(env []string, pid int) []string {
	has := false
	out := env[:0:0]
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "LISTEN_FDS="):
			has = true
		case strings.HasPrefix(kv, "LISTEN_PID="):
			continue
		}
		out = append(out, kv)
	}
	if !has {
		return env
	}
	return append(out, "LISTEN_PID="+strconv.Itoa(pid))
}

// closeOnExecFrom marks every descriptor from first up close-on-exec, so the
// command gets none of the descriptors vigil itself inherited by accident.
func closeOnExecFrom(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc instead.
	ents, derr := os.ReadDir("/proc/self/fd")
	if derr != nil {
		return errors.Join(err, derr)
	}
	for _, e := range ents {
		if n, perr := strconv.Atoi(e.Name()); perr == nil && n >= first {
			unix.CloseOnExec(n)
		}
	}
	return nil
}

// sigactionT is the kernel's struct sigaction on linux/amd64 and
// linux/arm64 (handler, flags, restorer, mask).
type sigactionT struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// resetSignals sets every catchable signal back to its default action and
// empties this thread's signal mask. exec keeps ignored dispositions and the
// mask, and vigil may have inherited either (a child started through os/exec
// was seen to inherit vigil's blocked mask); the command must start clean.
func resetSignals() {
	var dfl sigactionT // SIG_DFL is 0
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		// Errors are for numbers the kernel reserves; nothing to reset there.
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
	var empty unix.Sigset_t
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &empty, nil)
}
