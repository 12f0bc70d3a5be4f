package notify

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// MaxDatagram is the largest notification accepted, systemd's limit
// (NOTIFY_BUFFER_MAX = PIPE_BUF). Larger datagrams are dropped whole, as
// systemd drops them, rather than parsed cut off.
const MaxDatagram = 4096

// maxSunPath is the room in sockaddr_un for a socket path, terminating NUL
// included.
const maxSunPath = len(unix.RawSockaddrUnix{}.Path)

// maxFDsPerMessage is the kernel's SCM_MAX_FD: the control buffer holds that
// many so every fd that arrives is seen and closed.
const maxFDsPerMessage = 253

// Socket is a notify socket for one child. Its datagrams arrive parsed on
// Messages.
type Socket struct {
	conn   *net.UnixConn
	dir    string // private directory holding the socket
	path   string
	log    hclog.Logger
	msgs   chan Message
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the reader returns
	once   sync.Once
}

// Listen creates a notify socket at a fresh path under dir (which must
// exist) and starts receiving. The socket sits in its own directory of mode
// 0700, so only vigil's user (and root) can send to it from the start; call
// Chown before starting a child that runs as another user. SO_PASSCRED is
// on, so each Message carries the sender's pid. A nil logger logs nothing.
func Listen(dir string, logger hclog.Logger) (*Socket, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	private, err := os.MkdirTemp(dir, "notify-")
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	path := filepath.Join(private, "s")
	conn, err := listen(path)
	if err != nil {
		_ = os.RemoveAll(private)
		return nil, fmt.Errorf("notify socket %s: %w", path, err)
	}
	return start(conn, private, path, logger), nil
}

// ListenAbstract is Listen for a system where no directory is writable (a
// container with a read-only root filesystem): the socket lives in Linux's
// abstract namespace under a random name, and Path returns it as
// "@vigil-notify-...", which sd_notify clients (go-systemd, systemd-notify)
// understand. An abstract socket has no file permissions: any process in
// the same network namespace that learns the name can send to it, so
// prefer Listen where a directory is available. Chown is a no-op.
func ListenAbstract(logger hclog.Logger) (*Socket, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("notify socket: random name: %w", err)
	}
	path := "@vigil-notify-" + hex.EncodeToString(rnd[:])
	conn, err := listen(path)
	if err != nil {
		return nil, fmt.Errorf("notify socket %s: %w", path, err)
	}
	return start(conn, "", path, logger), nil
}

func start(conn *net.UnixConn, dir, path string, logger hclog.Logger) *Socket {
	s := &Socket{
		conn:   conn,
		dir:    dir,
		path:   path,
		log:    logger,
		msgs:   make(chan Message, 16),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go s.read()
	return s
}

// listen binds the unixgram socket with SO_PASSCRED enabled.
func listen(path string) (*net.UnixConn, error) {
	if len(path) >= maxSunPath {
		return nil, fmt.Errorf("path is %d bytes, the limit is %d: use a shorter directory", len(path), maxSunPath-1)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	if err := setPassCred(conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("enable SO_PASSCRED: %w", err)
	}
	return conn, nil
}

func setPassCred(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return serr
}

// Path returns the socket's path, the value for the child's NOTIFY_SOCKET.
func (s *Socket) Path() string { return s.path }

// Messages returns the parsed datagrams in arrival order. It is closed after
// Close, or if receiving fails (which is logged).
func (s *Socket) Messages() <-chan Message { return s.msgs }

// Chown hands the socket and its directory to uid and gid, for a child that
// runs as another user: sending needs write permission on the socket and
// search permission on its directory.
func (s *Socket) Chown(uid, gid int) error {
	if s.dir == "" {
		return nil // abstract: no file to own
	}
	for _, p := range []string{s.dir, s.path} {
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("notify socket: %w", err)
		}
	}
	return nil
}

// Close stops receiving, closes Messages and removes the socket and its
// directory. Safe to call more than once.
func (s *Socket) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.conn.Close()
		<-s.exited
		if s.dir == "" {
			return // abstract: no file to remove
		}
		if rerr := os.RemoveAll(s.dir); rerr != nil {
			err = errors.Join(err, rerr)
		}
	})
	if err != nil {
		return fmt.Errorf("close notify socket: %w", err)
	}
	return nil
}
