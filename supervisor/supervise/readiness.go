package supervise

import (
	"fmt"
	"time"
)

// ReadyMode says how vigil learns that a child is ready to serve.
type ReadyMode int

const (
	// ReadyStarted: the child is ready once its command runs (after
	// Readiness.Delay), for programs that never notify. It is the default.
	ReadyStarted ReadyMode = iota
	// ReadyNotify: the child is ready when it (or any of its descendants)
	// sends READY=1 to its NOTIFY_SOCKET.
	ReadyNotify
)

// ParseReadyMode reads "started" or "notify".
func ParseReadyMode(s string) (ReadyMode, error) {
	switch s {
	case "started":
		return ReadyStarted, nil
	case "notify":
		return ReadyNotify, nil
	}
	return 0, fmt.Errorf("unknown readiness mode %q (want notify or started)", s)
}

// String returns the mode as ParseReadyMode reads it.
func (m ReadyMode) String() string {
	if m == ReadyNotify {
		return "notify"
	}
	return "started"
}

// Readiness says when a child counts as ready.
type Readiness struct {
	Mode ReadyMode
	// Delay is how long after its command runs a child in mode started
	// becomes ready.
	Delay time.Duration
	// StartTimeout is how long a child may take to become ready. One that
	// misses it is killed: a current child's start failed (CodeStartTimeout,
	// restart policy applies), a reload's new child is rolled back.
	StartTimeout time.Duration
}

// startedReadiness makes a child in mode started ready once it runs, or
// after the delay.
func (s *Supervisor) startedReadiness(p *proc) {
	if p.readiness.Mode != ReadyStarted || p.ready {
		return
	}
	if p.readiness.Delay <= 0 {
		s.markReady(p, "started")
		return
	}
	p.timers = append(p.timers, s.after(p.readiness.Delay, p, timerDelay))
}

// onNote handles one notification. Datagrams from any descendant of a child
// count as the child's (systemd's NotifyAccess=all): the socket is the
// child's own.
func (s *Supervisor) onNote(n note) {
	p, m := n.p, n.m
	pid := p.c.Pid()
	s.log.Debug("notification", "pid", pid, "sender", m.PID, "vars", m.Vars)
	if m.Status != "" {
		p.status = m.Status
		s.log.Info("child status", "pid", pid, "role", p.role, "status", m.Status)
		if p == s.cur {
			s.up.status(m.Status)
		}
	}
	if m.Reloading {
		p.reloading = true
		s.log.Info("child reloading", "pid", pid, "role", p.role)
	}
	if m.Stopping {
		s.log.Info("child stopping", "pid", pid, "role", p.role)
	}
	if m.MainPID != 0 {
		s.log.Debug("MAINPID ignored: vigil watches the child it started", "pid", pid, "mainpid", m.MainPID)
	}
	if !m.Ready {
		return
	}
	if p.reloading {
		p.reloading = false
		s.log.Info("child finished reloading", "pid", pid, "role", p.role)
	}
	if !p.ready && s.alive(p) {
		s.markReady(p, "READY=1")
	}
}

// markReady records that p can serve and acts on it: a current child
// starts serving; a reload's new child takes over.
func (s *Supervisor) markReady(p *proc, how string) {
	p.ready = true
	for _, t := range p.timers {
		t.Stop()
	}
	took := time.Since(p.started).Round(time.Millisecond)
	switch {
	case s.stopping || s.ended:
		s.log.Debug("child ready while stopping", "pid", p.c.Pid(), "role", p.role)
	case p == s.cur:
		s.log.Info("child ready", "pid", p.c.Pid(), "ready_in", took, "via", how)
		s.up.ready()
		s.up.status(serving(p))
	case s.reload != nil && p == s.reload.cand:
		s.promote(p, took, how)
	}
}

// startTimedOut kills a child that missed its start timeout.
func (s *Supervisor) startTimedOut(p *proc) {
	if s.stopping || s.ended {
		return // it is being stopped anyway
	}
	s.log.Error("child not ready within start_timeout; killing it", "pid", p.c.Pid(), "role", p.role,
		"start_timeout", p.readiness.StartTimeout, "readiness", p.readiness.Mode.String())
	p.timedOut = true
	p.c.Kill()
	if s.reload != nil && p == s.reload.cand {
		s.rollback(p, fmt.Sprintf("was not ready within start_timeout (%s)", p.readiness.StartTimeout))
	}
}

func serving(p *proc) string {
	if p.status != "" {
		return p.status
	}
	return fmt.Sprintf("serving (pid %d)", p.c.Pid())
}
