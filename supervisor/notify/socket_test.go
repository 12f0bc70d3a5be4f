package notify

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// waitFor bounds every wait: far above what a loaded machine needs.
const waitFor = 10 * time.Second

func listenT(t *testing.T) *Socket {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Name: "notify", Level: hclog.Debug, Output: tWriter{t}, DisableTime: true})
	s, err := Listen(t.TempDir(), log)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func recv(t *testing.T, s *Socket) Message {
	t.Helper()
	select {
	case m, ok := <-s.Messages():
		if !ok {
			t.Fatal("Messages closed")
		}
		return m
	case <-time.After(waitFor):
		t.Fatalf("no notification within %v", waitFor)
		return Message{}
	}
}

// sendRaw sends one datagram, with optional control data, as any client
// could.
func sendRaw(t *testing.T, path string, data, oob []byte) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendmsg(fd, data, oob, &unix.SockaddrUnix{Name: path}, 0); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// requireTool finds a systemd tool: a missing one fails the test when
// VIGIL_REQUIRE_SYSTEMD_TOOLS=1 and skips it loudly otherwise.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_SYSTEMD_TOOLS") == "1" {
			t.Fatalf("%s is required (VIGIL_REQUIRE_SYSTEMD_TOOLS=1): %v", name, err)
		}
		t.Skipf("SKIPPED: %s not found; install systemd or set VIGIL_REQUIRE_SYSTEMD_TOOLS=1 to make this a failure: %v", name, err)
	}
	return p
}

