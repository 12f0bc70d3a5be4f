package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has been reaped
}

func spawn(bin string, args []string) (*process, error) {
	out := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies (a -timeout panic), do not leave redis-server
	// behind. Pdeathsig follows the forking thread, which Go keeps alive.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls until the server answers on addr as this process (a
// free port can be taken by another redis-server between the check and our
// bind), the process exits, or timeout passes.
func (p *process) waitReady(addr string, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil {
			if !strings.Contains(info, "process_id:"+strconv.Itoa(p.cmd.Process.Pid)+"\r\n") {
				return fmt.Errorf("another process answers on %s", addr)
			}
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("redis-server exited before answering on %s", addr)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer on %s within %v: %w", addr, timeout, err)
		}
	}
}

func (p *process) signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return errors.New("redis-server has already exited")
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// stop sends SIGTERM, waits, then SIGKILL; both waits are bounded.
func (p *process) stop() error {
	_ = p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("redis-server ignored SIGTERM for %v and was killed", stopTimeout)
	case <-time.After(killTimeout):
		return fmt.Errorf("redis-server pid %d survived SIGKILL for %v", p.cmd.Process.Pid, killTimeout)
	}
}

func (p *process) output() string { return p.out.String() }

// lockedBuffer collects the process output; os/exec copies into it from
// its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
