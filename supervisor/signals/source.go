package signals

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How a signal reaches vigil, and why there are two ways.
//
// The Go runtime catches a signal in a handler on whatever thread the kernel
// picked, wakes its signal goroutine on another thread, which then wakes the
// receiver of the os/signal channel: two thread hand-offs, which on a VM cost
// about 150µs between a kill(2) and the forwarded kill(2) (see
// supervisor/internal/siglatency). A signal that every thread of the process
// blocks instead stays pending in the kernel, where a signalfd reads it: the
// netpoller's thread wakes and the goroutine reading the signalfd forwards the
// signal itself (a Route), without another hand-off (about 30µs here).
//
// Every thread must block such a signal, or the kernel delivers it to one that
// does not. Go threads take their mask from the one the process started with,
// so vigil re-executes itself once with these signals blocked (Prepare). The
// runtime unblocks some signals on every thread whatever the start mask
// (those that stop or crash a Go program: HUP, INT, QUIT, ABRT, TERM, SYS and
// the synchronous ones); those arrive through os/signal.
//
// SIGPIPE is read from the signalfd too, which takes two precautions. A write
// of vigil's to a closed pipe or socket makes the kernel send SIGPIPE to the
// writing thread; blocked, it stays pending there, and should the signalfd
// be read on that very thread, selfSent drops it (the kernel names vigil as
// its sender). And for EPIPE on stdout or stderr the runtime itself kills
// the program with SIGPIPE unless os/signal catches or ignores it; catching
// it would unblock it on os/signal's thread, so Open ignores it instead (an
// ignored signal that every thread blocks is still queued for the
// signalfd; the child's dispositions are reset before its exec anyway).

// fdSignal reports whether vigil reads sig from its signalfd rather than
// through os/signal (see above).
func fdSignal(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP,
		unix.SIGABRT, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV,
		unix.SIGTERM, unix.SIGSTKFLT, unix.SIGSYS:
		return false
	}
	return sig >= 1 && sig <= rtMax && sig != unix.SIGKILL && sig != unix.SIGSTOP &&
		sig != unix.SIGCHLD && sig != unix.SIGURG && sig != unix.SIGPROF && sig != rtMin
}

// fdSet is the signals Prepare blocks: every Forwarded one read from the
// signalfd.
func fdSet() unix.Sigset_t {
	var set unix.Sigset_t
	for _, s := range Forwarded {
		if sig := s.(syscall.Signal); fdSignal(sig) {
			addSig(&set, sig)
		}
	}
	return set
}

func addSig(set *unix.Sigset_t, sig syscall.Signal) {
	set.Val[(sig-1)/64] |= 1 << (uint(sig-1) % 64)
}

func hasSig(set *unix.Sigset_t, sig syscall.Signal) bool {
	return set.Val[(sig-1)/64]&(1<<(uint(sig-1)%64)) != 0
}

// preparedEnv marks the re-executed vigil, so that it never re-executes
// again; Prepare removes it from the environment at once.
const preparedEnv = "VIGIL_SIGNALS_PREPARED"

// Prepare makes every thread of vigil block the signals it reads from a
// signalfd: unless they are blocked already, it re-executes vigil (same
// pid, arguments and environment) with them blocked, so that the new image's
// threads all start with them blocked. Call it first thing in main, after
// reexec.Main. A signal sent meanwhile stays pending and is read once the
// Source is open. If the re-exec fails, vigil goes on, and those signals
// arrive through os/signal like the rest (with a warning on stderr).
func Prepare() {
	if name := os.Getenv(preparedEnv); name != "" {
		os.Unsetenv(preparedEnv)
		// exec named the process after the file it ran, "exe"; give it its
		// name back, so that pgrep, pkill and ps -C still find vigil.
		// /proc/self/comm is the process's (its main thread's) name.
		if name != "1" {
			_ = os.WriteFile("/proc/self/comm", []byte(name), 0)
		}
		return
	}
	set := fdSet()
	// The mask is per thread, and exec keeps the calling thread's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		fmt.Fprintf(os.Stderr, "vigil: warning: block signals: %v; forwarding them through the Go runtime\n", err)
		return
	}
	if allIn(&old, &set) {
		return // started with them blocked (a parent did it): nothing to do
	}
	name := "1" // the marker's value: the name to restore, or 1 for none
	if b, err := os.ReadFile("/proc/self/comm"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		name = string(bytes.TrimSpace(b))
	}
	err := unix.Exec("/proc/self/exe", os.Args, append(os.Environ(), preparedEnv+"="+name))
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	fmt.Fprintf(os.Stderr, "vigil: warning: re-exec with signals blocked: %v; forwarding them through the Go runtime\n", err)
}

