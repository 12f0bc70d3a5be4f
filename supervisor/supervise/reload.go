package supervise

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-sh/vigil/supervisor/signals"
	"github.com/vigil-sh/vigil/supervisor/watch"
)

// Strategy says how a reload reaches the child.
type Strategy int

const (
	// StrategyRestart starts a new child on the same sockets, waits until
	// it is ready, then stops the old one with the drain deadline. It is
	// the default.
	StrategyRestart Strategy = iota
	// StrategySignal sends Reload.Signal to the child, which reloads in
	// place.
	StrategySignal
)

// ParseStrategy reads "restart" or "signal".
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "restart":
		return StrategyRestart, nil
	case "signal":
		return StrategySignal, nil
	}
	return 0, fmt.Errorf("unknown reload strategy %q (want restart or signal)", s)
}

// String returns the strategy as ParseStrategy reads it.
func (st Strategy) String() string {
	if st == StrategySignal {
		return "signal"
	}
	return "restart"
}

// Reload says what a reload does.
type Reload struct {
	// Enabled makes SIGHUP to vigil a reload; otherwise it is forwarded
	// like any other signal. Watched files trigger reloads either way.
	Enabled  bool
	Strategy Strategy
	// Signal is what the child gets with StrategySignal.
	Signal syscall.Signal
	// Check is run before every reload (argv); it must exit 0 within
	// CheckTimeout for the reload to go ahead. Empty means no check.
	Check        []string
	CheckTimeout time.Duration
}

// reloadRun is the reload in progress.
type reloadRun struct {
	id     int
	why    string
	began  time.Time
	cfg    Config             // the configuration being tried
	cancel context.CancelFunc // stops the running check; nil when none
	socks  socketChange
	cand   *proc // the new child (StrategyRestart), once started
	clock  reloadClock
	// next is the earliest file change among the triggers merged into the
	// reload after this one, for its timings.
	next *watch.Change
}

// reloadClock records when each step of a reload happened, for the timings
// in its summary line. A zero time is a step that did not happen.
type reloadClock struct {
	// event and compared come from the watched-file Change behind the
	// reload (zero for SIGHUP): its first inotify event, and when the
	// files were hashed once the debounce's quiet period ended.
	event, compared time.Time
	began           time.Time // the trigger reached the state machine
	loaded          time.Time // vigil's own configuration re-read
	checked         time.Time // the check's result arrived
	checkRan        time.Duration
	spawn, spawned  time.Time // the new child's fork began, ended
	exec            time.Time // its command was exec'd (past vigil's re-exec)
	ready           time.Time // it sent READY=1 (or counted as ready)
}

// fields lists the steps' durations for the log: each from the end of the
// step before it, so they add up to event_to_ready.
func (c *reloadClock) fields() []any {
	var kv []any
	span := func(key string, from, to time.Time) {
		if !from.IsZero() && !to.IsZero() {
			kv = append(kv, key, to.Sub(from).Round(10*time.Microsecond))
		}
	}
	span("quiet", c.event, c.compared)
	span("handoff", c.compared, c.began)
	span("load", c.began, c.loaded)
	span("check", c.loaded, c.checked)
	if c.checkRan > 0 {
		kv = append(kv, "check_ran", c.checkRan.Round(10*time.Microsecond))
	}
	span("spawn", c.checked, c.spawned)
	if c.checked.IsZero() {
		span("spawn", c.loaded, c.spawned)
	}
	span("reexec", c.spawned, c.exec)
	span("child_start", c.exec, c.ready)
	span("event_to_ready", c.event, c.ready)
	return kv
}

// onChange turns a watched-file Change into a reload trigger.
func (s *Supervisor) onChange(ch watch.Change) {
	s.log.Debug("watched files changed", "files", ch.Paths, "since_first_event", time.Since(ch.FirstEvent),
		"since_compared", time.Since(ch.Compared))
	s.triggerFor(fmt.Sprintf("changed %v", ch.Paths), &ch)
}

