package sockets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"
)

// helperEnv selects what a re-executed test binary does instead of running
// the tests (os/exec's helper-process pattern).
const helperEnv = "VIGIL_SOCKETS_HELPER"

// waitFor bounds every wait: far above what a loaded machine needs.
const waitFor = 10 * time.Second

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "serve-one":
		helperServeOne()
	case "report":
		helperReport()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperServeOne is a program other than vigil's own: it takes its socket
// with go-systemd's activation package, answers one HTTP request with its
// pid, and exits.
func helperServeOne() {
	lns, err := activation.Listeners()
	if err != nil || len(lns) == 0 || lns[0] == nil {
		fmt.Fprintf(os.Stderr, "no inherited listener (LISTEN_PID=%s LISTEN_FDS=%s): %v\n",
			os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), err)
		os.Exit(3)
	}
	if err := serveOne(lns[0], fmt.Sprintf("pid=%d", os.Getpid())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	os.Exit(0)
}

// serveOne answers one HTTP request on ln with body.
func serveOne(ln net.Listener, body string) error {
	conn, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitFor))
	if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	resp := &http.Response{
		StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Close: true,
	}
	return resp.Write(conn)
}

// report is what helperReport found, sent back as JSON.
type report struct {
	Listeners []reportedListener
	// GrandchildFDs lists the fds a process started after FromActivation
	// inherited, as "fd=link-target" separated by spaces.
	GrandchildFDs string
	Error         string
}

type reportedListener struct {
	Name, Address string
	CloseOnExec   bool
}

// helperReport takes its sockets with FromActivation and reports them on
// stdout; with VIGIL_HELPER_SERVE=1 it also answers one HTTP request on the
// first one with the same report.
func helperReport() {
	r := report{}
	ls, err := FromActivation(os.Getenv, os.Getpid())
	if err != nil {
		r.Error = err.Error()
	}
	for _, l := range ls {
		r.Listeners = append(r.Listeners, reportedListener{Name: l.Name, Address: l.Address, CloseOnExec: cloexec(l)})
	}
	fds, err := grandchildFDs()
	if err != nil {
		r.Error += " grandchild: " + err.Error()
	}
	r.GrandchildFDs = fds
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	if os.Getenv("VIGIL_HELPER_SERVE") == "1" && len(ls) > 0 {
		if err := serveOne(ls[0].ln, string(b)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
	}
	os.Exit(0)
}

// grandchildFDs starts cat, which blocks reading its stdin, and lists the
// fds it inherited from /proc.
func grandchildFDs() (string, error) {
	cmd := exec.Command("cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer cmd.Wait()
	defer stdin.Close()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
	if err != nil {
		return "", err
	}
	var fds []string
	for _, e := range entries {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, e.Name()))
		fds = append(fds, e.Name()+"="+target)
	}
	return strings.Join(fds, " "), nil
}

func cloexec(l *Listener) bool {
	var flags int
	_ = l.control(func(fd int) { flags, _ = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0) })
	return flags&unix.FD_CLOEXEC != 0
}

// nonBlocking reports whether the socket's open file description - shared
// by vigil and every child holding a duplicate - is in O_NONBLOCK mode.
func nonBlocking(t *testing.T, l *Listener) bool {
	t.Helper()
	var flags int
	var ferr error
	if err := l.control(func(fd int) { flags, ferr = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0) }); err != nil || ferr != nil {
		t.Fatalf("F_GETFL: %v %v", err, ferr)
	}
	return flags&unix.O_NONBLOCK != 0
}

// child is a re-executed test binary started the way vigil starts children:
// sockets from ChildFiles at fds 3.., LISTEN_PID set by a re-exec stub to
// the child's own pid (exec keeps the pid), vigil's own variables scrubbed.
type child struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

func startChild(t *testing.T, ls []*Listener, helper string) *child {
	t.Helper()
	files, env, err := ChildFiles(ls)
	if err != nil {
		t.Fatal(err)
	}
	return startChildWith(t, files, env, helper)
}

// startChildWith starts a child with any files at fds 3.. and env; it
// closes the files once the child has them.
func startChildWith(t *testing.T, files []*os.File, env []string, helper string) *child {
	t.Helper()
	c := &child{done: make(chan error, 1)}
	c.cmd = exec.Command("sh", "-c", `export LISTEN_PID=$$; exec "$0"`, os.Args[0])
	c.cmd.Env = append(append(ScrubEnv(os.Environ()), env...), helperEnv+"="+helper)
	c.cmd.ExtraFiles = files
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	err := c.cmd.Start()
	closeFiles(files) // the child has its copies; vigil keeps only its own
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// wait waits for the child to exit successfully.
func (c *child) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for Cleanup
		if err != nil {
			t.Fatalf("child: %v\nstderr: %s", err, c.stderr.String())
		}
	case <-time.After(waitFor):
		t.Fatalf("child did not exit within %v\nstderr: %s", waitFor, c.stderr.String())
	}
}

// request is one HTTP request on its own connection, split so a test can
// connect while no child is running and read the answer later.
type request struct {
	conn net.Conn
	req  *http.Request
}

// dial connects and sends a request. Connection refused fails the test:
// the port was not held.
func dial(t *testing.T, addr string) *request {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitFor))
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err := req.Write(conn); err != nil {
		t.Fatalf("send request: %v", err)
	}
	return &request{conn: conn, req: req}
}

func (r *request) body(t *testing.T) string {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(r.conn), r.req)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
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
