package sockets

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listenFDsStart is the first fd of the socket-activation contract.
const listenFDsStart = 3

// FromActivation takes the listening sockets vigil itself was handed by
// systemd (LISTEN_FDS with LISTEN_PID equal to pid), named from
// LISTEN_FDNAMES ("LISTEN_FD_<fd>" where a name is missing, as go-systemd
// names them). It returns (nil, nil) when vigil was not socket-activated or
// the variables are meant for another process, and an error when they are
// malformed or an fd is not a listening stream socket (then it closes what
// it took).
//
// The fds are marked close-on-exec first, so they never leak into a child
// as they are: children get duplicates through ChildFiles. Pass os.Getenv
// and os.Getpid(); the variables stay in vigil's environment, so build
// children's environments with ScrubEnv.
//
// go-systemd's activation.Files does the same, but reads the process
// environment and pid itself (and can only unset the variables, which a
// test cannot undo), so it cannot take getenv and pid.
func FromActivation(getenv func(string) string, pid int) ([]*Listener, error) {
	n, err := activatedCount(getenv, pid)
	if n == 0 || err != nil {
		return nil, err
	}
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		unix.CloseOnExec(fd)
	}
	names := strings.Split(getenv("LISTEN_FDNAMES"), ":")
	ls := make([]*Listener, 0, n)
	for i := range n {
		fd := listenFDsStart + i
		name := "LISTEN_FD_" + strconv.Itoa(fd)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		l, err := inherit(fd, name)
		if err != nil {
			_ = CloseAll(ls)
			return nil, fmt.Errorf("socket activation: %w", err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// activatedCount reads LISTEN_PID and LISTEN_FDS: 0 when the contract does
// not apply to pid.
func activatedCount(getenv func(string) string, pid int) (int, error) {
	lp := getenv("LISTEN_PID")
	if lp == "" {
		return 0, nil
	}
	p, err := strconv.Atoi(lp)
	if err != nil {
		return 0, fmt.Errorf("socket activation: LISTEN_PID=%q is not a pid", lp)
	}
	if p != pid {
		return 0, nil // inherited by mistake from an ancestor: not ours
	}
	n, err := strconv.Atoi(getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count", getenv("LISTEN_FDS"))
	}
	return n, nil
}

// inherit wraps an inherited fd in a Listener after checking it is a
// listening stream socket. net.FileListener works on a duplicate; the
// original fd is closed.
func inherit(fd int, name string) (*Listener, error) {
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("fd %d: %w", fd, err)
	}
	accepting, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil || accepting != 1 {
		// A datagram socket or a FIFO (systemd can pass both) would
		// otherwise slip through net.FileListener as a listener.
		return nil, fmt.Errorf("fd %d (%s) is not a listening stream socket", fd, name)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("fd %d (%s): %w", fd, name, err)
	}
	return newListener(name, addressOf(ln), ln), nil
}
