package sockets

import (
	"slices"
	"strings"
)

// vigilOwnVars are the variables systemd hands to vigil itself. Passed on
// unchanged they would be wrong for a child: LISTEN_PID names vigil (or, if
// a child reads LISTEN_FDS without checking it, the fds mean something
// else), NOTIFY_SOCKET would send the child's READY=1 to systemd instead of
// vigil, and WATCHDOG_* would make the child ping systemd's watchdog.
var vigilOwnVars = []string{
	"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
	"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
}

// ScrubEnv returns env (KEY=VALUE entries, as os.Environ gives) without
// vigil's own socket-activation, notify and watchdog variables. Add the
// child's own values (ChildFiles' env, its NOTIFY_SOCKET) after scrubbing.
// env is not modified.
func ScrubEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(vigilOwnVars, key) {
			out = append(out, kv)
		}
	}
	return out
}
