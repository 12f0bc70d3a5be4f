// Package supervise is vigil's state machine: it starts the child, waits
// for it to be ready, forwards signals to it, stops it with a drain
// deadline, restarts it by policy with backoff, reloads it without
// downtime (a new child on the same sockets, then the old one drains),
// tells systemd about all of it, cleans up what the children left behind,
// and says which exit code vigil ends with.
//
// One goroutine (the one that calls Run) owns all of that state. Signals,
// child events (running, exited), notify datagrams, timers, check results,
// watched-file changes and the context arrive to it as channel messages;
// nothing else touches the state, so there are no locks here. The one
// exception is on purpose: the Route published to the signal Source passes
// plain forwarded signals to the current child on the signal reader's
// goroutine (see route.go); it reads only what never changes about that
// child and marks the signal sent atomically.
package supervise

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/child"
	"github.com/vigil-sh/vigil/supervisor/reaper"
	"github.com/vigil-sh/vigil/supervisor/signals"
	"github.com/vigil-sh/vigil/supervisor/sockets"
	"github.com/vigil-sh/vigil/supervisor/watch"
)

// Config is what the supervisor needs; vigil's main package builds it from
// flags and the config file. A reload replaces it whole.
type Config struct {
	// Command is the child to run. Command.Path must already be resolved.
	// Command.Env is the child's environment without any LISTEN_* or
	// NOTIFY_SOCKET: the supervisor adds the child's own.
	Command child.Spec
	// DrainTimeout is how long a stopped child may take before its process
	// group is SIGKILLed.
	DrainTimeout time.Duration
	// StopSignal is what the child gets when vigil receives SIGTERM (or ctx
	// is cancelled), and what an old child gets after a reload. SIGINT is
	// passed on as SIGINT.
	StopSignal syscall.Signal
	// Restart says when a current child that exited is started again.
	Restart Policy
	// Backoff paces restarts.
	Backoff Backoff
	// RestartMax restarts within RestartWindow are allowed; one more and
	// vigil exits with the last outcome. 0 means no limit.
	RestartMax    int
	RestartWindow time.Duration
	// DescendantGrace is how long descendants left alive after the child
	// ended have between SIGTERM and SIGKILL.
	DescendantGrace time.Duration
	// Readiness says when a child counts as ready.
	Readiness Readiness
	// Reload says what a reload does.
	Reload Reload
	// Listen is the [[listen]] list. A reload that changes it binds the new
	// sockets for the next child and closes the ones no longer listed.
	// Ignored when vigil was socket-activated (Options.Activated).
	Listen []sockets.Spec
	// Watch are the files whose content change triggers a reload, vigil's
	// own config file included. A reload that changes it re-targets the
	// watcher.
	Watch []string
}

// Options are what the supervisor works with besides its Config.
type Options struct {
	// Listeners are the sockets bound for Config.Listen, or taken from
	// systemd; every child gets duplicates. The supervisor owns them.
	Listeners []*sockets.Listener
	// Activated says Listeners came from systemd: they are kept as they
	// are for vigil's whole life and Config.Listen is ignored.
	Activated bool
	// NotifyDir is where each child's notify socket is created; "" uses
	// the abstract socket namespace instead (no writable directory).
	NotifyDir string
	// Load re-reads vigil's configuration for a reload. Nil means there is
	// nothing to re-read: a reload keeps the Config it has.
	Load func() (Config, error)
	// Watcher reports changes of Config.Watch; nil means no file triggers a
	// reload.
	Watcher Watcher
}

// Watcher is the part of *watch.Watcher the supervisor uses.
type Watcher interface {
	Changes() <-chan watch.Change
	SetPaths(paths []string) error
}

// Signals is where the supervisor gets the signals vigil caught
// (*signals.Source): a channel, and a Route the supervisor keeps pointed at
// its current child so that plain forwarded signals skip the hop through
// this loop.
type Signals interface {
	C() <-chan syscall.Signal
	SetRoute(signals.Route)
}

// Result is how supervision ended: the exit code for vigil (before any
// user remap) and a short reason for the log.
type Result struct {
	Code   int
	Reason string
}

// Supervisor runs one supervised command. Create it with New and call Run
// once.
type Supervisor struct {
	cfg    Config
	opts   Options
	reaper *reaper.Reaper
	log    hclog.Logger
	up     *upstream

	events chan child.Event
	notes  chan note
	timers chan timerFired
	checks chan checkDone
	quit   chan struct{} // closed when Run returns

	listeners []*sockets.Listener
	procs     map[*child.Child]*proc // every child not yet reaped
	cur       *proc                  // the serving child; nil while waiting to restart
	queued    []syscall.Signal       // signals that arrived while no current child ran
	stopping  bool
	retry     <-chan time.Time
	restarts  restartLog
	delay     time.Duration // the last backoff delay; 0 before the first restart
	attempt   int           // restarts so far
	last      Result        // outcome of the last current child that ended

	reload   *reloadRun // the reload in progress, or nil
	pending  []string   // triggers that arrived during it
	reloads  int        // reloads begun
	failures int        // reloads that failed

	ended  bool // the outcome is decided; Run returns once no child is left
	result Result

	routed    *proc // the child the published Route sends to; nil: none
	routedHUP bool  // whether that Route leaves SIGHUP to the loop (reloads)
}

