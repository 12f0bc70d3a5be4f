package notify

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"
)

// TestListenAbstract: with no writable directory, the socket lives in the
// abstract namespace; go-systemd and systemd-notify both reach it by the
// "@name" NOTIFY_SOCKET form.
func TestListenAbstract(t *testing.T) {
	s, err := ListenAbstract(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.Path(), "@vigil-notify-") {
		t.Fatalf("Path() = %q", s.Path())
	}
	t.Run("from-go-systemd-sdnotify", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", s.Path())
		if sent, err := daemon.SdNotify(false, "READY=1\nSTATUS=abstract"); !sent || err != nil {
			t.Fatalf("SdNotify = %v, %v", sent, err)
		}
		if m := recv(t, s); !m.Ready || m.Status != "abstract" || m.PID != os.Getpid() {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("from-systemd-notify-binary", func(t *testing.T) {
		tool := requireTool(t, "systemd-notify")
		cmd := exec.Command(tool, "--ready", "--status=hi")
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+s.Path())
		runBounded(t, cmd)
		if m := recv(t, s); !m.Ready || m.Status != "hi" {
			t.Fatalf("got %+v", m)
		}
	})
	if err := s.Chown(os.Getuid(), os.Getgid()); err != nil {
		t.Errorf("Chown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, ok := <-s.Messages(); ok {
		t.Error("Messages not closed after Close")
	}
}
