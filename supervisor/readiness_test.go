package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireTool finds a systemd tool: a missing one fails the test when
// VIGIL_REQUIRE_SYSTEMD_TOOLS=1 and skips it loudly otherwise.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_SYSTEMD_TOOLS") == "1" {
			t.Fatalf("%s is required (VIGIL_REQUIRE_SYSTEMD_TOOLS=1): %v", name, err)
		}
		t.Skipf("SKIPPED: %s not found; install systemd, or set VIGIL_REQUIRE_SYSTEMD_TOOLS=1 to make this a failure: %v", name, err)
	}
	return p
}

func TestReadiness(t *testing.T) {
	t.Run("notify/ready-on-READY=1", func(t *testing.T) {
		s := startServed(t, serveConfig{})
		s.waitLog(t, "child ready: pid="+itoa(s.first.pid))
		s.waitLog(t, "via=READY=1")
		s.waitLog(t, `child status: pid=`+itoa(s.first.pid)+` role=current status="serving v1"`)
		if got := get(t, s.first.addr(), "/"); got != answer(s.first.pid, "v1") {
			t.Fatalf("answer %q", got)
		}
		s.stopped(t, 0)
	})
	t.Run("notify/abstract-socket-without-writable-tmpdir", func(t *testing.T) {
		// A read-only root filesystem: no directory for notify sockets.
		s := startServed(t, serveConfig{}, "TMPDIR="+filepath.Join(t.TempDir(), "missing"))
		if n := s.first.fields["notify"]; !strings.HasPrefix(n, "@vigil-notify-") {
			t.Fatalf("child's NOTIFY_SOCKET %q, want an abstract socket", n)
		}
		s.waitLog(t, "using abstract sockets")
		s.waitLog(t, "child ready: pid="+itoa(s.first.pid))
		s.stopped(t, 0)
	})
	t.Run("notify/never-ready/start-timeout-exit-69", func(t *testing.T) {
		s := startServed(t, serveConfig{env: []string{envNotify + "=never"}, startTimeout: "300ms"})
		if code := s.wait(t); code != 69 {
			t.Fatalf("exit %d, want 69; stderr:\n%s", code, s.stderr)
		}
		for _, want := range []string{"child not ready within start_timeout; killing it", "exit_code=69"} {
			if !strings.Contains(s.stderr.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, s.stderr)
			}
		}
		if strings.Contains(s.stderr.String(), "child ready") {
			t.Errorf("a child that never notified was taken for ready:\n%s", s.stderr)
		}
	})
	t.Run("notify/never-ready/restart-policy-applies", func(t *testing.T) {
		dir := t.TempDir()
		config := filepath.Join(dir, "vigil.toml")
		writeFile(t, config, `command = ["/bin/sh", "-c", "echo up; exec sleep 1000"]
restart_backoff = "1ms"
restart_max = 1
[readiness]
mode = "notify"
start_timeout = "200ms"
`)
		v := startVigil(t, launch{args: []string{"-config", config}})
		if code := v.wait(t); code != 69 {
			t.Fatalf("exit %d, want 69; stderr:\n%s", code, v.stderr)
		}
		log := v.stderr.String()
		if n := strings.Count(log, "child not ready within start_timeout"); n != 2 {
			t.Errorf("%d start timeouts, want 2 (first start and one restart):\n%s", n, log)
		}
		if !strings.Contains(log, "restart limit reached") {
			t.Errorf("log lacks the restart limit:\n%s", log)
		}
	})
	t.Run("started/ready-at-exec", func(t *testing.T) {
		v := startVigil(t, launch{args: []string{"-readiness", "started", "--", "/bin/sh", "-c", "echo up; exec sleep 1000"}})
		v.out.waitFor(t, "up")
		v.waitLog(t, "child ready")
		v.waitLog(t, "via=started")
		v.stopped(t, 0)
	})
	t.Run("started/ready-after-delay", func(t *testing.T) {
		dir := t.TempDir()
		config := filepath.Join(dir, "vigil.toml")
		writeFile(t, config, `command = ["/bin/sh", "-c", "echo up; exec sleep 1000"]
log_format = "json"
[readiness]
mode = "started"
delay = "300ms"
`)
		v := startVigil(t, launch{args: []string{"-config", config}})
		v.waitLog(t, `"child ready"`)
		lines := logLines(t, v.stderr.String(), "child ready")
		if len(lines) != 1 || lines[0]["via"] != "started, after the delay" {
			t.Fatalf("ready lines %v", lines)
		}
		// hclog writes a time.Duration to JSON as its nanoseconds.
		if ns, _ := lines[0]["ready_in"].(float64); time.Duration(ns) < 300*time.Millisecond {
			t.Errorf("ready after %s, before the 300ms delay", time.Duration(ns))
		}
		v.stopped(t, 0)
	})
	t.Run("notify/systemd-notify-from-shell-script", func(t *testing.T) {
		tool := requireTool(t, "systemd-notify")
		// The shell runs systemd-notify as a child (the trailing echo keeps
		// sh from exec'ing it): a descendant's READY=1 counts.
		script := `"$0" --ready --status="from script"; echo notified; exec sleep 1000`
		v := startVigil(t, launch{args: []string{"-readiness", "notify", "-start-timeout", "20s", "--", "/bin/sh", "-c", script, tool}})
		v.out.waitFor(t, "notified") // systemd-notify returned: its barrier was answered
		v.waitLog(t, "child ready")
		v.waitLog(t, `status="from script"`)
		v.stopped(t, 0)
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