// trigger asks for a reload. One runs at a time: triggers that arrive
// during a reload are merged into one more reload after it.
func (s *Supervisor) trigger(why string) { s.triggerFor(why, nil) }

// triggerFor is trigger for a reload caused by ch (nil: not a file change).
func (s *Supervisor) triggerFor(why string, ch *watch.Change) {
	switch {
	case s.stopping || s.ended:
		s.log.Info("reload ignored: vigil is stopping", "trigger", why)
	case s.reload != nil:
		s.pending = append(s.pending, why)
		if r := s.reload; ch != nil && (r.next == nil || ch.FirstEvent.Before(r.next.FirstEvent)) {
			r.next = ch
		}
		s.log.Info("reload requested during a reload; it runs once this one is done",
			"trigger", why, "reload", s.reload.id)
	default:
		s.beginReload(why, ch)
	}
}

func (s *Supervisor) beginReload(why string, ch *watch.Change) {
	s.reloads++
	r := &reloadRun{id: s.reloads, why: why, began: time.Now(), cfg: s.cfg}
	r.clock.began = r.began
	if ch != nil {
		r.clock.event, r.clock.compared = ch.FirstEvent, ch.Compared
	}
	s.reload = r
	s.log.Info("reload triggered", "reload", r.id, "trigger", why)
	s.up.reloading()
	s.up.status("reloading: " + why)
	if s.opts.Load != nil {
		cfg, err := s.opts.Load()
		if err != nil {
			s.reloadFailed("vigil configuration invalid", "problems", err.Error())
			return
		}
		r.cfg = cfg
	}
	r.clock.loaded = time.Now()
	if len(r.cfg.Reload.Check) == 0 {
		s.log.Info("reload: no check configured", "reload", r.id)
		s.afterCheck()
		return
	}
	s.runCheck(r)
}

// afterCheck carries out a reload whose configuration passed its check.
func (s *Supervisor) afterCheck() {
	r := s.reload
	if err := s.reconcileSockets(r); err != nil {
		s.reloadFailed("cannot apply [[listen]]", "error", err.Error())
		return
	}
	switch {
	case s.cur == nil:
		s.commit(r)
		s.finishReload("no child is running; the next one starts with the new configuration")
	case r.cfg.Reload.Strategy == StrategySignal:
		s.commit(r)
		s.log.Info("reload: signalling the child", "reload", r.id, "pid", s.cur.c.Pid(),
			"signal", signals.Name(r.cfg.Reload.Signal))
		s.forward(r.cfg.Reload.Signal)
		s.finishReload("signal sent")
	default:
		s.startCandidate(r)
	}
}

// startCandidate starts the new child of a restart reload on the sockets
// the new configuration asks for.
func (s *Supervisor) startCandidate(r *reloadRun) {
	r.clock.spawn = time.Now()
	p, err := s.spawn(r.cfg, r.socks.next, roleNew)
	r.clock.spawned = time.Now()
	if err != nil {
		s.restoreSockets(r)
		s.reloadFailed("cannot start the new child", "error", err.Error())
		return
	}
	r.cand = p
	s.log.Info("reload: new child starting", "reload", r.id, "pid", p.c.Pid(), "old_pid", s.cur.c.Pid(),
		"readiness", p.readiness.Mode.String(), "start_timeout", p.readiness.StartTimeout)
	s.up.status(fmt.Sprintf("reloading: new child (pid %d) starting", p.c.Pid()))
}

// candidateRunning records when a reload's new child exec'd its command.
func (s *Supervisor) candidateRunning(p *proc) {
	if r := s.reload; r != nil && r.cand == p {
		r.clock.exec = time.Now()
	}
}

