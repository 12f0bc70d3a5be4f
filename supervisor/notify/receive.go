package notify

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// read receives datagrams until the socket is closed.
func (s *Socket) read() {
	defer close(s.exited)
	defer close(s.msgs)
	buf := make([]byte, MaxDatagram)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*maxFDsPerMessage))
	for {
		n, oobn, flags, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("receive notification; no more notifications will be seen", "error", err)
			}
			return
		}
		m, ok := s.message(buf[:n], oob[:oobn], flags)
		if !ok {
			continue
		}
		select {
		case s.msgs <- m:
		case <-s.done:
			return
		}
	}
}

// message turns one received datagram into a Message, closing any fds that
// came with it. ok is false for a datagram to drop.
func (s *Socket) message(data, oob []byte, flags int) (m Message, ok bool) {
	pid, fds := s.control(oob)
	if flags&unix.MSG_CTRUNC != 0 {
		// The kernel closed the fds that did not fit; nothing leaked.
		s.log.Warn("notification carried more control data than expected", "pid", pid)
	}
	if flags&unix.MSG_TRUNC != 0 {
		s.log.Warn("dropped a notification over the size limit", "pid", pid, "limit", MaxDatagram)
		return m, false
	}
	if len(data) == 0 {
		return m, false
	}
	m = parse(data)
	m.PID, m.FDs = pid, fds
	if isBarrier(m) {
		// sd_notify_barrier(3), which systemd-notify runs after every
		// message: the sender waits until its fd is closed. Closing it
		// above was the whole answer.
		return m, false
	}
	if fds > 0 {
		s.log.Warn("closed file descriptors sent with a notification: vigil keeps no fd store", "pid", pid, "fds", fds)
	}
	if m.Malformed > 0 {
		s.log.Debug("ignored malformed notification lines", "pid", pid, "lines", m.Malformed)
	}
	return m, true
}

// control reads the sender's pid from SCM_CREDENTIALS and closes every fd
// passed with SCM_RIGHTS. Go receives with MSG_CMSG_CLOEXEC, so a child
// started meanwhile cannot inherit them either.
func (s *Socket) control(oob []byte) (pid, fds int) {
	if len(oob) == 0 {
		return 0, 0
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		s.log.Warn("parse notification control data", "error", err)
		return 0, 0
	}
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch msgs[i].Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
				pid = int(cred.Pid)
			}
		case unix.SCM_RIGHTS:
			rights, err := unix.ParseUnixRights(&msgs[i])
			if err != nil {
				s.log.Warn("parse fds sent with a notification", "error", err)
			}
			for _, fd := range rights {
				_ = unix.Close(fd)
			}
			fds += len(rights)
		}
	}
	return pid, fds
}

// isBarrier reports a datagram that is only BARRIER=1.
func isBarrier(m Message) bool {
	return len(m.Vars) == 1 && m.Vars["BARRIER"] == "1" && m.Malformed == 0
}
