// Command siglatency measures how long a signal takes to reach a child that
// waits for it: sent straight to the child, through vigil, and through tini.
// The child is this program again ("siglatency child"): it acknowledges each
// SIGUSR1 or SIGPIPE with one byte on its stdout, a pipe back to the
// measuring process, so each sample is the time from kill(2) to reading that
// byte. Both are signals vigil reads from a signalfd and forwards at once
// (SIGPIPE since vigil drops its own EPIPE ones; until then it took vigil's
// os/signal path). The signals the Go runtime never lets a program block
// (HUP, INT, QUIT, ABRT, TERM, SYS) take that other path in vigil; this Go
// child could not wait for them in the kernel either, so they are not
// measured here.
//
//	go build -o /tmp/siglatency ./supervisor/internal/siglatency
//	/tmp/siglatency -vigil bin/vigil -tini /usr/bin/tini -n 5000
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "child" {
		child()
		return
	}
	vigil := flag.String("vigil", "bin/vigil", "vigil binary (empty: skip)")
	tini := flag.String("tini", "/usr/bin/tini", "tini binary (empty: skip)")
	n := flag.Int("n", 2000, "signals per setup and round")
	sigNames := flag.String("signals", "USR1,PIPE", "signals to measure, each in its own rows")
	rounds := flag.Int("rounds", 5, "rounds; the setups take turns so a noisy moment hits all of them")
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	type setup struct {
		name    string
		sig     syscall.Signal
		argv    []string
		samples []time.Duration
	}
	var setups []*setup
	for _, name := range strings.Split(*sigNames, ",") {
		sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.TrimSpace(name), "SIG"))
		if sig != unix.SIGUSR1 && sig != unix.SIGPIPE {
			fail(fmt.Errorf("-signals: %q: only USR1 and PIPE are measured", name))
		}
		setups = append(setups,
			&setup{name: "direct", sig: sig, argv: []string{self, "child"}},
			&setup{name: "vigil", sig: sig, argv: []string{*vigil, "--", self, "child"}},
			&setup{name: "tini", sig: sig, argv: []string{*tini, "-s", "--", self, "child"}})
	}
	for r := 0; r < *rounds; r++ {
		for _, s := range setups {
			if s.argv[0] == "" {
				continue
			}
			samples, err := measure(s.argv, s.sig, *n)
			if err != nil {
				fail(fmt.Errorf("%s: %w", s.name, err))
			}
			s.samples = append(s.samples, samples...)
		}
	}
	fmt.Printf("signal forwarding latency, kill(2) to the child's ack read, %d samples each (%d rounds)\n", *n**rounds, *rounds)
	fmt.Printf("%-8s %-8s %10s %10s %10s\n", "setup", "signal", "median", "p99", "max")
	for _, s := range setups {
		if len(s.samples) == 0 {
			continue
		}
		slices.Sort(s.samples)
		q := func(f float64) time.Duration { return s.samples[int(f*float64(len(s.samples)-1))] }
		fmt.Printf("%-8s %-8s %10s %10s %10s\n", s.name, unix.SignalName(s.sig), us(q(0.5)), us(q(0.99)), us(q(1)))
	}
}

func us(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d)/1e3) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "siglatency:", err)
	os.Exit(1)
}

// measure starts argv, waits for the child's ready byte, then signals its
// own child (the measured child, or the supervisor in front of it) n times
// after a warm-up. The pipe is read with a blocking read on a locked thread,
// so the Go scheduler is not part of what is measured.
func measure(argv []string, sig syscall.Signal, n int) ([]time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	defer unix.Close(p[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	// A file, not a Writer: exec would copy a pipe in this process, which
	// would compete with the measurement for the CPUs.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	cmd.Stderr = null
	w := os.NewFile(uintptr(p[1]), "ack")
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w.Close()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	buf := make([]byte, 1)
	if err := readByte(p[0], buf); err != nil {
		return nil, fmt.Errorf("child never ready: %w", err)
	}
	target := cmd.Process.Pid
	const warmup = 200
	samples := make([]time.Duration, 0, n)
	for i := 0; i < warmup+n; i++ {
		start := time.Now()
		if err := syscall.Kill(target, sig); err != nil {
			return nil, err
		}
		if err := readByte(p[0], buf); err != nil {
			return nil, fmt.Errorf("ack %d: %w", i, err)
		}
		if i >= warmup {
			samples = append(samples, time.Since(start))
		}
	}
	return samples, nil
}

func readByte(fd int, buf []byte) error {
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return io.EOF
		}
		return nil
	}
}

// child acknowledges each SIGUSR1 and SIGPIPE with a byte on stdout; SIGTERM
// ends it (default action). It waits in the kernel: it first re-execs itself
// with both blocked (every thread of the new image then keeps it blocked) and
// reads the signal from a signalfd, so no Go signal handler or goroutine
// hand-off is part of the measurement. The pid does not change.
func child() {
	usr1 := unix.Sigset_t{}
	usr1.Val[0] = 1<<(unix.SIGUSR1-1) | 1<<(unix.SIGPIPE-1)
	if os.Getenv("SIGLATENCY_BLOCKED") == "" {
		runtime.LockOSThread()
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &usr1, nil); err != nil {
			fail(err)
		}
		self, _ := os.Executable()
		fail(syscall.Exec(self, os.Args, append(os.Environ(), "SIGLATENCY_BLOCKED=1")))
	}
	fd, err := unix.Signalfd(-1, &usr1, unix.SFD_CLOEXEC)
	if err != nil {
		fail(err)
	}
	info := make([]byte, 128) // struct signalfd_siginfo
	unix.Write(1, []byte{'r'})
	for {
		if _, err := unix.Read(fd, info); err != nil && err != unix.EINTR {
			fail(err)
		}
		unix.Write(1, []byte{'a'})
	}
}
