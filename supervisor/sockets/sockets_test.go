package sockets

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func bindT(t *testing.T, specs ...Spec) []*Listener {
	t.Helper()
	ls, err := Bind(specs)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	t.Cleanup(func() { _ = CloseAll(ls) })
	return ls
}

// TestChildServesOnSharedSocket hands the socket to a real child that takes
// it with go-systemd's activation package, then restarts the child: a
// client that connects while no child runs waits in the backlog and is
// served by the next one, never refused.
func TestChildServesOnSharedSocket(t *testing.T) {
	t.Run("no-refusal-across-restart", func(t *testing.T) {
		t.Parallel()
		ls := bindT(t, Spec{Name: "http", Address: "127.0.0.1:0"})
		addr := ls[0].Addr().String()

		first := startChild(t, ls, "serve-one")
		if got, want := dial(t, addr).body(t), fmt.Sprintf("pid=%d", first.cmd.Process.Pid); got != want {
			t.Fatalf("first child answered %q, want %q", got, want)
		}
		first.wait(t)

		waiting := dial(t, addr) // no child is running now
		second := startChild(t, ls, "serve-one")
		if got, want := waiting.body(t), fmt.Sprintf("pid=%d", second.cmd.Process.Pid); got != want {
			t.Fatalf("second child answered %q, want %q", got, want)
		}
		second.wait(t)
		if !nonBlocking(t, ls[0]) {
			t.Fatal("vigil's socket is in blocking mode after two children")
		}

		// The port was held by vigil's copy alone.
		if err := ls[0].Close(); err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", addr, waitFor); err == nil {
			c.Close()
			t.Fatal("connect succeeded after vigil closed its socket")
		}
	})
}

// TestChildFilesKeepsSocketNonBlocking runs a child that does not touch the
// socket (`true`), so what changes the flag is only how the fd was passed.
func TestChildFilesKeepsSocketNonBlocking(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	t.Run("dup-via-ChildFiles-stays-non-blocking", func(t *testing.T) {
		t.Parallel()
		ls := bindT(t, Spec{Name: "http", Address: "127.0.0.1:0"})
		files, env, err := ChildFiles(ls)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=http"}; !slices.Equal(env, want) {
			t.Fatalf("env = %q, want %q", env, want)
		}
		assertCloseOnExec(t, files[0])
		runWithFiles(t, truePath, files)
		if !nonBlocking(t, ls[0]) {
			t.Fatal("O_NONBLOCK was cleared by passing the duplicate")
		}
	})
	// The pitfall ChildFiles avoids: (*net.TCPListener).File returns a
	// file that os/exec asks for its fd (os.File.Fd), which switches the
	// shared open file description to blocking mode for every holder.
	t.Run("TCPListener.File-would-clear-it", func(t *testing.T) {
		t.Parallel()
		ls := bindT(t, Spec{Name: "http", Address: "127.0.0.1:0"})
		f, err := ls[0].ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		runWithFiles(t, truePath, []*os.File{f})
		if nonBlocking(t, ls[0]) {
			t.Fatal("File()+exec left O_NONBLOCK set; the pitfall no longer reproduces with this Go version")
		}
	})
}

func runWithFiles(t *testing.T, path string, files []*os.File) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.ExtraFiles = files
	err := cmd.Run()
	closeFiles(files)
	if err != nil {
		t.Fatal(err)
	}
}

func assertCloseOnExec(t *testing.T, f *os.File) {
	t.Helper()
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	_ = raw.Control(func(fd uintptr) { flags, _ = unix.FcntlInt(fd, unix.F_GETFD, 0) })
	if flags&unix.FD_CLOEXEC == 0 {
		t.Fatal("duplicate is not close-on-exec in vigil: it would leak into other children")
	}
}

