// Package redistest starts a real redis-server for tests: on a free loopback
// port, in a temporary directory, stopped when the test ends. Besides a
// plain server it can start a Sentinel and a one-node Cluster, and it can
// stop, restart, freeze (SIGSTOP) and thaw a server to simulate outages.
//
// If redis-server is not on PATH the test is skipped with a loud message, or
// fails when the environment variable VIGIL_REQUIRE_REDIS is "1" (CI sets it,
// so Redis tests can never silently skip there).
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a test failure.
const RequireEnv = "VIGIL_REQUIRE_REDIS"

const (
	startTimeout = 15 * time.Second // until the new server answers
	stopTimeout  = 10 * time.Second // after SIGTERM, before SIGKILL
	killTimeout  = 5 * time.Second  // after SIGKILL
)

// Server is one redis-server process owned by a test. Its methods are safe
// for concurrent use.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	// urlFormat makes URL() from Addr() ("redis://%s/0").
	urlFormat string
	// args returns the command line for the current port.
	args func() []string

	mu     sync.Mutex
	proc   *process // nil while stopped
	paused bool
}

// Start starts redis-server on a free 127.0.0.1 port without persistence
// (--save "" --appendonly no): a Restart comes back empty. extraArgs are
// appended to the command line as further config directives (for example
// "--rename-command", "GETDEL", ""). The server is stopped in t.Cleanup.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	return start(t, append([]string{"--appendonly", "no"}, extraArgs...))
}

// StartPersistent is Start with an append-only file fsynced on every write
// (--appendonly yes --appendfsync always), so that Stop followed by Restart
// keeps every key that was acknowledged.
func StartPersistent(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	return start(t, append([]string{"--appendonly", "yes", "--appendfsync", "always"}, extraArgs...))
}

func start(t testing.TB, extra []string) *Server {
	t.Helper()
	s := newServer(t)
	s.args = func() []string { return append(s.dataArgs(), extra...) }
	s.urlFormat = "redis://%s/0"
	return s.run()
}

func newServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: lookPath(t), dir: t.TempDir()}
	t.Cleanup(s.Stop)
	return s
}

// run starts the server on a free port.
func (s *Server) run() *Server {
	t := s.t
	t.Helper()
	// A free port found by listening on :0 can be taken by someone else
	// before redis-server binds it; pick another one when that happens.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.port = freePort(t)
		if err = s.launch(); err == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", err)
	return nil
}

// URL returns the URL a store opens: "redis://127.0.0.1:PORT/0" for Start
// and StartPersistent, a redis+sentinel:// or redis+cluster:// URL for
// StartSentinel and StartCluster.
func (s *Server) URL() string { return fmt.Sprintf(s.urlFormat, s.Addr()) }

// Addr returns "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the TCP port the server listens on (the same across Restart).
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory (its data files live there).
func (s *Server) Dir() string { return s.dir }

// Stop stops the server: SIGCONT if paused, SIGTERM, a bounded wait, then
// SIGKILL. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	if s.paused {
		_ = s.proc.signal(syscall.SIGCONT)
		s.paused = false
	}
	if err := s.proc.stop(); err != nil {
		s.t.Errorf("redistest: %v", err)
	}
	s.proc = nil
}

// Restart starts the server again on the same port with the same data
// directory. After StartPersistent every acknowledged write survives.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		s.t.Fatalf("redistest: restart redis-server: %v", err)
	}
}

// Pause freezes the process with SIGSTOP: the kernel still accepts TCP
// connections, but nothing is answered (a hung Redis).
func (s *Server) Pause() { s.setPaused(true, syscall.SIGSTOP) }

// Resume lets a paused server run again with SIGCONT.
func (s *Server) Resume() { s.setPaused(false, syscall.SIGCONT) }

func (s *Server) setPaused(paused bool, sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: %v on a stopped server", sig)
	}
	if err := s.proc.signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
	s.paused = paused
}

// Client returns a plain go-redis client for the server (for inspecting
// keys in tests), closed in t.Cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, MaxRetries: -1})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := spawn(s.bin, s.args())
	if err != nil {
		return err
	}
	if err := p.waitReady(s.Addr(), startTimeout); err != nil {
		_ = p.stop()
		return fmt.Errorf("%w\nredis-server output:\n%s", err, p.output())
	}
	s.proc = p
	return nil
}

// dataArgs is the command line of a data node on s.port.
func (s *Server) dataArgs() []string {
	return []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	}
}

var loudOnce sync.Once

// lookPath finds redis-server, or skips (fails in CI) the test.
func lookPath(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	msg := "redis-server not installed: Redis tests SKIPPED; apt-get install redis-server"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 forbids skipping)", msg, RequireEnv)
	}
	// t.Skip is only visible with -v; say it on stderr too, once.
	loudOnce.Do(func() { fmt.Fprintf(os.Stderr, "\n!!! %s !!!\n\n", msg) })
	t.Skip(msg)
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