// New returns a supervisor that will start cfg.Command through r.
func New(cfg Config, opts Options, r *reaper.Reaper, log hclog.Logger) *Supervisor {
	return &Supervisor{
		cfg:       cfg,
		opts:      opts,
		reaper:    r,
		log:       log,
		up:        &upstream{log: log.Named("systemd")},
		events:    make(chan child.Event, 8),
		notes:     make(chan note, 16),
		timers:    make(chan timerFired, 4),
		checks:    make(chan checkDone, 1),
		quit:      make(chan struct{}),
		listeners: opts.Listeners,
		procs:     map[*child.Child]*proc{},
	}
}

// Run starts the child and supervises it until vigil should exit: the
// current child ended and is not restarted, or a stop finished, and every
// other child (an old one draining, a new one being discarded) has ended
// too. sigs carries the signals vigil caught (signals.Open); cancelling
// ctx is a stop request like SIGTERM. Before returning, Run signals and
// waits for any descendants the children left behind.
func (s *Supervisor) Run(ctx context.Context, sigs Signals) Result {
	defer close(s.quit)
	watchdog, stopWatchdog := s.watchdogTicker()
	defer stopWatchdog()
	s.startCurrent()
	ctxDone := ctx.Done()
	changes := s.changes()
	caught := sigs.C()
	for !s.ended || len(s.procs) > 0 {
		select {
		case sig := <-caught:
			s.onSignal(sig)
		case ev := <-s.events:
			s.onEvent(ev)
		case n := <-s.notes:
			s.onNote(n)
		case t := <-s.timers:
			s.onTimer(t)
		case c := <-s.checks:
			s.onCheck(c)
		case ch, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			s.onChange(ch)
		case <-watchdog:
			s.onWatchdog()
		case <-s.retry:
			s.retry = nil
			s.startCurrent()
		case <-ctxDone:
			ctxDone = nil
			s.onSignal(syscall.SIGTERM)
		}
		s.publishRoute(sigs)
	}
	sigs.SetRoute(nil)
	s.cleanup(caught)
	return s.result
}

func (s *Supervisor) changes() <-chan watch.Change {
	if s.opts.Watcher == nil {
		return nil
	}
	return s.opts.Watcher.Changes()
}

// startCurrent starts a new current child. A failure to fork is final: the
// same fork would fail again.
func (s *Supervisor) startCurrent() {
	p, err := s.spawn(s.cfg, s.listeners, roleCurrent)
	if err != nil {
		s.log.Error("cannot start child", "path", s.cfg.Command.Path, "error", err)
		s.finish(Result{Code: CodeNotExecutable, Reason: "cannot start child"})
		return
	}
	s.cur = p
	s.up.status(fmt.Sprintf("starting (pid %d)", p.c.Pid()))
}

func (s *Supervisor) onEvent(ev child.Event) {
	p, ok := s.procs[ev.Child]
	if !ok {
		s.log.Warn("event from an unknown child", "pid", ev.Child.Pid())
		return
	}
	switch ev.Kind {
	case child.Running:
		s.onRunning(p)
	case child.Exited:
		s.onExited(p, ev.Exit)
	}
}

func (s *Supervisor) onRunning(p *proc) {
	p.running = true
	switch p.role {
	case roleCurrent:
		s.log.Info("child started", "pid", p.c.Pid(), "path", p.path)
		s.flushQueued()
	case roleNew:
		s.log.Info("reload: new child running", "pid", p.c.Pid(), "path", p.path)
		s.candidateRunning(p)
	default:
		s.log.Debug("child running", "pid", p.c.Pid(), "role", p.role)
	}
	s.startedReadiness(p)
}

func (s *Supervisor) onExited(p *proc, ex child.Exit) {
	s.drop(p)
	switch {
	case p == s.cur:
		s.onCurrentExit(p, ex)
	case s.reload != nil && p == s.reload.cand:
		s.rollback(p, "exited before it was ready ("+ex.String()+")")
	default:
		s.onOtherExit(p, ex)
	}
}

// finish decides vigil's outcome. Children still alive (an old one
// draining) are stopped; Run returns once they are gone.
func (s *Supervisor) finish(res Result) {
	s.ended = true
	s.result = res
	s.retry = nil
	s.abortReload("vigil is exiting")
	s.up.stop(s.stopExtension())
	for _, p := range s.procs {
		if p.stopAt.IsZero() {
			s.stopProc(p, s.cfg.StopSignal, s.cfg.DrainTimeout)
		}
	}
}
