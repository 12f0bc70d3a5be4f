package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopBound is how long vigil may take to exit after SIGTERM: its drain
// timeout (10 s in every rig) plus room for a loaded machine.
const stopBound = 25 * time.Second

// SIGTERM while a reload is under way stops both children, old and new,
// within the drain deadline; vigil exits 0 (both ended as the table's "stop
// requested" row says: exit 0, or died of the stop signal vigil sent) and
// leaves no process behind.
func TestStopDuringReload(t *testing.T) {
	t.Run("new-child-not-ready-yet", func(t *testing.T) {
		r := newRig(t, newInPlace)
		r.start()
		old := r.serverPid()
		r.vcfg.Command = []string{neverReadyBin(t, r.dir), "1000"}
		r.writeVigil()
		var starting int
		r.poll("the new child to start", 30*time.Second, func() bool {
			for _, p := range children(r.cmd.Process.Pid) {
				if args := cmdline(p); p != old && len(args) > 0 && strings.HasSuffix(args[0], "never-ready") {
					starting = p
				}
			}
			return starting != 0
		})
		r.stopAndCheck(old, starting)
	})

	t.Run("old-child-draining", func(t *testing.T) {
		r := newRig(t, newInPlace)
		r.start()
		slow, old, next := r.drainingOld()
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		send(t, slow, oneTimeBody[10:])
		if st := readStatus(t, slow); st != 200 {
			t.Fatalf("the request in flight on the draining child got %d, want 200", st)
		}
		r.checkStopped(r.wait(stopBound), old, next)
	})

	// The old child's in-flight request never completes and its own drain
	// timeout is far away: vigil kills it at its drain deadline. An old
	// child never decides vigil's exit code; the serving child stopped
	// cleanly, so vigil exits 0.
	t.Run("old-child-stuck/killed-at-deadline", func(t *testing.T) {
		r := newRig(t, newInPlace)
		r.vcfg.DrainTimeout = "2s"
		r.serverDrain = "120s"
		r.start()
		_, old, next := r.drainingOld()
		offset := r.log.Len()
		r.stopAndCheck(old, next)
		r.waitLog(offset, `[^\n]*old child killed after the drain deadline[^\n]*`)
	})
}

// drainingOld sets up the middle of a reload: a request the old child has
// begun to read (its drain waits for it), a config edit, and then the new
// child serving while the old one drains. It returns the connection of the
// request, whose last bytes are oneTimeBody[10:], and both pids.
func (r *rig) drainingOld() (slow net.Conn, old, next int) {
	r.t.Helper()
	old = r.serverPid()
	slow = r.dial()
	if st := roundTrip(r.t, slow, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); st != 200 {
		r.t.Fatalf("health: %d", st)
	}
	if owner := r.connOwner(slow); owner != old {
		r.t.Fatalf("the slow connection is served by %d, want the old child %d", owner, old)
	}
	head := fmt.Sprintf("POST /create/secret HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(oneTimeBody))
	send(r.t, slow, head+oneTimeBody[:10])

	r.writeServer(1)
	inode := listenerInode(r.port())
	// The old child closes its listener when its drain starts, which vigil
	// begins once the new child is ready.
	r.poll("the new child to serve and the old one to drain", 60*time.Second, func() bool {
		for _, p := range serverChildren(r.cmd.Process.Pid) {
			if p != old && holds(p, inode) {
				next = p
			}
		}
		return next != 0 && alive(old) && !holds(old, inode)
	})
	return slow, old, next
}

// stopAndCheck sends SIGTERM and checks how vigil ended.
func (r *rig) stopAndCheck(pids ...int) {
	r.t.Helper()
	code, took := r.stop(stopBound)
	r.t.Logf("vigil exited %d, %v after SIGTERM", code, took.Round(time.Millisecond))
	r.checkStopped(code, pids...)
}

// checkStopped wants exit code 0, every pid gone and nothing of this test
// left running.
func (r *rig) checkStopped(code int, pids ...int) {
	r.t.Helper()
	if code != 0 {
		r.t.Errorf("vigil exited %d, want 0", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, p := range pids {
			if alive(p) {
				left = append(left, strconv.Itoa(p)+" "+strings.Join(cmdline(p), " "))
			}
		}
		left = append(left, leftovers(r.dir)...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(left)
			r.t.Fatalf("processes left behind after vigil exited:\n%s", strings.Join(slices.Compact(left), "\n"))
		}
		time.Sleep(10 * time.Millisecond) // an orphan's reaping by init, polled with a deadline
	}
}

func (r *rig) port() int {
	_, p, _ := net.SplitHostPort(r.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (r *rig) dial() net.Conn {
	r.t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// connOwner is the child holding the server's end of c, or 0.
func (r *rig) connOwner(c net.Conn) int {
	inode := connInode(r.port(), c.LocalAddr().(*net.TCPAddr).Port)
	for _, p := range children(r.cmd.Process.Pid) {
		if holds(p, inode) {
			return p
		}
	}
	return 0
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// roundTrip sends a whole request on c and returns the answer's status.
func roundTrip(t *testing.T, c net.Conn, req string) int {
	t.Helper()
	send(t, c, req)
	return readStatus(t, c)
}

func readStatus(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read a response: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
