package supervise

import (
	"context"
	"strings"
	"time"

	"github.com/vigil-sh/vigil/supervisor/check"
)

// checkDone is the result of a reload's check.
type checkDone struct {
	id  int // the reload it belongs to
	res check.Result
}

// runCheck runs the reload's check command in the background; its result
// arrives on s.checks. The check starts through the reaper like every
// child, with the new child's environment but no sockets.
func (s *Supervisor) runCheck(r *reloadRun) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	cmd := check.Command{Args: r.cfg.Reload.Check, Env: r.cfg.Command.Env, Dir: r.cfg.Command.Dir}
	timeout := r.cfg.Reload.CheckTimeout
	s.log.Info("reload: running check", "reload", r.id, "command", strings.Join(cmd.Args, " "), "timeout", timeout)
	s.up.status("reloading: checking the new configuration")
	id, log := r.id, s.log.Named("check")
	go func() {
		res := check.Run(ctx, s.reaper, cmd, timeout, log)
		select {
		case s.checks <- checkDone{id: id, res: res}:
		case <-s.quit:
		}
	}()
}

func (s *Supervisor) onCheck(d checkDone) {
	r := s.reload
	if r == nil || d.id != r.id {
		return // that reload was aborted
	}
	r.cancel()
	r.cancel = nil
	res := d.res
	r.clock.checked, r.clock.checkRan = time.Now(), res.Took
	if !res.OK() {
		kv := []any{"check", res.String(), "output", res.Output}
		if res.Dropped > 0 {
			kv = append(kv, "output_dropped_bytes", res.Dropped)
		}
		s.reloadFailed("check failed", kv...)
		return
	}
	s.log.Info("reload: check passed", "reload", r.id, "took", res.Took.Round(time.Millisecond))
	if res.Output != "" {
		s.log.Debug("reload: check output", "reload", r.id, "output", res.Output)
	}
	s.afterCheck()
}
