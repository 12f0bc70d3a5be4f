package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverBin is the vigil-server binary built once for the tests that run it
// as a real process.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-server-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "vigil-server")
	build := exec.Command("go", "build", "-o", serverBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building vigil-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a vigil-server process started by a test on a socket the test
// owns, so the address never changes across restarts and no port races.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	notify *net.UnixConn
	stderr *syncBuffer
	exited chan struct{}
	err    error
}

// socket is a listening socket owned by the test and handed to servers.
type socket struct {
	ln   *net.TCPListener
	file *os.File
}

func newSocket(t *testing.T) *socket {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(); _ = ln.Close() })
	return &socket{ln: ln, file: f}
}

func (s *socket) url() string { return "http://" + s.ln.Addr().String() }

// startServer runs vigil-server with args on sock and waits for READY=1.
func startServer(t *testing.T, sock *socket, env []string, args ...string) *proc {
	t.Helper()
	return startServerOn(t, []*socket{sock}, []string{"http"}, env, args...)
}

// startServerOn hands the server several sockets with their names.
func startServerOn(t *testing.T, socks []*socket, names []string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, base: socks[0].url(), stderr: &syncBuffer{}, exited: make(chan struct{})}
	notifyPath := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	p.notify = conn
	t.Cleanup(func() { _ = conn.Close() })
	// The socket-activation contract: LISTEN_PID must be the server's own
	// pid, known only after fork, hence the exec through sh.
	shArgs := append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, serverBin}, args...)
	p.cmd = exec.Command("sh", shArgs...)
	p.cmd.Env = append(os.Environ(), fmt.Sprintf("LISTEN_FDS=%d", len(socks)), "LISTEN_FDNAMES="+strings.Join(names, ":"), "NOTIFY_SOCKET="+notifyPath)
	p.cmd.Env = append(p.cmd.Env, env...)
	for _, s := range socks {
		p.cmd.ExtraFiles = append(p.cmd.ExtraFiles, s.file)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("vigil-server stderr:\n%s", p.stderr.String())
		}
	})
	p.waitNotify("READY=1")
	return p
}

// waitNotify blocks until the server sends a datagram containing state.
func (p *proc) waitNotify(state string) {
	p.t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_ = p.notify.SetReadDeadline(deadline)
		n, err := p.notify.Read(buf)
		if err != nil {
			p.t.Fatalf("waiting for %s from vigil-server: %v\nstderr:\n%s", state, err, p.stderr.String())
		}
		if strings.Contains(string(buf[:n]), state) {
			return
		}
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait returns the exit code, failing the test if it takes over d.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		p.t.Fatalf("vigil-server did not exit within %v\nstderr:\n%s", d, p.stderr.String())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

// syncBuffer is a bytes.Buffer safe for a process writer and a test reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var client = &http.Client{Timeout: 10 * time.Second}

const armored = "-----BEGIN PGP MESSAGE-----\n\nwy4ECQMIRq3nCDZmVxvgyJ3r0CLMfXTdAHxhFV4Kw1mH+zrWqlD0d9T1IUHgWm5H\n=abcd\n-----END PGP MESSAGE-----\n"

// createSecret posts a secret and returns its id.
func createSecret(t *testing.T, base string, oneTime bool) string {
	t.Helper()
	body := fmt.Sprintf(`{"message":%q,"expiration":3600,"one_time":%v}`, armored, oneTime)
	resp, err := client.Post(base+"/create/secret", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var out struct{ Message string }
	if err := json.Unmarshal(b, &out); err != nil || out.Message == "" {
		t.Fatalf("create response %s: %v", b, err)
	}
	return out.Message
}

// getSecret reads a secret and returns the status code.
func getSecret(t testing.TB, base, id string) int {
	resp, err := client.Get(base + "/secret/" + id)
	if err != nil {
		t.Errorf("get: %v", err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "server.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
