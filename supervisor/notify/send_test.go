package notify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// managerSocket is a plain unixgram socket standing in for systemd's
// notify socket, independent of this package's receiving side.
func managerSocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func readDatagram(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxDatagram)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func TestSend(t *testing.T) {
	for _, tt := range []struct {
		name string
		send func() error
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"stopping", Stopping, "STOPPING=1"},
		{"watchdog", Watchdog, "WATCHDOG=1"},
		{"status-newlines-flattened", func() error { return Status("reload failed:\ncheck exited 78") }, "STATUS=reload failed: check exited 78"},
		{"extend-timeout-in-usec", func() error { return ExtendTimeout(90 * time.Second) }, "EXTEND_TIMEOUT_USEC=90000000"},
		{"several-lines-one-datagram", func() error { return Send("READY=1", "STATUS=serving") }, "READY=1\nSTATUS=serving"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn := managerSocket(t)
			if err := tt.send(); err != nil {
				t.Fatal(err)
			}
			if got := readDatagram(t, conn); got != tt.want {
				t.Fatalf("sent %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("reloading-carries-monotonic-usec", func(t *testing.T) {
		conn := managerSocket(t)
		before := monotonicUsec()
		if err := Reloading(); err != nil {
			t.Fatal(err)
		}
		after := monotonicUsec()
		got := readDatagram(t, conn)
		lines := strings.Split(got, "\n")
		if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
			t.Fatalf("sent %q", got)
		}
		usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
		if err != nil || usec < before || usec > after {
			t.Fatalf("MONOTONIC_USEC=%d, want within [%d, %d] (%v)", usec, before, after, err)
		}
	})
	t.Run("no-op-without-notify-socket", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		os.Unsetenv("NOTIFY_SOCKET")
		for _, f := range []func() error{Ready, Reloading, Stopping, Watchdog} {
			if err := f(); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
		}
	})
	t.Run("keeps-notify-socket-in-env", func(t *testing.T) {
		conn := managerSocket(t)
		path := os.Getenv("NOTIFY_SOCKET")
		if err := Ready(); err != nil {
			t.Fatal(err)
		}
		readDatagram(t, conn)
		if os.Getenv("NOTIFY_SOCKET") != path {
			t.Fatal("NOTIFY_SOCKET was unset: later notifications would be lost")
		}
	})
	t.Run("unreachable-socket-is-an-error", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
		if err := Ready(); err == nil {
			t.Fatal("got nil, want an error")
		}
	})
	t.Run("received-by-our-own-socket", func(t *testing.T) {
		s := listenT(t)
		t.Setenv("NOTIFY_SOCKET", s.Path())
		if err := Send("READY=1", "STATUS=relayed"); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, s); !m.Ready || m.Status != "relayed" || m.PID != os.Getpid() {
			t.Fatalf("got %+v", m)
		}
	})
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tt := range []struct {
		name, usec, pid string
		want            time.Duration
		wantErr         bool
	}{
		{"half-of-watchdog-usec", "20000000", self, 10 * time.Second, false},
		{"no-pid-means-ours", "3000000", "", 1500 * time.Millisecond, false},
		{"other-process-watchdog", "20000000", "1", 0, false},
		{"unset", "", "", 0, false},
		{"malformed", "soon", "", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			got, err := WatchdogInterval()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("WatchdogInterval() = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
