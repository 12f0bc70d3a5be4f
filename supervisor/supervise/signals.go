package supervise

import (
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/signals"
)

// maxQueued bounds the signals held for a child that is not running yet.
const maxQueued = 64

// onSignal handles one signal vigil caught. SIGTERM and SIGINT are stop
// requests; SIGHUP is a reload request when reloads are enabled; every
// other signal is forwarded to the current child.
//
//   - SIGTERM: send the stop signal to every child and start the drain
//     deadline. A second SIGTERM sends the stop signal again and keeps the
//     deadline.
//   - SIGINT: forward SIGINT to every child and start the drain deadline.
//     A second SIGINT (Ctrl-C twice) stops waiting: SIGKILL to the
//     children's groups now.
func (s *Supervisor) onSignal(sig syscall.Signal) {
	switch {
	case sig == syscall.SIGTERM:
		s.stop(s.cfg.StopSignal, "SIGTERM")
	case sig == syscall.SIGINT && s.stopping:
		s.killNow()
	case sig == syscall.SIGINT:
		s.stop(syscall.SIGINT, "SIGINT")
	case sig == syscall.SIGHUP && s.cfg.Reload.Enabled:
		s.trigger("SIGHUP")
	default:
		s.forward(sig)
	}
}

// forward passes sig on to the current child, or holds it until a current
// child runs. Old and new children of a reload get none: the old one is on
// its way out, the new one is not serving yet.
func (s *Supervisor) forward(sig syscall.Signal) {
	if s.cur == nil || !s.cur.running {
		if len(s.queued) >= maxQueued {
			s.log.Warn("signal dropped: too many queued before the child runs", "signal", signals.Name(sig))
			return
		}
		s.queued = append(s.queued, sig)
		s.log.Debug("signal queued until the child runs", "signal", signals.Name(sig))
		return
	}
	s.send(s.cur, sig)
}

func (s *Supervisor) flushQueued() {
	q := s.queued
	s.queued = nil
	for _, sig := range q {
		s.send(s.cur, sig)
	}
}

func (s *Supervisor) send(p *proc, sig syscall.Signal) { send(s.log, p, sig) }

// send forwards sig to p and logs it. It is safe from any goroutine (the
// signal Route calls it too): it marks sig sent before sending it, since
// the child may die of it before anyone hears of the signal, and that death
// is not a crash.
func send(log hclog.Logger, p *proc, sig syscall.Signal) {
	p.sent.add(sig)
	if err := p.c.Signal(sig); err != nil {
		log.Debug("signal not forwarded", "signal", signals.Name(sig), "pid", p.c.Pid(), "error", err)
		return
	}
	// A terminal being resized sends a burst of these.
	level := log.Info
	if sig == syscall.SIGWINCH {
		level = log.Debug
	}
	level("signal forwarded", "signal", signals.Name(sig), "pid", p.c.Pid(), "group", p.c.Group())
}

// stop starts (or repeats) a stop with sig: every child gets it (the
// current one, a reload's new one, old ones still draining), and vigil
// exits once all are gone, with the current child's outcome. With no
// current child (waiting to restart) the outcome is the last child's.
func (s *Supervisor) stop(sig syscall.Signal, why string) {
	if s.stopping || s.ended {
		s.stopping = true
		s.log.Info("stop requested again; sending the stop signal again, deadline unchanged",
			"received", why, "stop_signal", signals.Name(sig))
		for _, p := range s.procs {
			s.stopProc(p, sig, s.cfg.DrainTimeout)
		}
		return
	}
	s.stopping = true
	s.abortReload("stop requested")
	if s.cur == nil {
		s.log.Info("stop requested while waiting to restart; exiting", "signal", why, "draining", len(s.procs))
		s.finish(s.last)
		return
	}
	s.log.Info("stopping child", "received", why, "stop_signal", signals.Name(sig),
		"pid", s.cur.c.Pid(), "drain_timeout", s.cfg.DrainTimeout, "other_children", len(s.procs)-1)
	s.up.stop(s.stopExtension())
	for _, p := range s.procs {
		if p.stopAt.IsZero() { // an old child already drains with its own deadline
			s.stopProc(p, sig, s.cfg.DrainTimeout)
		}
	}
}

// killNow ends a stop without waiting for the deadline.
func (s *Supervisor) killNow() {
	if len(s.procs) == 0 {
		return
	}
	s.log.Warn("second SIGINT: killing the children's process groups now", "count", len(s.procs))
	for _, p := range s.procs {
		p.c.Kill()
	}
}
