package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/supervisor/notify"
)

// TestChildGetsItsOwnSocketsAndEnvironment: vigil started with systemd's
// variables (meant for vigil, or stale) and a stray descriptor hands its
// child exactly its [[listen]] socket as fd 3 with LISTEN_PID equal to the
// child's own pid (go-systemd's activation package checks it), its own
// NOTIFY_SOCKET, no WATCHDOG_USEC, and nothing else.
func TestChildGetsItsOwnSocketsAndEnvironment(t *testing.T) {
	up := listenNotify(t)
	stray, err := os.CreateTemp(t.TempDir(), "stray")
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "vigil.toml")
	writeFile(t, config, serveConfig{}.render())
	v := startVigil(t, launch{
		args:  []string{"-config", config},
		env:   []string{"NOTIFY_SOCKET=" + up.sock.Path(), "WATCHDOG_USEC=60000000", "LISTEN_FDS=1", "LISTEN_PID=1", "LISTEN_FDNAMES=stale"},
		extra: []*os.File{stray},
	})
	s := &served{vigil: v, config: config, dir: dir}
	info := s.nextStart(t)
	f := info.fields
	if f["listen_pid"] != strconv.Itoa(info.pid) || f["listen_fds"] != "1" || f["fdnames"] != "http" {
		t.Errorf("child's activation variables %v, want LISTEN_PID=%d LISTEN_FDS=1 LISTEN_FDNAMES=http", f, info.pid)
	}
	if f["notify"] == "" || f["notify"] == up.sock.Path() {
		t.Errorf("child's NOTIFY_SOCKET %q: want its own socket, not vigil's %q", f["notify"], up.sock.Path())
	}
	if f["watchdog"] != "" {
		t.Errorf("child got WATCHDOG_USEC=%s", f["watchdog"])
	}
	fds := strings.Split(f["fds"], ",")
	slices.Sort(fds)
	if !slices.Contains(fds, "3:socket") || len(fds) != 4 {
		t.Errorf("child's descriptors %v, want 0, 1, 2 and the socket as 3", fds)
	}
	if got := get(t, info.addr(), "/"); got != answer(info.pid, "v1") {
		t.Errorf("answer %q", got)
	}
	s.stopped(t, 0)
}

// TestSystemdNotifications: with NOTIFY_SOCKET and WATCHDOG_USEC set for
// vigil, a real unixgram socket receives READY=1 once the child is ready,
// WATCHDOG=1 while it serves, RELOADING=1 with MONOTONIC_USEC then READY=1
// around each reload (a failed one included), STATUS= with the state, and
// STOPPING=1 with
// EXTEND_TIMEOUT_USEC on stop.
func TestSystemdNotifications(t *testing.T) {
	up := listenNotify(t)
	s := startServed(t, serveConfig{drain: "7s"}, "NOTIFY_SOCKET="+up.sock.Path(), "WATCHDOG_USEC=100000")
	is := func(key, value string) func(notify.Message) bool {
		return func(m notify.Message) bool { return m.Vars[key] == value }
	}
	ready := up.waitFor(t, "READY=1", 0, func(m notify.Message) bool { return m.Ready })
	s.waitLog(t, "child ready")
	up.waitFor(t, "STATUS=serving v1 (relayed from the child)", 0, is("STATUS", "serving v1"))
	// Two pings after READY=1: the watchdog runs while the child serves.
	w := up.waitFor(t, "WATCHDOG=1", ready, func(m notify.Message) bool { return m.Watchdog })
	up.waitFor(t, "second WATCHDOG=1", w+1, func(m notify.Message) bool { return m.Watchdog })

	s.signal(t, syscall.SIGHUP)
	reloading := up.waitFor(t, "RELOADING=1", ready+1, func(m notify.Message) bool { return m.Reloading })
	if m := up.messages()[reloading]; m.Monotonic <= 0 {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %v", m.Vars)
	}
	up.waitFor(t, "STATUS=reloading", ready, func(m notify.Message) bool { return strings.HasPrefix(m.Status, "reloading") })
	up.waitFor(t, "READY=1 after the reload", reloading, func(m notify.Message) bool { return m.Ready })
	s.waitLog(t, "reload done")

	// A failed reload is visible upstream too, and still ends with READY=1.
	writeFile(t, s.config, serveConfig{drain: "7s", bogus: true}.render())
	failed := up.waitFor(t, "STATUS=reload failed", reloading+1, func(m notify.Message) bool {
		return strings.HasPrefix(m.Status, "reload failed (1 so far): vigil configuration invalid")
	})
	up.waitFor(t, "READY=1 after the failed reload", failed, func(m notify.Message) bool { return m.Ready })

	s.signal(t, syscall.SIGTERM)
	stopping := up.waitFor(t, "STOPPING=1", failed, func(m notify.Message) bool { return m.Stopping })
	ext := up.waitFor(t, "EXTEND_TIMEOUT_USEC", stopping, func(m notify.Message) bool { return m.ExtendTimeout > 0 })
	// drain_timeout 7s + descendant grace min(7s, 5s) + 5s for vigil itself.
	if got := up.messages()[ext].ExtendTimeout; got != 17*time.Second {
		t.Errorf("EXTEND_TIMEOUT_USEC = %s, want 17s", got)
	}
	if code := s.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, s.stderr)
	}
	if n := countMessages(up.messages(), func(m notify.Message) bool { return m.Ready }); n != 3 {
		t.Errorf("%d READY=1, want 3 (start, end of each reload):%s", n, describe(up.messages()))
	}
	if n := countMessages(up.messages(), func(m notify.Message) bool { return m.Reloading }); n != 2 {
		t.Errorf("%d RELOADING=1, want 2:%s", n, describe(up.messages()))
	}
}

