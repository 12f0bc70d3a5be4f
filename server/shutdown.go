package main

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// quietGrace is how long a connection may wait for a request during the
// drain before the server closes it. A busy keep-alive client sends its next
// request well within it and is answered with Connection: close; an idle
// client or a connection that never sent a request is closed after it, so
// neither holds up the exit.
const quietGrace = 200 * time.Millisecond

// drainPoll is how often the drain looks at its connections.
const drainPoll = 20 * time.Millisecond

// shutdown runs the stop sequence for the first TERM or INT and returns the
// exit code. A second TERM or INT during shutdown_delay ends the delay; one
// during the drain abandons in-flight requests and exits 75 at once.
func (s *server) shutdown(sig os.Signal, sigs <-chan os.Signal) int {
	delay, drain := s.cfg.ShutdownDelay.D(), s.cfg.DrainTimeout.D()
	s.log.Info("stopping", "signal", sig.String(), "shutdown_delay", delay, "drain_timeout", drain)
	// /ready turns 503 before STOPPING=1 goes out, so whoever reacts to
	// the notification already sees the instance as not ready.
	s.api.SetNotReady()
	notify(s.log, daemon.SdNotifyStopping, "STATUS=draining")
	if !s.waitDelay(delay, sigs) {
		s.log.Warn("second signal during shutdown_delay: draining now")
	}
	start := time.Now()
	code := s.drain(drain, sigs)
	s.closeRest()
	s.log.Info("stopped", "drained_in", time.Since(start).Round(time.Millisecond), "exit_code", code)
	return code
}

// waitDelay keeps serving (with /ready at 503) for d, so a load balancer can
// take the instance out before connections are closed. It returns false when
// a second stop signal cut it short.
func (s *server) waitDelay(d time.Duration, sigs <-chan os.Signal) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return true
		case sig := <-sigs:
			if isStop(sig) {
				return false
			}
		}
	}
}

// drain stops accepting, lets in-flight requests finish and closes quiet
// connections, all within d. It returns 0, or 75 when the deadline passed
// or a second stop signal arrived first.
func (s *server) drain(d time.Duration, sigs <-chan os.Signal) int {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	// Responses from now on carry Connection: close, so clients move to
	// another instance (or the next child on vigil's shared socket) after
	// their current request instead of having a connection cut under them.
	s.api.SetClosing()
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	done := make(chan error, 1)
	go func() { done <- s.waitConns(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				s.log.Error("drain deadline passed with requests in flight", "drain_timeout", d, "open_connections", s.conns.open())
				return exitDrainTimedOut
			}
			return exitOK
		case sig := <-sigs:
			if isStop(sig) {
				s.log.Warn("second signal during the drain: exiting without waiting", "signal", sig.String(), "open_connections", s.conns.open())
				cancel()
				return exitDrainTimedOut
			}
		}
	}
}

// waitConns closes quiet connections until none is left, then lets
// fasthttp's Shutdown finish the rest.
func (s *server) waitConns(ctx context.Context) error {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for s.conns.closeQuiet(quietGrace) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return s.http.ShutdownWithContext(ctx)
}

// closeRest stops the metrics server and closes the store. Serving
// goroutines of a timed-out drain are abandoned: the process exits.
func (s *server) closeRest() {
	if s.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.metrics.ShutdownWithContext(ctx)
		cancel()
	}
	if err := s.store.Close(); err != nil {
		s.log.Error("closing the store", "error", err)
	}
}

func isStop(sig os.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT
}