func TestSocketReceives(t *testing.T) {
	t.Run("from-go-systemd-sdnotify", func(t *testing.T) {
		s := listenT(t)
		t.Setenv("NOTIFY_SOCKET", s.Path())
		sent, err := daemon.SdNotify(false, "READY=1\nSTATUS=serving\nMAINPID=4242")
		if !sent || err != nil {
			t.Fatalf("SdNotify = %v, %v", sent, err)
		}
		m := recv(t, s)
		if !m.Ready || m.Status != "serving" || m.MainPID != 4242 {
			t.Fatalf("got %+v", m)
		}
		if m.PID != os.Getpid() {
			t.Fatalf("PID = %d, want the sender %d", m.PID, os.Getpid())
		}
	})
	t.Run("from-systemd-notify-binary", func(t *testing.T) {
		t.Parallel()
		tool := requireTool(t, "systemd-notify")
		s := listenT(t)
		cmd := exec.Command(tool, "--ready", "--status=hi")
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+s.Path())
		runBounded(t, cmd)
		m := recv(t, s)
		if !m.Ready || m.Status != "hi" {
			t.Fatalf("got %+v", m)
		}
		// systemd-notify sends on behalf of its parent (getppid) when it
		// may (root), else as itself.
		t.Logf("sender pid %d: test %d, systemd-notify %d", m.PID, os.Getpid(), cmd.Process.Pid)
		if m.PID != os.Getpid() && m.PID != cmd.Process.Pid {
			t.Fatalf("PID = %d, want %d (parent) or %d (systemd-notify)", m.PID, os.Getpid(), cmd.Process.Pid)
		}
		// It then sent BARRIER=1 with an fd and waited for us to close it
		// (runBounded returned). That datagram is not delivered:
		sendRaw(t, s.Path(), []byte("STATUS=next"), nil)
		if m := recv(t, s); m.Status != "next" {
			t.Fatalf("after the barrier got %+v, want STATUS=next", m)
		}
	})
	t.Run("from-descendant-of-shell-child", func(t *testing.T) {
		t.Parallel()
		tool := requireTool(t, "systemd-notify")
		s := listenT(t)
		// The trailing echo keeps sh from exec'ing systemd-notify, so the
		// sender is a grandchild of vigil, as under NotifyAccess=all.
		cmd := exec.Command("sh", "-c", `"$0" --ready --status="from script"; echo done`, tool)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+s.Path())
		runBounded(t, cmd)
		m := recv(t, s)
		if !m.Ready || m.Status != "from script" {
			t.Fatalf("got %+v", m)
		}
		t.Logf("sender pid %d, shell %d", m.PID, cmd.Process.Pid)
		if m.PID == 0 || m.PID == os.Getpid() {
			t.Fatalf("PID = %d, want the shell or systemd-notify", m.PID)
		}
	})
	t.Run("malformed-lines-ignored", func(t *testing.T) {
		t.Parallel()
		s := listenT(t)
		sendRaw(t, s.Path(), []byte("no equals sign\n=\n\xff\xfe=1\nREADY=1\nUNKNOWN_KEY=x"), nil)
		m := recv(t, s)
		if !m.Ready || m.Malformed != 3 || m.Vars["UNKNOWN_KEY"] != "x" {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("oversized-datagram-dropped", func(t *testing.T) {
		t.Parallel()
		s := listenT(t)
		sendRaw(t, s.Path(), []byte("STATUS="+strings.Repeat("x", MaxDatagram)), nil)
		sendRaw(t, s.Path(), []byte("READY=1"), nil)
		if m := recv(t, s); !m.Ready || m.Status != "" {
			t.Fatalf("got %+v, want only the second datagram", m)
		}
	})
}

// runBounded runs cmd and fails if it does not finish in time. A
// systemd-notify whose barrier fd we failed to close would hang here.
func runBounded(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
	case <-time.After(waitFor):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within %v", cmd.Path, waitFor)
	}
}

// TestSocketClosesPassedFDs sends the write end of a pipe with SCM_RIGHTS,
// as FDSTORE=1 does. Once we close our copy, the read end sees EOF only if
// the receiver closed its copy too; /proc/self/fd shows the same.
func TestSocketClosesPassedFDs(t *testing.T) {
	s := listenT(t)
	p := make([]int, 2)
	if err := unix.Pipe2(p, unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(p[0]), "pipe-r")
	defer r.Close()
	before := countFDs(t)

	sendRaw(t, s.Path(), []byte("FDSTORE=1\nFDNAME=x"), unix.UnixRights(p[1], p[1]))
	m := recv(t, s)
	if m.FDs != 2 {
		t.Fatalf("FDs = %d, want 2", m.FDs)
	}
	if err := unix.Close(p[1]); err != nil {
		t.Fatal(err)
	}
	if after := countFDs(t); after != before-1 {
		t.Errorf("open fds: %d before, %d after closing our write end; want %d", before, after, before-1)
	}
	if err := r.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read end: %v, want EOF (a copy of the write end is still open)", err)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	return len(entries)
}

func TestSocketLifecycle(t *testing.T) {
	t.Run("close-removes-path-and-ends-messages", func(t *testing.T) {
		t.Parallel()
		s, err := Listen(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		path := s.Path()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("socket directory still there: %v", err)
		}
		if _, ok := <-s.Messages(); ok {
			t.Fatal("Messages still open")
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("close-while-nobody-receives", func(t *testing.T) {
		t.Parallel()
		s, err := Listen(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fillQueue(t, s.Path())
		done := make(chan error, 1)
		go func() { done <- s.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitFor):
			t.Fatal("Close blocked on an unread Messages channel")
		}
	})
	t.Run("fresh-path-each-time", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		a, b := listenIn(t, dir), listenIn(t, dir)
		if a.Path() == b.Path() {
			t.Fatalf("two sockets share %s", a.Path())
		}
	})
	t.Run("path-too-long-is-a-clear-error", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := Listen(dir, nil)
		if err == nil || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("Listen = %v, want a path length error", err)
		}
	})
}

// fillQueue sends until the kernel's datagram queue is full, which happens
// only once the reader is stuck on a full Messages channel.
func fillQueue(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		err := unix.Sendmsg(fd, []byte("WATCHDOG=1"), nil, &unix.SockaddrUnix{Name: path}, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("queue never filled within %v", waitFor)
}

func listenIn(t *testing.T, dir string) *Socket {
	s, err := Listen(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSocketOtherUser runs systemd-notify as nobody: it cannot reach the
// socket until Chown hands the socket to that user.
func TestSocketOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root to run a process as another user")
	}
	tool := requireTool(t, "systemd-notify")
	const nobody = 65534
	s := listenT(t)
	// t.TempDir's own directories are 0700; open them so only the
	// socket's directory decides.
	for d := filepath.Dir(filepath.Dir(s.Path())); d != "/" && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func() error {
		cmd := exec.Command(tool, "--ready", "--status=as nobody")
		cmd.Env = []string{"NOTIFY_SOCKET=" + s.Path()}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	if err := run(); err == nil {
		t.Fatal("nobody could notify before Chown")
	} else {
		t.Logf("before Chown: %v", err)
	}
	if err := s.Chown(nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatalf("after Chown: %v", err)
	}
	m := recv(t, s)
	if !m.Ready || m.Status != "as nobody" || m.PID == 0 || m.PID == os.Getpid() {
		t.Fatalf("got %+v", m)
	}
	t.Logf("unprivileged systemd-notify sent as pid %d (test is %d)", m.PID, os.Getpid())
}
