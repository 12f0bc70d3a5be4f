package supervise

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/vigil-sh/vigil/supervisor/child"
	"github.com/vigil-sh/vigil/supervisor/notify"
	"github.com/vigil-sh/vigil/supervisor/sockets"
)

// role is what a child is to the supervisor, for the log.
type role string

const (
	roleCurrent   role = "current"   // serving, or starting to
	roleNew       role = "new"       // a reload's candidate
	roleOld       role = "old"       // replaced by a reload, draining
	roleDiscarded role = "discarded" // a candidate that failed
)

// proc is one child as the supervisor sees it.
type proc struct {
	c         *child.Child
	path      string
	role      role
	readiness Readiness
	sock      *notify.Socket
	started   time.Time
	running   bool
	ready     bool
	reloading bool      // it said RELOADING=1 and not READY=1 since
	timedOut  bool      // killed for missing its start timeout
	stopAt    time.Time // when vigil asked it to stop; zero before
	status    string    // its last STATUS=
	// sent holds every signal vigil sent this child, forwarded or to stop
	// it; a death by one of them is not a crash.
	sent sigSet
	// stopSigs holds the signals sent to stop it; a death by one of them
	// during a stop is a clean stop.
	stopSigs map[syscall.Signal]bool
	// timers are its start timeout and readiness delay, stopped when it is
	// ready or gone.
	timers []*time.Timer
}

// spawn starts a child of cfg with duplicates of ls and its own notify
// socket, and registers it.
func (s *Supervisor) spawn(cfg Config, ls []*sockets.Listener, r role) (*proc, error) {
	sock, err := s.listenNotify()
	if err != nil {
		return nil, fmt.Errorf("start child: %w", err)
	}
	files, env, err := sockets.ChildFiles(ls)
	if err != nil {
		_ = sock.Close()
		return nil, fmt.Errorf("start child: %w", err)
	}
	spec := cfg.Command
	spec.Env = append(append(slices.Clip(spec.Env), env...), "NOTIFY_SOCKET="+sock.Path())
	spec.ExtraFiles = files
	c, err := child.Start(s.reaper, spec, s.events, s.log.Named("child"))
	for _, f := range files {
		_ = f.Close() // the child has its own copies
	}
	if err != nil {
		_ = sock.Close()
		return nil, err
	}
	p := &proc{
		c: c, path: spec.Path, role: r, readiness: cfg.Readiness, sock: sock, started: time.Now(),
		stopSigs: map[syscall.Signal]bool{},
	}
	s.procs[c] = p
	go s.relay(p)
	p.timers = append(p.timers, s.after(cfg.Readiness.StartTimeout, p, timerStart))
	s.log.Debug("child forked", "pid", c.Pid(), "role", r, "notify_socket", sock.Path(), "sockets", len(files))
	return p, nil
}

func (s *Supervisor) listenNotify() (*notify.Socket, error) {
	log := s.log.Named("notify")
	if s.opts.NotifyDir == "" {
		return notify.ListenAbstract(log)
	}
	return notify.Listen(s.opts.NotifyDir, log)
}

// drop forgets a child that has been reaped.
func (s *Supervisor) drop(p *proc) {
	delete(s.procs, p.c)
	for _, t := range p.timers {
		t.Stop()
	}
	if err := p.sock.Close(); err != nil {
		s.log.Warn("close notify socket", "pid", p.c.Pid(), "error", err)
	}
}

// alive reports whether p is a child not yet reaped.
func (s *Supervisor) alive(p *proc) bool {
	return s.procs[p.c] == p
}

// note is one notification from a child's socket.
type note struct {
	p *proc
	m notify.Message
}

// relay moves p's notifications to the state machine. It must read
// promptly: an unread socket fills and the child blocks in sendmsg.
func (s *Supervisor) relay(p *proc) {
	for m := range p.sock.Messages() {
		select {
		case s.notes <- note{p: p, m: m}:
		case <-s.quit:
			return
		}
	}
}

type timerKind int

const (
	timerStart timerKind = iota // the start timeout passed
	timerDelay                  // the readiness delay passed
)

type timerFired struct {
	p    *proc
	kind timerKind
}

// after delivers a timerFired for p to the state machine after d.
func (s *Supervisor) after(d time.Duration, p *proc, kind timerKind) *time.Timer {
	return time.AfterFunc(d, func() {
		select {
		case s.timers <- timerFired{p: p, kind: kind}:
		case <-s.quit:
		}
	})
}

func (s *Supervisor) onTimer(t timerFired) {
	if !s.alive(t.p) || t.p.ready {
		return
	}
	switch t.kind {
	case timerDelay:
		s.markReady(t.p, "started, after the delay")
	case timerStart:
		s.startTimedOut(t.p)
	}
}

// stopProc asks p to stop with sig within drain (its first deadline stands
// if it was already stopping).
func (s *Supervisor) stopProc(p *proc, sig syscall.Signal, drain time.Duration) {
	p.sent.add(sig)
	p.stopSigs[sig] = true
	if p.stopAt.IsZero() {
		p.stopAt = time.Now()
	}
	p.c.Stop(sig, drain)
}
