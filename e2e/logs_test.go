package e2e

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects what vigil and its children write to stderr.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len is an offset for since.
func (l *logBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// since returns what was written after offset.
func (l *logBuffer) since(offset int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b.Bytes()[offset:])
}

// waitLog waits until a line written after offset matches re.
func (r *rig) waitLog(offset int, re string) string {
	r.t.Helper()
	rx := regexp.MustCompile(re)
	var line string
	r.poll("vigil to log /"+re+"/", 60*time.Second, func() bool {
		line = rx.FindString(r.log.since(offset))
		return line != ""
	})
	return line
}

// notifyRecorder is the unixgram socket vigil notifies, as systemd's
// NOTIFY_SOCKET would be; it keeps every datagram.
type notifyRecorder struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

func listenNotify(t *testing.T) *notifyRecorder {
	t.Helper()
	// A short directory of its own: socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "e2e-notify")
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyRecorder{path: filepath.Join(dir, "s"), done: make(chan struct{})}
	n.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	go n.read()
	t.Cleanup(func() {
		_ = n.conn.Close()
		<-n.done
		_ = os.RemoveAll(dir)
	})
	return n
}

// read drains the socket promptly: a full queue would block vigil's sends.
func (n *notifyRecorder) read() {
	defer close(n.done)
	buf := make([]byte, 65536)
	for {
		k, err := n.conn.Read(buf)
		if err != nil {
			return
		}
		n.mu.Lock()
		n.msgs = append(n.msgs, strings.ReplaceAll(string(buf[:k]), "\n", " | "))
		n.mu.Unlock()
	}
}

func (n *notifyRecorder) messages() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

func (n *notifyRecorder) String() string {
	if n == nil {
		return ""
	}
	return strings.Join(n.messages(), "\n")
}
