// Package signals names the signals vigil handles: the ones it forwards to its
// child, and how a signal is written in flags and config files.
package signals

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// rtMin is the first real-time signal a program may use: the kernel's
// SIGRTMIN is 32, but C libraries keep 32 and 33 for themselves and the Go
// runtime never lets them be caught, so 34 is SIGRTMIN for everyone else.
const (
	rtMin = 34
	rtMax = 64
)

// Forwarded is every signal vigil catches and passes on to its child, in
// signal-number order. It is every catchable signal except three: SIGCHLD
// (vigil's own reaper consumes it), SIGURG (the Go runtime preempts goroutines
// with it) and SIGPROF (the Go runtime's profiler). SIGINT and SIGTERM are in
// the list because they reach the child too, but they also start a stop.
var Forwarded = forwarded()

func forwarded() []os.Signal {
	list := []syscall.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP,
		unix.SIGABRT, unix.SIGBUS, unix.SIGFPE, unix.SIGUSR1, unix.SIGSEGV,
		unix.SIGUSR2, unix.SIGPIPE, unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT,
		unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGXCPU,
		unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO, unix.SIGPWR,
		unix.SIGSYS,
	}
	for s := rtMin; s <= rtMax; s++ {
		list = append(list, syscall.Signal(s))
	}
	out := make([]os.Signal, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

// Name returns the conventional name of sig: "SIGTERM", "SIGRTMIN+3".
func Name(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	if sig >= rtMin && sig <= rtMax {
		return fmt.Sprintf("SIGRTMIN+%d", sig-rtMin)
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// Parse reads a signal written as a name with or without the SIG prefix, in
// any case ("TERM", "sigterm", "SIGTERM"), as a number ("15"), or as a
// real-time signal ("RTMIN+3", "SIGRTMAX-1"). It rejects 0, unknown names and
// numbers outside 1..64.
func Parse(s string) (syscall.Signal, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(name); err == nil {
		if n < 1 || n > rtMax {
			return 0, fmt.Errorf("signal %q: number out of range 1..%d", s, rtMax)
		}
		return syscall.Signal(n), nil
	}
	name = strings.TrimPrefix(name, "SIG")
	if sig, ok := parseRealtime(name); ok {
		return sig, nil
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (write it as TERM, SIGTERM or 15)", s)
}

func parseRealtime(name string) (syscall.Signal, bool) {
	base, rest := 0, ""
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, rest = rtMin, name[len("RTMIN"):]
	case strings.HasPrefix(name, "RTMAX"):
		base, rest = rtMax, name[len("RTMAX"):]
	default:
		return 0, false
	}
	off := 0
	if rest != "" {
		n, err := strconv.Atoi(rest)
		if err != nil {
			return 0, false
		}
		off = n
	}
	sig := base + off
	if sig < rtMin || sig > rtMax {
		return 0, false
	}
	return syscall.Signal(sig), true
}
