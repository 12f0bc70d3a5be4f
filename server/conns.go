package main

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// connTracker follows every HTTP connection's state through fasthttp's
// ConnState hook, so the drain can close connections that are not serving a
// request: fasthttp itself treats a connection that never sent a request as
// busy for 5 s after accept, which would hold up an idle shutdown.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]connInfo
}

type connInfo struct {
	state   fasthttp.ConnState
	since   time.Time
	closing bool // closed by the drain; fasthttp has not reported it yet
}

func newConnTracker() *connTracker {
	return &connTracker{conns: make(map[net.Conn]connInfo)}
}

// hook is the fasthttp.Server ConnState callback.
func (t *connTracker) hook(c net.Conn, state fasthttp.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(t.conns, c)
	default:
		t.conns[c] = connInfo{state: state, since: time.Now()}
	}
}

// closeQuiet closes every connection that has waited at least grace for a
// request (new, or idle between keep-alive requests) and returns how many
// connections remain open. A connection serving a request is never closed
// here: its response carries Connection: close and fasthttp closes it after.
func (t *connTracker) closeQuiet(grace time.Duration) (open int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for c, info := range t.conns {
		if info.closing || info.state == fasthttp.StateActive || now.Sub(info.since) < grace {
			continue
		}
		// Closing makes fasthttp's read fail; its goroutine then reports
		// StateClosed, which deletes the entry (after we unlock).
		_ = c.Close()
		info.closing = true
		t.conns[c] = info
	}
	return len(t.conns)
}

// count returns how many connections are in state.
func (t *connTracker) count(state fasthttp.ConnState) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, info := range t.conns {
		if info.state == state {
			n++
		}
	}
	return n
}

// register adds gauges of connections by state to set.
func (t *connTracker) register(set *metrics.Set) {
	for _, st := range []fasthttp.ConnState{fasthttp.StateNew, fasthttp.StateActive, fasthttp.StateIdle} {
		set.NewGauge(fmt.Sprintf(`vigil_http_connections{state=%q}`, st.String()), func() float64 { return float64(t.count(st)) })
	}
}

// open returns how many connections are open.
func (t *connTracker) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// onceCloseListener lets the drain close a listener before fasthttp's own
// Shutdown closes it again; the second Close must not report an error, or
// ShutdownWithContext returns it.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