// TestFromActivationRoundTrip passes three sockets (two TCP, one Unix) to a
// child that takes them with FromActivation.
func TestFromActivationRoundTrip(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ls := bindT(t,
		Spec{Name: "api", Address: "127.0.0.1:0"},
		Spec{Name: "metrics", Address: "127.0.0.1:0"},
		Spec{Name: "admin", Address: "unix:" + sock},
	)
	c := startChild(t, ls, "report")
	c.wait(t)
	r := parseReport(t, c.stdout.String())
	want := []reportedListener{
		{Name: "api", Address: ls[0].Addr().String(), CloseOnExec: true},
		{Name: "metrics", Address: ls[1].Addr().String(), CloseOnExec: true},
		{Name: "admin", Address: "unix:" + sock, CloseOnExec: true},
	}
	if !slices.Equal(r.Listeners, want) {
		t.Fatalf("child found %+v, want %+v", r.Listeners, want)
	}
	assertNoLeak(t, r)
}

// TestFromActivationRejectsNonListener hands a child a datagram socket where
// a listening stream socket belongs: systemd can pass one, and
// net.FileListener alone would accept a Unix datagram socket as a listener.
func TestFromActivationRejectsNonListener(t *testing.T) {
	t.Parallel()
	dgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "d.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer dgram.Close()
	f, err := dgram.File()
	if err != nil {
		t.Fatal(err)
	}
	c := startChildWith(t, []*os.File{f}, []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=dgram"}, "report")
	c.wait(t)
	var r report
	if err := json.Unmarshal([]byte(strings.TrimSpace(c.stdout.String())), &r); err != nil {
		t.Fatalf("child report %q: %v", c.stdout.String(), err)
	}
	if !strings.Contains(r.Error, "fd 3 (dgram) is not a listening stream socket") || len(r.Listeners) != 0 {
		t.Fatalf("child report %+v, want the datagram socket rejected", r)
	}
}

// TestFromActivationSystemd runs the real systemd-socket-activate, which
// binds the port, waits for a connection, then execs the test binary with
// LISTEN_FDS=1, LISTEN_PID and LISTEN_FDNAMES set.
func TestFromActivationSystemd(t *testing.T) {
	tool := requireTool(t, "systemd-socket-activate")
	t.Parallel()
	var port int
	var cmd *exec.Cmd
	var stderr *lineReader
	for attempt := 0; ; attempt++ {
		port = freePort(t)
		// The tool passes the child only LISTEN_* and what -E names.
		cmd = exec.Command(tool, "-l", "127.0.0.1:"+strconv.Itoa(port), "--fdname=web",
			"-E", helperEnv+"=report", "-E", "VIGIL_HELPER_SERVE=1", os.Args[0])
		stderr = startWithStderr(t, cmd)
		line := stderr.waitFor(t, "Listening on", "Failed")
		if strings.Contains(line, "Listening on") {
			break
		}
		_ = cmd.Wait()
		if attempt == 2 {
			t.Fatalf("systemd-socket-activate: %s", line)
		}
	}
	body := dial(t, "127.0.0.1:"+strconv.Itoa(port)).body(t)
	r := parseReport(t, body)
	want := []reportedListener{{Name: "web", Address: "127.0.0.1:" + strconv.Itoa(port), CloseOnExec: true}}
	if !slices.Equal(r.Listeners, want) {
		t.Fatalf("activated child found %+v, want %+v", r.Listeners, want)
	}
	assertNoLeak(t, r)
	waitCmd(t, cmd)
}

func parseReport(t *testing.T, out string) report {
	t.Helper()
	var r report
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("child report %q: %v", out, err)
	}
	if r.Error != "" {
		t.Fatalf("child: %s", r.Error)
	}
	return r
}

