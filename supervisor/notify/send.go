package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Send sends lines ("READY=1", "STATUS=...") as one datagram to the service
// manager that started vigil, through daemon.SdNotify. It does nothing and
// returns nil when NOTIFY_SOCKET is unset.
//
// NOTIFY_SOCKET stays in vigil's environment (unsetEnvironment=false):
// vigil notifies for its whole life, not just once at startup. It must not
// reach the children as it is, since their datagrams would then go to
// systemd instead of to vigil: the supervisor builds each child's
// environment without it (sockets.ScrubEnv) and points NOTIFY_SOCKET at the
// child's own Socket instead.
func Send(lines ...string) error {
	if _, err := daemon.SdNotify(false, strings.Join(lines, "\n")); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Ready sends READY=1: the first child is ready, or a reload finished.
func Ready() error { return Send(daemon.SdNotifyReady) }

// Reloading sends RELOADING=1 with MONOTONIC_USEC=, the current
// CLOCK_MONOTONIC time in microseconds, as systemd expects of a reload
// (systemd 253+ requires it for Type=notify-reload). Send Ready when the
// reload is done.
func Reloading() error {
	return Send(daemon.SdNotifyReloading, "MONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
}

// Stopping sends STOPPING=1: vigil has begun to shut down.
func Stopping() error { return Send(daemon.SdNotifyStopping) }

// Status sends STATUS= with s. Newlines become spaces, since a newline would
// start another KEY=VALUE line.
func Status(s string) error {
	return Send("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}

// ExtendTimeout sends EXTEND_TIMEOUT_USEC=: the current start, reload or stop
// needs d more time than the unit's timeout; send it again before d runs out
// to keep extending.
func ExtendTimeout(d time.Duration) error {
	return Send("EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(d.Microseconds(), 10))
}

// Watchdog sends WATCHDOG=1, the keep-alive systemd expects every
// WatchdogInterval while the service is healthy.
func Watchdog() error { return Send(daemon.SdNotifyWatchdog) }

// WatchdogInterval returns how often to call Watchdog: half of systemd's
// WATCHDOG_USEC, as sd_watchdog_enabled(3) advises. It returns (0, nil) when
// no watchdog is configured for this process (WATCHDOG_USEC unset, or
// WATCHDOG_PID naming another process), and an error when the variables are
// malformed.
func WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("watchdog settings: %w", err)
	}
	return d / 2, nil
}

// monotonicUsec reads CLOCK_MONOTONIC, the clock systemd compares
// MONOTONIC_USEC with (Go's time package exposes no raw monotonic value).
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0 // cannot fail on Linux for this clock
	}
	return ts.Nano() / 1000
}