func countMessages(ms []notify.Message, ok func(notify.Message) bool) int {
	n := 0
	for _, m := range ms {
		if ok(m) {
			n++
		}
	}
	return n
}

// TestSystemdSocketActivate runs vigil under the real
// systemd-socket-activate: vigil takes the socket (LISTEN_PID is its own
// pid), hands it on to its child, which serves the connection that
// triggered the activation.
func TestSystemdSocketActivate(t *testing.T) {
	tool := requireTool(t, "systemd-socket-activate")
	dir := t.TempDir()
	config := filepath.Join(dir, "vigil.toml")
	writeFile(t, config, serveConfig{noListen: true}.render())
	var v *vigil
	var port int
	for attempt := 0; ; attempt++ {
		port = freePort(t)
		// The tool passes vigil only LISTEN_* and what -E names.
		argv := []string{tool, "-l", "127.0.0.1:" + strconv.Itoa(port), "--fdname=web", "-E", "GORACE", vigilBin, "-config", config}
		v = startVigilCmd(t, launch{}, argv)
		if listening(t, v) {
			break
		}
		if attempt == 2 {
			t.Fatalf("systemd-socket-activate could not listen; stderr:\n%s", v.stderr)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	body := make(chan string, 1)
	go func() {
		b, err := tryGet(addr, "/") // this connection starts vigil
		if err != nil {
			b = err.Error()
		}
		body <- b
	}()
	s := &served{vigil: v, config: config, dir: dir}
	info := s.nextStart(t)
	if got := <-body; got != answer(info.pid, "v1") {
		t.Fatalf("answer %q, want %q; stderr:\n%s", got, answer(info.pid, "v1"), v.stderr)
	}
	if f := info.fields; f["listen_pid"] != strconv.Itoa(info.pid) || f["fdnames"] != "web" || info.addr() != addr {
		t.Errorf("child got %v, want LISTEN_PID=%d, LISTEN_FDNAMES=web, the socket on %s", f, info.pid, addr)
	}
	s.waitLog(t, "socket-activated: serving on a socket passed to vigil: name=web")
	s.stopped(t, 0)
}

// listening waits for systemd-socket-activate to say whether it listens.
func listening(t *testing.T, v *vigil) bool {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		log := v.stderr.String()
		switch {
		case strings.Contains(log, "Listening on"):
			return true
		case strings.Contains(log, "Failed"):
			v.wait(t)
			return false
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
	t.Fatalf("systemd-socket-activate said nothing; stderr:\n%s", v.stderr)
	return false
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
