package supervise

import (
	"sync/atomic"
	"syscall"
)

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
	// Only what is safe from any goroutine: p.c never changes and its
	// methods are, as is the logger; p.sent is atomic.
	log := s.log
	sigs.SetRoute(func(sig syscall.Signal) bool {
		if sig == syscall.SIGTERM || sig == syscall.SIGINT || (sig == syscall.SIGHUP && hup) {
			return false
		}
		send(log, p, sig)
		return true
	})
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
