package supervise

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/proctree"
	"github.com/vigil-sh/vigil/supervisor/signals"
)

// cleanupPoll is how often, while descendants are being stopped, vigil looks
// whether they are gone. It only runs during that short grace at exit.
const cleanupPoll = 20 * time.Millisecond

// cleanup runs once the child has ended for good. Anything still alive
// below vigil (a daemon that called setsid, a background job) gets SIGTERM
// and SIGCONT (a stopped process only sees TERM once continued), up to
// DescendantGrace to exit, then SIGKILL; a second SIGINT skips the grace.
// Descendants are found by walking /proc from vigil's pid, which works the
// same as PID 1 and as a subreaper and never touches unrelated processes.
// Finally every zombie is reaped, so none is left unaccounted for.
func (s *Supervisor) cleanup(sigs <-chan syscall.Signal) {
	defer s.reaper.Reap()
	pids := s.descendants()
	if len(pids) == 0 {
		return
	}
	s.log.Info("signalling descendants left behind", "count", len(pids), "signal", "SIGTERM", "grace", s.cfg.DescendantGrace)
	signalAll(pids, unix.SIGTERM)
	signalAll(pids, unix.SIGCONT)
	if s.awaitDescendants(sigs) {
		return
	}
	pids = s.descendants()
	s.log.Warn("descendants still alive after the grace; killing them", "count", len(pids))
	signalAll(pids, unix.SIGKILL)
	// SIGKILL is not refused; wait briefly so their zombies can be reaped.
	deadline := time.Now().Add(time.Second)
	for len(s.descendants()) > 0 && time.Now().Before(deadline) {
		time.Sleep(cleanupPoll)
	}
}

// awaitDescendants waits up to the grace for every descendant to exit and
// reports whether they did. SIGTERM is ignored meanwhile (already stopping);
// SIGINT ends the wait early.
func (s *Supervisor) awaitDescendants(sigs <-chan syscall.Signal) bool {
	grace := time.NewTimer(s.cfg.DescendantGrace)
	defer grace.Stop()
	poll := time.NewTicker(cleanupPoll)
	defer poll.Stop()
	for {
		select {
		case <-poll.C:
			if len(s.descendants()) == 0 {
				return true
			}
		case <-grace.C:
			return false
		case sig := <-sigs:
			if sig == syscall.SIGINT {
				s.log.Warn("SIGINT while waiting for descendants: killing them now")
				return false
			}
			s.log.Debug("signal ignored: no child left", "signal", signals.Name(sig))
		}
	}
}

func (s *Supervisor) descendants() []int {
	pids, err := proctree.Descendants(os.Getpid())
	if err != nil {
		s.log.Error("find descendants", "error", err)
	}
	return pids
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		// ESRCH: it exited meanwhile, which is what we want.
		_ = unix.Kill(pid, sig)
	}
}
