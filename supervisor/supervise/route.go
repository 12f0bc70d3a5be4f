package supervise

import (
	"sync/atomic"
	"syscall"

	"github.com/vigil-sh/vigil/supervisor/signals"
)

// onCaught handles a signal from the Source: one the Route already sent is
// only logged; any other is the loop's to act on.
func (s *Supervisor) onCaught(c signals.Caught) {
	if c.Routed {
		s.logRouted(c)
		return
	}
	s.onSignal(c.Sig)
}

// publishRoute keeps the Source's Route pointed at the current child while
// it runs, so that a plain forwarded signal goes to it the moment vigil reads
// it, without waiting for this loop. What the loop would do with such a
// signal is exactly that (onSignal's default case, forward, then send); the
// signals the loop acts on itself (SIGTERM, SIGINT, and SIGHUP when it
// triggers reloads) are left to it, as is everything while no current child
// runs (they are queued). Called after every event, it publishes only when
// the target changes.
func (s *Supervisor) publishRoute(sigs Signals) {
	var p *proc
	if s.cur != nil && s.cur.running {
		p = s.cur
	}
	hup := s.cfg.Reload.Enabled
	if p == s.routed && hup == s.routedHUP {
		return
	}
	s.routed, s.routedHUP = p, hup
	if p == nil {
		sigs.SetRoute(nil)
		return
	}
	c := p.c // never changes; the child's Signal is safe from any goroutine
	sigs.SetRoute(func(sig syscall.Signal) (bool, int, error) {
		if sig == syscall.SIGTERM || sig == syscall.SIGINT || (sig == syscall.SIGHUP && hup) {
			return false, 0, nil
		}
		// Marked before it is sent: the child may die of it before this
		// loop hears about the signal, and that death is not a crash.
		p.sent.add(sig)
		return true, c.Pid(), c.Signal(sig)
	})
}

// logRouted logs a signal the Route sent, as send does for the loop's own.
func (s *Supervisor) logRouted(c signals.Caught) {
	if c.Err != nil {
		s.log.Debug("signal not forwarded", "signal", signals.Name(c.Sig), "pid", c.Pid, "error", c.Err)
		return
	}
	s.logForwarded(c.Sig, c.Pid)
}

// sigSet is a set of signals 1 to 64, safe for concurrent use: the Route
// adds to a child's while the loop reads it.
type sigSet struct{ bits atomic.Uint64 }

func (m *sigSet) add(sig syscall.Signal) {
	if sig >= 1 && sig <= 64 {
		m.bits.Or(1 << (uint(sig) - 1))
	}
}

func (m *sigSet) has(sig syscall.Signal) bool {
	return sig >= 1 && sig <= 64 && m.bits.Load()&(1<<(uint(sig)-1)) != 0
}