func allIn(mask, set *unix.Sigset_t) bool {
	for i := range set.Val {
		if mask.Val[i]&set.Val[i] != set.Val[i] {
			return false
		}
	}
	return true
}

// A Route passes a signal on the moment it is read, on the reading
// goroutine, and reports whether it took it; a signal it does not take goes
// to the Source's channel. It must be safe to call from any goroutine, and
// it does its own logging: nothing else hears of a signal it took.
type Route func(sig syscall.Signal) (taken bool)

// Source delivers the signals vigil catches, every Forwarded one that no
// Route takes, on one channel, in the order they were read.
type Source struct {
	c     chan syscall.Signal
	route atomic.Pointer[Route]
	// Fast lists the signals read from the signalfd; the others arrive
	// through os/signal.
	Fast []syscall.Signal
}

// Open starts catching every Forwarded signal: from a signalfd those that
// Prepare blocked, through os/signal the others. Call it right after
// Prepare. A signal caught before its receiver reads the channel waits
// there, or pending in the kernel, never lost.
func Open() *Source {
	s := &Source{c: make(chan syscall.Signal, 128)}
	var mask, fast unix.Sigset_t
	// SIG_BLOCK of an empty set reads the mask. Every thread but os/signal's
	// own has the same for these signals (they all start from the mask the
	// process started with), so the thread this runs on does not matter.
	_ = unix.PthreadSigmask(unix.SIG_BLOCK, &unix.Sigset_t{}, &mask)
	var slow []os.Signal
	for _, o := range Forwarded {
		sig := o.(syscall.Signal)
		if fdSignal(sig) && hasSig(&mask, sig) {
			addSig(&fast, sig)
			s.Fast = append(s.Fast, sig)
		} else {
			slow = append(slow, sig)
		}
	}
	if len(s.Fast) > 0 {
		fd, err := unix.Signalfd(-1, &fast, unix.SFD_NONBLOCK|unix.SFD_CLOEXEC)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vigil: warning: signalfd: %v; forwarding every signal through the Go runtime\n", err)
			// os/signal's thread unblocks what it is asked to catch.
			for _, sig := range s.Fast {
				slow = append(slow, sig)
			}
			s.Fast = nil
		} else {
			if hasSig(&fast, unix.SIGPIPE) {
				signal.Ignore(unix.SIGPIPE) // see the top of this file
			}
			// Non-blocking, so reads wait in the netpoller.
			go s.readFd(os.NewFile(uintptr(fd), "signalfd"), os.Getpid())
		}
	}
	// The runtime drops a signal when the channel is full; 128 slots hold
	// far more than a burst of distinct signals can produce.
	c := make(chan os.Signal, 128)
	if len(slow) == 0 { // Notify with no signals would catch them all
		return s
	}
	signal.Notify(c, slow...)
	go func() {
		for o := range c {
			s.deliver(o.(syscall.Signal))
		}
	}()
	return s
}

// C is the channel caught signals arrive on.
func (s *Source) C() <-chan syscall.Signal { return s.c }

// SetRoute makes r take signals as they are read, from now on; nil leaves
// every signal to the channel's receiver.
func (s *Source) SetRoute(r Route) {
	if r == nil {
		s.route.Store(nil)
		return
	}
	s.route.Store(&r)
}

func (s *Source) deliver(sig syscall.Signal) {
	if r := s.route.Load(); r != nil && (*r)(sig) {
		return
	}
	s.c <- sig
}

// readFd reads signals from the signalfd f until it fails. pid is vigil's.
func (s *Source) readFd(f *os.File, pid int) {
	const size = int(unsafe.Sizeof(unix.SignalfdSiginfo{}))
	buf := make([]byte, 16*size)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				fmt.Fprintf(os.Stderr, "vigil: warning: read signalfd: %v; no more signals from it\n", err)
			}
			return
		}
		for off := 0; off+size <= n; off += size {
			info := (*unix.SignalfdSiginfo)(unsafe.Pointer(&buf[off]))
			if selfSent(info, pid) {
				continue
			}
			s.deliver(syscall.Signal(info.Signo))
		}
	}
}

// selfSent reports whether info is the SIGPIPE the kernel sends a thread of
// vigil's own that wrote to a closed pipe or socket (sender: vigil itself,
// code SI_USER): an error of vigil's to drop, not a signal to forward.
func selfSent(info *unix.SignalfdSiginfo, pid int) bool {
	return info.Signo == uint32(unix.SIGPIPE) && info.Code == 0 && int(info.Pid) == pid
}
