// Package notify speaks systemd's sd_notify protocol in both directions.
//
// Receiving: vigil is the notify server for its children. Listen creates a
// unixgram socket for one child (its path goes into the child's
// NOTIFY_SOCKET), so every datagram on it is attributable to that child and
// its descendants without checking credentials, as systemd's
// NotifyAccess=all. go-systemd only sends; this side is ours.
//
// Sending: Ready, Reloading, Stopping, Status, ExtendTimeout and Watchdog
// tell the service manager that started vigil (systemd, Type=notify) about
// vigil itself, through go-systemd's daemon.SdNotify.
package notify

import (
	"strconv"
	"strings"
	"time"
)

// Message is one parsed notification datagram.
type Message struct {
	Ready     bool // READY=1: startup or reload finished
	Stopping  bool // STOPPING=1: shutting down
	Reloading bool // RELOADING=1: reloading its configuration
	Watchdog  bool // WATCHDOG=1: watchdog keep-alive
	// Status is the free-form STATUS= text, "" when absent.
	Status string
	// MainPID is MAINPID=, the pid the sender says is the main process; 0
	// when absent or not a positive number.
	MainPID int
	// ExtendTimeout is EXTEND_TIMEOUT_USEC=: the sender asks for this much
	// more time for the current start, reload or stop. 0 when absent.
	ExtendTimeout time.Duration
	// Monotonic is MONOTONIC_USEC=, the CLOCK_MONOTONIC time the sender
	// attached to RELOADING=1. 0 when absent.
	Monotonic time.Duration
	// Vars holds every well-formed KEY=VALUE line, the ones above included,
	// so keys this type does not model (ERRNO=, FDSTORE=, ...) stay visible.
	// The last of repeated keys wins.
	Vars map[string]string
	// PID is the sending process from SCM_CREDENTIALS: the child, or any of
	// its descendants. systemd-notify (252) sends on behalf of its parent
	// when it may (as root it sets the credentials to getppid(), so a shell
	// child's `systemd-notify --ready` shows the shell's pid) and as itself
	// otherwise. 0 if the kernel could not map the sender into our pid
	// namespace. For logging: the socket, not the pid, says which child.
	PID int
	// FDs is the number of file descriptors that came with the datagram
	// (FDSTORE=1). vigil keeps no fd store: they were closed on receipt.
	FDs int
	// Malformed counts lines that were not KEY=VALUE and were ignored.
	Malformed int
}

// parse reads the newline-separated KEY=VALUE lines of a datagram. Unknown
// keys only land in Vars; malformed lines are counted and skipped.
func parse(datagram []byte) Message {
	m := Message{Vars: map[string]string{}}
	for line := range strings.SplitSeq(string(datagram), "\n") {
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			m.Malformed++
			continue
		}
		m.Vars[key] = value
		m.apply(key, value)
	}
	return m
}

// apply sets the modelled field for one pair. Values other than those the
// protocol defines are ignored, as systemd ignores them (READY=0 is not
// "not ready", it is nothing).
func (m *Message) apply(key, value string) {
	switch key {
	case "READY":
		m.Ready = m.Ready || value == "1"
	case "STOPPING":
		m.Stopping = m.Stopping || value == "1"
	case "RELOADING":
		m.Reloading = m.Reloading || value == "1"
	case "WATCHDOG":
		m.Watchdog = m.Watchdog || value == "1"
	case "STATUS":
		m.Status = value
	case "MAINPID":
		if pid, err := strconv.Atoi(value); err == nil && pid > 0 {
			m.MainPID = pid
		}
	case "EXTEND_TIMEOUT_USEC":
		m.ExtendTimeout = usec(value)
	case "MONOTONIC_USEC":
		m.Monotonic = usec(value)
	}
}

// usec parses a microsecond count; anything invalid or out of range is 0.
func usec(s string) time.Duration {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}

// validKey accepts environment-variable-style names, which is what the
// protocol's keys are.
func validKey(key string) bool {
	if key == "" || (key[0] >= '0' && key[0] <= '9') {
		return false
	}
	for _, c := range []byte(key) {
		upper, digit := c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
		lower := c >= 'a' && c <= 'z'
		if !upper && !digit && !lower && c != '_' {
			return false
		}
	}
	return true
}