// promote makes a ready new child the current one and drains the old.
func (s *Supervisor) promote(p *proc, took time.Duration, how string) {
	r := s.reload
	r.clock.ready = time.Now()
	old, oldCfg := s.cur, s.cfg
	s.commit(r)
	r.cand = nil
	p.role = roleCurrent
	s.cur = p
	s.log.Info("reload: new child ready", "reload", r.id, "pid", p.c.Pid(), "ready_in", took, "via", how)
	if p.running {
		s.flushQueued()
	}
	s.up.status(serving(p))
	if old != nil {
		old.role = roleOld
		s.log.Info("reload: draining the old child", "reload", r.id, "pid", old.c.Pid(),
			"stop_signal", signals.Name(oldCfg.StopSignal), "drain_timeout", oldCfg.DrainTimeout)
		s.stopProc(old, oldCfg.StopSignal, oldCfg.DrainTimeout)
	}
	s.finishReload("new child serving")
}

// takeOver handles the current child exiting while a reload's new child
// starts: the new child becomes the current one (not yet ready), so the
// service carries on with the new configuration.
func (s *Supervisor) takeOver() {
	r := s.reload
	p := r.cand
	s.commit(r)
	r.cand = nil
	p.role = roleCurrent
	s.cur = p
	s.log.Warn("reload: the serving child exited; the new child takes over", "reload", r.id, "pid", p.c.Pid())
	s.finishReload("new child took over")
	if p.ready {
		s.up.status(serving(p))
	}
}

// rollback kills a reload's new child that failed and keeps the old one.
func (s *Supervisor) rollback(p *proc, reason string) {
	r := s.reload
	r.cand = nil
	p.role = roleDiscarded
	p.c.Kill()
	s.restoreSockets(r)
	s.reloadFailed("rollback: new child "+reason, "new_pid", p.c.Pid())
}

// reloadFailed ends the reload without changing anything.
func (s *Supervisor) reloadFailed(reason string, kv ...any) {
	s.failures++
	r := s.reload
	fields := append([]any{"reload", r.id, "reason", reason, "reload_failures", s.failures}, kv...)
	if s.cur != nil {
		fields = append(fields, "serving_pid", s.cur.c.Pid())
	}
	s.log.Error("reload failed; the running child and configuration are kept", fields...)
	s.up.status(fmt.Sprintf("reload failed (%d so far): %s; running the previous configuration", s.failures, reason))
	s.endReload()
}

// finishReload ends a reload that went through.
func (s *Supervisor) finishReload(how string) {
	r := s.reload
	kv := append([]any{"reload", r.id, "result", how, "took", time.Since(r.began).Round(time.Millisecond)}, r.clock.fields()...)
	s.log.Info("reload done", kv...)
	if s.cur != nil && s.cur.ready {
		s.up.status(serving(s.cur))
	}
	s.endReload()
}

// endReload clears the reload and starts the one that was asked for
// meanwhile, if any.
func (s *Supervisor) endReload() {
	r := s.reload
	if r.cancel != nil {
		r.cancel()
	}
	s.reload = nil
	s.up.reloaded()
	if len(s.pending) == 0 || s.stopping || s.ended {
		return
	}
	why := strings.Join(slices.Compact(slices.Sorted(slices.Values(s.pending))), "; ")
	s.pending = nil
	s.beginReload(why, r.next)
}

// abortReload gives up the reload in progress because vigil stops. Its new
// child, if any, is stopped with the others.
func (s *Supervisor) abortReload(why string) {
	r := s.reload
	if r == nil {
		return
	}
	if r.cancel != nil {
		r.cancel()
	}
	s.restoreSockets(r)
	s.log.Info("reload aborted", "reload", r.id, "reason", why)
	s.reload = nil
	s.pending = nil
}

// commit makes the reload's configuration the running one: sockets, the
// watch list, and everything the next child is started with.
func (s *Supervisor) commit(r *reloadRun) {
	old := s.cfg
	s.cfg = r.cfg
	s.applySockets(r)
	if s.opts.Watcher != nil && !slices.Equal(old.Watch, r.cfg.Watch) {
		if err := s.opts.Watcher.SetPaths(r.cfg.Watch); err != nil {
			s.log.Error("reload: cannot watch the new file list; the old one stays watched", "error", err)
		} else {
			s.log.Info("reload: watching", "files", r.cfg.Watch)
		}
	}
}
