package e2e

import (
	"strings"
	"testing"
)

// reloadsPerWay times three ways of editing is the "at least 20".
const reloadsPerWay = 8

// Keep-alive clients send creates and reads at full speed while the server's
// config is rewritten, each rewrite waited for until the new child serves
// and the old one is gone: no request fails, and every one-time secret
// created meanwhile is read exactly once afterwards.
func TestReloadUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout func(dir string) configFile
	}{
		{"in-place-write", newInPlace},
		{"save-by-rename", newRenamed},
		{"configmap-symlink-swap", newConfigMap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.layout)
			r.start()
			pid := r.serverPid()
			l := startLoad(t, r.base, 8)
			l.waitMore(r, 200)
			for rev := 1; rev <= reloadsPerWay; rev++ {
				r.writeServer(rev)
				next := r.waitReplaced(pid, rev)
				t.Logf("revision %d: child %d replaced %d", rev, next, pid)
				pid = next
				l.waitMore(r, 100)
			}
			l.check(t)
			l.checkReadOnce(t)
			checkReloadNotifications(t, r.notify.messages(), reloadsPerWay)
		})
	}
}

// checkReloadNotifications wants what systemd's Type=notify expects around
// each reload: RELOADING=1 with MONOTONIC_USEC=, then READY=1 before the
// next reload begins, at least n times.
func checkReloadNotifications(t *testing.T, msgs []string, n int) {
	t.Helper()
	reloads, open := 0, false
	for _, m := range msgs {
		switch {
		case strings.Contains(m, "RELOADING=1"):
			if open {
				t.Errorf("RELOADING=1 while the previous reload has not sent READY=1:\n%s", strings.Join(msgs, "\n"))
				return
			}
			if !strings.Contains(m, "MONOTONIC_USEC=") {
				t.Errorf("RELOADING=1 without MONOTONIC_USEC=: %q", m)
			}
			reloads++
			open = true
		case strings.Contains(m, "READY=1"):
			open = false
		}
	}
	if open || reloads < n {
		t.Errorf("%d RELOADING=1 notifications (want at least %d), last one answered by READY=1: %v\n%s", reloads, n, !open, strings.Join(msgs, "\n"))
	}
}
