package check

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// output reads a check's pipe in the background, keeping the first
// MaxOutput bytes.
type output struct {
	pipe *os.File
	done chan struct{}

	mu      sync.Mutex
	buf     []byte
	dropped int
}

func collect(pipe *os.File) *output {
	o := &output{pipe: pipe, done: make(chan struct{})}
	go o.read()
	return o
}

func (o *output) read() {
	defer close(o.done)
	chunk := make([]byte, 4096)
	for {
		n, err := o.pipe.Read(chunk)
		o.keep(chunk[:n])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				o.keep([]byte("\n[reading the check's output failed: " + err.Error() + "]"))
			}
			return
		}
	}
}

func (o *output) keep(b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := max(MaxOutput-len(o.buf), 0)
	if len(b) > room {
		o.dropped += len(b) - room
		b = b[:room]
	}
	o.buf = append(o.buf, b...)
}

// result waits up to grace for EOF, then closes the pipe (which ends the
// reader) and returns what was read.
func (o *output) result(grace time.Duration) (string, int) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
		// Something the check started still holds the pipe's write end.
	}
	o.pipe.Close()
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf), o.dropped
}