// assertNoLeak checks that a process the child started after
// FromActivation inherited no socket. (It may inherit other fds that the
// test binary itself inherited without close-on-exec from whatever started
// `go test`; those are not ours.)
func assertNoLeak(t *testing.T, r report) {
	t.Helper()
	for fd := range strings.FieldsSeq(r.GrandchildFDs) {
		if strings.Contains(fd, "socket:") {
			t.Fatalf("grandchild inherited %s (fds: %s)", fd, r.GrandchildFDs)
		}
	}
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

// lineReader hands over a process's stderr line by line.
type lineReader struct{ lines chan string }

func startWithStderr(t *testing.T, cmd *exec.Cmd) *lineReader {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lr := &lineReader{lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lr.lines <- sc.Text()
		}
		close(lr.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return lr
}

// waitFor returns the first line containing any of the markers.
func (lr *lineReader) waitFor(t *testing.T, markers ...string) string {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case line, ok := <-lr.lines:
			if !ok {
				t.Fatalf("stderr closed before any of %q", markers)
			}
			t.Logf("systemd-socket-activate: %s", line)
			for _, m := range markers {
				if strings.Contains(line, m) {
					return line
				}
			}
		case <-deadline:
			t.Fatalf("none of %q within %v", markers, waitFor)
		}
	}
}

func waitCmd(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
	case <-time.After(waitFor):
		t.Fatalf("%s did not exit within %v", cmd.Path, waitFor)
	}
}

func TestFromActivationEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	const pid = 4242
	for _, tt := range []struct {
		name    string
		getenv  func(string) string
		wantErr string
	}{
		{"not-activated", env(), ""},
		{"for-another-process", env("LISTEN_PID", "1", "LISTEN_FDS", "1"), ""},
		{"zero-fds", env("LISTEN_PID", "4242", "LISTEN_FDS", "0"), ""},
		{"malformed-pid", env("LISTEN_PID", "me", "LISTEN_FDS", "1"), "LISTEN_PID"},
		{"malformed-count", env("LISTEN_PID", "4242", "LISTEN_FDS", "two"), "LISTEN_FDS"},
		{"negative-count", env("LISTEN_PID", "4242", "LISTEN_FDS", "-1"), "LISTEN_FDS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ls, err := FromActivation(tt.getenv, pid)
			if len(ls) != 0 {
				t.Fatalf("got %d listeners", len(ls))
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestBind(t *testing.T) {
	t.Run("address-in-use-names-it-and-binds-none", func(t *testing.T) {
		t.Parallel()
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		sock := filepath.Join(t.TempDir(), "first.sock")
		_, err = Bind([]Spec{
			{Name: "first", Address: "unix:" + sock},
			{Name: "api", Address: taken.Addr().String()},
		})
		if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), taken.Addr().String()) || !strings.Contains(err.Error(), `"api"`) {
			t.Fatalf("error = %v, want address in use naming %q and %s", err, "api", taken.Addr())
		}
		if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the first socket was left open: %v", err)
		}
	})
	t.Run("invalid-specs-all-reported", func(t *testing.T) {
		t.Parallel()
		_, err := Bind([]Spec{
			{Name: "", Address: "127.0.0.1:80"},
			{Name: "a:b", Address: "127.0.0.1:81"},
			{Name: "noport", Address: "127.0.0.1"},
			{Name: "badport", Address: "127.0.0.1:99999"},
			{Name: "nopath", Address: "unix:"},
			{Name: "v6", Address: "[::1]:8080"},
			{Name: "v6-again", Address: "[0:0::1]:8080"},
		})
		if err == nil {
			t.Fatal("Bind accepted invalid specs")
		}
		for _, want := range []string{`name ""`, `"a:b"`, `"127.0.0.1"`, "99999", `"unix:"`, `"v6-again": address [0:0::1]:8080 is already used by "v6"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %s:\n%v", want, err)
			}
		}
	})
	t.Run("ipv6-loopback", func(t *testing.T) {
		t.Parallel()
		if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
			t.Skipf("SKIPPED: no IPv6 loopback: %v", err)
		} else {
			ln.Close()
		}
		ls := bindT(t, Spec{Name: "v6", Address: "[::1]:0"})
		if c, err := net.DialTimeout("tcp", ls[0].Addr().String(), waitFor); err != nil {
			t.Fatal(err)
		} else {
			c.Close()
		}
	})
	t.Run("stale-unix-socket-replaced-live-one-kept", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		stale, live := filepath.Join(dir, "stale.sock"), filepath.Join(dir, "live.sock")
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false) // as if vigil had been SIGKILLed
		old.Close()
		bindT(t, Spec{Name: "s", Address: "unix:" + stale})

		other, err := net.Listen("unix", live)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := Bind([]Spec{{Name: "l", Address: "unix:" + live}}); !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("binding over a live socket: %v, want address in use", err)
		}
		if c, err := net.Dial("unix", live); err != nil {
			t.Fatalf("the live socket was disturbed: %v", err)
		} else {
			c.Close()
		}
	})
}

func TestReconcile(t *testing.T) {
	t.Run("keeps-matching-binds-new-reports-removed", func(t *testing.T) {
		t.Parallel()
		old := bindT(t,
			Spec{Name: "api", Address: "127.0.0.1:0"},
			Spec{Name: "metrics", Address: "127.0.0.1:0"},
		)
		apiAddr := old[0].Addr().String()
		sock := filepath.Join(t.TempDir(), "admin.sock")
		next, removed, err := Reconcile(old, []Spec{
			{Name: "web", Address: apiAddr},
			{Name: "admin", Address: "unix:" + sock},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = CloseAll(next) })
		if len(next) != 2 || next[0] != old[0] || next[0].Name != "web" {
			t.Fatalf("next[0] = %+v, want the held api socket renamed web", next[0])
		}
		if next[1].Name != "admin" || next[1].Address != "unix:"+sock {
			t.Fatalf("next[1] = %+v", next[1])
		}
		if len(removed) != 1 || removed[0] != old[1] {
			t.Fatalf("removed = %+v, want the metrics socket", removed)
		}
	})
	t.Run("same-text-keeps-socket", func(t *testing.T) {
		t.Parallel()
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		old := bindT(t, Spec{Name: "api", Address: addr})
		next, removed, err := Reconcile(old, []Spec{{Name: "api", Address: addr}})
		if err != nil || len(next) != 1 || next[0] != old[0] || len(removed) != 0 {
			t.Fatalf("Reconcile = %+v, %+v, %v; want the socket kept", next, removed, err)
		}
	})
	t.Run("bind-failure-changes-nothing", func(t *testing.T) {
		t.Parallel()
		old := bindT(t, Spec{Name: "api", Address: "127.0.0.1:0"})
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		_, _, err = Reconcile(old, []Spec{
			{Name: "renamed", Address: old[0].Addr().String()},
			{Name: "x", Address: taken.Addr().String()},
		})
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("error = %v, want address in use", err)
		}
		if old[0].Name != "api" {
			t.Fatalf("held socket renamed to %q despite the error", old[0].Name)
		}
	})
}

func TestScrubEnv(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []string
		want []string
	}{
		{"nothing-to-remove", []string{"PATH=/bin", "HOME=/root"}, []string{"PATH=/bin", "HOME=/root"}},
		{"all-vigil-own-removed", []string{
			"LISTEN_FDS=2", "PATH=/bin", "LISTEN_PID=1", "LISTEN_FDNAMES=a:b",
			"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=1", "TZ=UTC",
		}, []string{"PATH=/bin", "TZ=UTC"}},
		{"prefix-lookalikes-kept", []string{"LISTEN_FDS_EXTRA=1", "XLISTEN_PID=2", "NOTIFY_SOCKETS=3"},
			[]string{"LISTEN_FDS_EXTRA=1", "XLISTEN_PID=2", "NOTIFY_SOCKETS=3"}},
		{"entry-without-value-removed", []string{"NOTIFY_SOCKET", "LISTEN_PID=", "A=B"}, []string{"A=B"}},
		{"empty", nil, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := ScrubEnv(in); !slices.Equal(got, tt.want) {
				t.Fatalf("ScrubEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Fatal("ScrubEnv modified its input")
			}
		})
	}
}
