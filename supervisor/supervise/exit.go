package supervise

import (
	"syscall"
	"time"

	"github.com/vigil-sh/vigil/supervisor/child"
	"github.com/vigil-sh/vigil/supervisor/reaper"
)

// Exit codes vigil itself chooses; every other code is the child's.
const (
	// CodeStartTimeout is vigil's exit code when its current child was
	// killed for not becoming ready within the start timeout, and was not
	// restarted (69 is EX_UNAVAILABLE from sysexits.h).
	CodeStartTimeout = 69
	// CodeDrainDeadline is vigil's exit code when a stop did not finish in
	// time: the drain deadline passed (or a second SIGINT cut it short) and
	// the child's process group was SIGKILLed. 124 is what timeout(1) uses.
	CodeDrainDeadline = 124
	// CodeNotExecutable is the exit code when the command exists but cannot
	// be executed, or the child cannot be started at all.
	CodeNotExecutable = 126
	// CodeNotFound is the exit code when the command does not exist.
	CodeNotFound = 127
)

// ExitCode maps how a child ended to vigil's exit code, per DESIGN.md:
// a failed exec gives 127/126; the SIGKILL vigil sent after the drain
// deadline gives CodeDrainDeadline; exit N gives N; a death by one of
// stopSigs (the signals vigil sent to stop it) gives 0; any other death by
// signal S gives 128+S.
func ExitCode(ex child.Exit, stopSigs map[syscall.Signal]bool) int {
	ws := ex.Status
	switch {
	case ex.StartErr != nil:
		return ex.StartErr.Code
	case ex.Killed:
		return CodeDrainDeadline
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled() && stopSigs[ws.Signal()]:
		return 0
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return CodeNotExecutable
}

// failed says whether the on-failure policy restarts after ex: a non-zero
// exit, or a death by a signal vigil did not send.
func failed(ex child.Exit, sent *sigSet) bool {
	ws := ex.Status
	if ws.Exited() {
		return ws.ExitStatus() != 0
	}
	return !(ws.Signaled() && sent.has(ws.Signal()))
}

// onCurrentExit decides what follows the end of the current child: a
// reload's new child takes over, vigil exits, or a restart after a
// backoff.
func (s *Supervisor) onCurrentExit(p *proc, ex child.Exit) {
	s.cur = nil
	code := ExitCode(ex, p.stopSigs)
	if p.timedOut {
		code = CodeStartTimeout
	}
	s.last = Result{Code: code, Reason: "child " + ex.String()}
	s.logExit(p, ex, code)
	switch {
	case s.reload != nil && s.reload.cand != nil && !s.stopping && !s.ended:
		s.takeOver()
	case ex.StartErr != nil, s.stopping, s.ended:
		s.finish(s.last)
	case !s.shouldRestart(ex, p):
		s.finish(s.last)
	default:
		s.up.status("restarting after: child " + ex.String())
		s.scheduleRestart(ex)
	}
}

// onOtherExit logs the end of a child that is not the current one: an old
// child that drained, or a discarded new one. It never decides vigil's
// outcome.
func (s *Supervisor) onOtherExit(p *proc, ex child.Exit) {
	kv := []any{"pid", ex.Pid, "role", p.role, "status", ex.String()}
	if !p.stopAt.IsZero() {
		kv = append(kv, "drained_in", time.Since(p.stopAt).Round(time.Millisecond))
	}
	switch {
	case p.role == roleOld && ex.Killed:
		s.log.Warn("old child killed after the drain deadline", kv...)
	case p.role == roleOld:
		s.log.Info("old child drained", kv...)
	default:
		s.log.Info("discarded child exited", kv...)
	}
}

func (s *Supervisor) logExit(p *proc, ex child.Exit, code int) {
	if ex.StartErr != nil {
		s.log.Error("cannot start command", "path", ex.StartErr.Path, "reason", ex.StartErr.Reason, "exit_code", code)
		return
	}
	s.log.Info("child exited", "pid", ex.Pid, "role", p.role, "status", reaper.Describe(ex.Status), "exit_code", code,
		"ran", ex.Ran.Round(time.Millisecond))
}

func (s *Supervisor) shouldRestart(ex child.Exit, p *proc) bool {
	switch s.cfg.Restart {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return failed(ex, &p.sent)
	}
	return false
}
