package supervise

import (
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/notify"
)

// stopMargin is added to the drain timeout and the descendants' grace when
// vigil asks systemd for more time to stop, for vigil's own exit.
const stopMargin = 5 * time.Second

// upstream tells the service manager that started vigil (systemd,
// Type=notify) about vigil's state. Every method is a no-op without
// NOTIFY_SOCKET.
type upstream struct {
	log        hclog.Logger
	readySent  bool // READY=1 was sent: startup is over
	inReload   bool // RELOADING=1 was sent and not yet answered by READY=1
	stopping   bool
	lastStatus string
	failed     bool // a send failed already (logged once at warn level)
}

func (u *upstream) send(what string, err error) {
	if err == nil {
		return
	}
	if !u.failed {
		u.failed = true
		u.log.Warn("cannot notify the service manager", "what", what, "error", err)
		return
	}
	u.log.Debug("cannot notify the service manager", "what", what, "error", err)
}

// ready sends READY=1 the first time a current child is ready.
func (u *upstream) ready() {
	if u.readySent || u.stopping {
		return
	}
	u.readySent = true
	u.send("READY=1", notify.Ready())
}

// reloading sends RELOADING=1 with MONOTONIC_USEC= as a reload begins. A
// reload before startup finished is not announced: systemd still waits for
// the first READY=1.
func (u *upstream) reloading() {
	if !u.readySent || u.stopping || u.inReload {
		return
	}
	u.inReload = true
	u.send("RELOADING=1", notify.Reloading())
}

// reloaded sends READY=1 as a reload ends, whatever its outcome: the
// service runs (the old or the new configuration).
func (u *upstream) reloaded() {
	if !u.inReload || u.stopping {
		return
	}
	u.inReload = false
	u.send("READY=1", notify.Ready())
}

// status sends STATUS=s unless it is what was sent last.
func (u *upstream) status(s string) {
	if s == u.lastStatus || u.stopping {
		return
	}
	u.lastStatus = s
	u.send("STATUS", notify.Status(s))
}

// stop sends STOPPING=1 once, and asks for extend more time: systemd's stop
// timeout then covers the drain.
func (u *upstream) stop(extend time.Duration) {
	if u.stopping {
		return
	}
	u.send("STATUS", notify.Status("stopping"))
	u.stopping = true
	u.send("STOPPING=1", notify.Stopping())
	u.send("EXTEND_TIMEOUT_USEC", notify.ExtendTimeout(extend))
}

// watchdog sends WATCHDOG=1.
func (u *upstream) watchdog() {
	u.send("WATCHDOG=1", notify.Watchdog())
}

// watchdogTicker ticks at half of systemd's WATCHDOG_USEC, or never when no
// watchdog is set for vigil.
func (s *Supervisor) watchdogTicker() (<-chan time.Time, func()) {
	every, err := notify.WatchdogInterval()
	if err != nil {
		s.log.Warn("ignoring the watchdog settings", "error", err)
	}
	if every <= 0 {
		return nil, func() {}
	}
	s.log.Info("systemd watchdog enabled", "interval", every)
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// onWatchdog pings systemd's watchdog while the current child is healthy:
// running and ready. A child that hangs in its start, a crash loop or a
// stop lets the watchdog fire.
func (s *Supervisor) onWatchdog() {
	if s.cur != nil && s.cur.running && s.cur.ready && !s.stopping && !s.ended {
		s.up.watchdog()
	}
}

// stopExtension is how much time a stop may take from now: the drain, the
// grace for descendants, and vigil's own exit.
func (s *Supervisor) stopExtension() time.Duration {
	return s.cfg.DrainTimeout + s.cfg.DescendantGrace + stopMargin
}
