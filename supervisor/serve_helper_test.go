package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vigil-sh/vigil/supervisor/signals"
)

// Settings of the serve helper, read from its environment (vigil's config
// file sets them with env = [...], so a reload can change them).
const (
	envTag     = "VIGIL_TEST_TAG"     // reported in every answer, to tell configurations apart
	envNotify  = "VIGIL_TEST_NOTIFY"  // "ready" (default), "never", "exit" (exit 3 before ready), or "when:PATH" (ready once PATH exists)
	envRelease = "VIGIL_TEST_RELEASE" // /hold answers once this file exists
)

// helperServe is a socket-activated HTTP server that is not vigil's own
// code: it takes its sockets with go-systemd's activation package (which
// checks LISTEN_PID against its own pid) and reports readiness with
// daemon.SdNotify. It prints on stdout:
//
//	serve PID start tag=T addr=A listen_pid=P listen_fds=N fdnames=X notify=S watchdog=W fds=LIST
//	serve PID holding          (a /hold request arrived)
//	serve PID sig NAME         (for every signal)
//	serve PID bye              (drained after SIGTERM)
//
// GET / answers "pid=PID tag=T"; GET /hold answers the same once the
// release file exists. On SIGTERM it sends STOPPING=1, stops accepting,
// finishes what is in flight (a soft drain, see drainer), and exits 0; with VIGIL_TEST_ONSTOP=ignore
// it ignores SIGTERM.
func helperServe() int {
	fds := openFDs() // before anything in this process opens one
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	pid, tag := os.Getpid(), os.Getenv(envTag)
	env := fmt.Sprintf("listen_pid=%s listen_fds=%s fdnames=%s notify=%s watchdog=%s",
		os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"),
		os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"))
	lns, err := activation.Listeners()
	if err != nil || len(lns) == 0 || lns[0] == nil {
		fmt.Fprintf(os.Stderr, "serve: no inherited listener (%s): %v\n", env, err)
		return 4
	}
	say("serve %d start tag=%s addr=%s %s fds=%s", pid, tag, lns[0].Addr(), env, fds)
	d := newDrainer(lns)
	srv := &http.Server{Handler: serveMux(pid, tag), ReadHeaderTimeout: waitLimit, ConnState: d.track}
	d.serve(srv)
	switch mode := os.Getenv(envNotify); {
	case mode == "never":
	case mode == "exit":
		return 3
	case strings.HasPrefix(mode, "when:"):
		go func() {
			waitForFile(strings.TrimPrefix(mode, "when:"))
			_, _ = daemon.SdNotify(false, "READY=1\nSTATUS=serving "+tag)
		}()
	default:
		_, _ = daemon.SdNotify(false, "READY=1\nSTATUS=serving "+tag)
	}
	return serveUntilStopped(srv, d, sigs, pid)
}

func serveMux(pid int, tag string) *http.ServeMux {
	answer := fmt.Sprintf("pid=%d tag=%s", pid, tag)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, answer) })
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		say("serve %d holding", pid)
		waitForFile(os.Getenv(envRelease))
		fmt.Fprint(w, answer)
	})
	return mux
}

// waitForFile polls until path exists, at most waitLimit.
func waitForFile(path string) {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

func serveUntilStopped(srv *http.Server, d *drainer, sigs <-chan os.Signal, pid int) int {
	for s := range sigs {
		sig := s.(syscall.Signal)
		say("serve %d sig %s", pid, signals.Name(sig))
		if sig != syscall.SIGTERM || os.Getenv(envOnStop) == "ignore" {
			continue
		}
		_, _ = daemon.SdNotify(false, "STOPPING=1\nSTATUS=draining")
		srv.SetKeepAlivesEnabled(false)
		if err := d.drain(waitLimit); err != nil {
			fmt.Fprintf(os.Stderr, "serve: %v\n", err)
			return 5
		}
		say("serve %d bye", pid)
		return 0
	}
	return 0
}

// drainer stops a server softly. http.Server.Shutdown drops a request it
// reads after the shutdown began (a connection accepted just before it gets
// EOF), so instead: close the listeners, wait for the accept loops to end
// (every accepted connection is then tracked), and wait until every
// connection has closed (keep-alives off: each closes after its response).
type drainer struct {
	lns     []net.Listener
	serving sync.WaitGroup
	mu      sync.Mutex
	open    int
}

func newDrainer(lns []net.Listener) *drainer { return &drainer{lns: lns} }

func (d *drainer) serve(srv *http.Server) {
	for _, ln := range d.lns {
		d.serving.Add(1)
		go func() {
			defer d.serving.Done()
			_ = srv.Serve(ln)
		}()
	}
}

func (d *drainer) track(_ net.Conn, st http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch st {
	case http.StateNew:
		d.open++
	case http.StateClosed, http.StateHijacked:
		d.open--
	}
}

func (d *drainer) drain(limit time.Duration) error {
	for _, ln := range d.lns {
		_ = ln.Close()
	}
	d.serving.Wait()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		open := d.open
		d.mu.Unlock()
		if open == 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
	return fmt.Errorf("connections still open after %s", limit)
}

// openFDs lists this process's descriptors as "fd:kind" (kind "socket",
// "pipe", "dev", "file"), without the directory used to list them and the
// cgroup CPU files the Go runtime itself opens at start (for GOMAXPROCS).
func openFDs() string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return "error:" + err.Error()
	}
	var out []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || strings.HasPrefix(target, "/proc/") || strings.HasPrefix(target, "/sys/fs/cgroup/") {
			continue
		}
		kind := "file"
		switch {
		case strings.HasPrefix(target, "socket:"):
			kind = "socket"
		case strings.HasPrefix(target, "pipe:"):
			kind = "pipe"
		case strings.HasPrefix(target, "/dev/"):
			kind = "dev"
		}
		out = append(out, e.Name()+":"+kind)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
