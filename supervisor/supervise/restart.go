package supervise

import (
	"fmt"
	"time"

	"github.com/vigil-sh/vigil/supervisor/child"
)

// Policy says when a child that exited is started again.
type Policy int

const (
	// RestartOnFailure restarts a child that exited non-zero or died of a
	// signal vigil did not send. It is the default.
	RestartOnFailure Policy = iota
	// RestartNo never restarts: vigil exits with the child.
	RestartNo
	// RestartAlways restarts a child however it ended, even with exit 0,
	// except during a stop.
	RestartAlways
)

// ParsePolicy reads "no", "on-failure" or "always".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "no":
		return RestartNo, nil
	case "on-failure":
		return RestartOnFailure, nil
	case "always":
		return RestartAlways, nil
	}
	return 0, fmt.Errorf("unknown restart policy %q (want no, on-failure or always)", s)
}

// String returns the policy as ParsePolicy reads it.
func (p Policy) String() string {
	switch p {
	case RestartNo:
		return "no"
	case RestartAlways:
		return "always"
	}
	return "on-failure"
}

// Backoff paces restarts: the first waits Initial, each next one twice the
// previous up to Max; a child that ran for at least Reset before it ended
// starts the sequence over.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Reset   time.Duration
}

// Next returns the delay before the next restart, given the previous delay
// (0 for none yet) and how long the child that just ended ran.
func (b Backoff) Next(prev, ran time.Duration) time.Duration {
	if prev == 0 || ran >= b.Reset {
		return b.Initial
	}
	return min(2*prev, b.Max)
}

// restartLog remembers when restarts happened, for the crash-loop limit.
type restartLog []time.Time

// allow reports whether one more restart at now stays within max restarts
// per window (max 0: unlimited), and records it if so.
func (l *restartLog) allow(now time.Time, max int, window time.Duration) bool {
	kept := (*l)[:0]
	for _, t := range *l {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	*l = kept
	if max > 0 && len(kept) >= max {
		return false
	}
	*l = append(*l, now)
	return true
}

func (s *Supervisor) scheduleRestart(ex child.Exit) {
	if !s.restarts.allow(time.Now(), s.cfg.RestartMax, s.cfg.RestartWindow) {
		s.log.Error("restart limit reached; exiting with the last outcome",
			"restarts", s.cfg.RestartMax, "window", s.cfg.RestartWindow, "exit_code", s.last.Code)
		s.finish(s.last)
		return
	}
	s.delay = s.cfg.Backoff.Next(s.delay, ex.Ran)
	s.attempt++
	s.log.Info("restart scheduled", "delay", s.delay, "attempt", s.attempt, "policy", s.cfg.Restart.String())
	s.retry = time.After(s.delay)
}
