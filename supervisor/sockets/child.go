package sockets

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ChildFiles duplicates the listeners for one child. Put files in
// exec.Cmd.ExtraFiles in this order (they become fds 3, 4, ...), add env to
// the child's environment, and close the files once the child has started.
// env is LISTEN_FDS and LISTEN_FDNAMES; LISTEN_PID must be the child's own
// pid, unknown before it starts, so the child's re-exec stub sets it.
// No listeners gives no files and no env.
//
// The duplicates are made with F_DUPFD_CLOEXEC on the socket's fd, never
// with (*net.TCPListener).File: that returns a file which switches the
// shared socket to blocking mode as soon as os/exec asks it for its fd, for
// vigil and every child alike, and a draining child then hangs in accept.
// A duplicate shares the open file description (and so O_NONBLOCK), which
// os.NewFile leaves as it is. CLOEXEC keeps the copies from leaking into
// other children started meanwhile; os/exec clears it on fds 3, 4, ... in
// the child.
func ChildFiles(ls []*Listener) (files []*os.File, env []string, err error) {
	if len(ls) == 0 {
		return nil, nil, nil
	}
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		f, err := l.dup()
		if err != nil {
			closeFiles(files)
			return nil, nil, fmt.Errorf("duplicate listener %q (%s): %w", l.Name, l.Address, err)
		}
		files = append(files, f)
		names = append(names, l.Name)
	}
	env = []string{
		"LISTEN_FDS=" + strconv.Itoa(len(ls)),
		"LISTEN_FDNAMES=" + strings.Join(names, ":"),
	}
	return files, env, nil
}

func (l *Listener) dup() (*os.File, error) {
	var nfd int
	var derr error
	err := l.control(func(fd int) {
		nfd, derr = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), l.Name), nil
}
