package child

import (
	"io"
	"os"
	"syscall"
	"time"

	"github.com/vigil-sh/vigil/supervisor/reaper"
	"github.com/vigil-sh/vigil/supervisor/reexec"
	"github.com/vigil-sh/vigil/supervisor/signals"
)

// watch is the child's own goroutine: it learns from the status pipe whether
// the command runs, carries out Stop and Kill, fires the drain deadline, and
// reports the exit. Signals sent through it never race with the reaping of
// the pid: the reaper refuses to signal a reaped pid.
func (c *Child) watch(status *os.File, exited <-chan reaper.Status) {
	started := make(chan *StartError, 1)
	go func() { started <- c.readStatus(status) }()
	w := watcher{c: c}
	for {
		select {
		case se := <-started:
			started = nil
			w.onStarted(se)
		case st := <-exited:
			if started != nil {
				// The pipe is at EOF once the process is gone: this does not block.
				w.onStarted(<-started)
			}
			w.finish(st)
			return
		case r := <-c.reqs:
			w.onRequest(r)
		case <-w.deadlineC:
			w.deadlineC = nil
			c.log.Warn("drain deadline passed, killing the process group", "pid", c.pid)
			w.killGroup()
		}
	}
}

type watcher struct {
	c           *Child
	running     bool
	startErr    *StartError
	stopped     bool
	killed      bool
	pendingStop syscall.Signal
	deadline    *time.Timer
	deadlineC   <-chan time.Time
}

func (w *watcher) onStarted(se *StartError) {
	if se != nil {
		w.startErr = se
		return
	}
	w.running = true
	w.c.post(Event{Child: w.c, Kind: Running})
	if w.pendingStop != 0 {
		w.sendStop(w.pendingStop)
		w.pendingStop = 0
	}
}

func (w *watcher) onRequest(r request) {
	if r.kill {
		w.killGroup()
		return
	}
	w.stopped = true
	if w.deadline == nil {
		w.deadline = time.NewTimer(r.drain)
		w.deadlineC = w.deadline.C
	}
	if !w.running {
		// Until the command runs, a signal would hit the re-exec instead.
		w.pendingStop = r.sig
		return
	}
	w.sendStop(r.sig)
}

func (w *watcher) sendStop(sig syscall.Signal) {
	if err := w.c.Signal(sig); err != nil {
		w.c.log.Debug("stop signal not sent", "pid", w.c.pid, "signal", signals.Name(sig), "error", err)
	}
}

func (w *watcher) killGroup() {
	if err := w.c.reaper.KillGroup(w.c.pid, syscall.SIGKILL); err != nil {
		w.c.log.Debug("kill not sent", "pid", w.c.pid, "error", err)
		return
	}
	w.killed = true
}

func (w *watcher) finish(st reaper.Status) {
	if w.deadline != nil {
		w.deadline.Stop()
	}
	ws := st.WaitStatus
	w.c.exit = Exit{
		Pid:      w.c.pid,
		Status:   ws,
		StartErr: w.startErr,
		Stopped:  w.stopped,
		Killed:   w.killed && ws.Signaled() && ws.Signal() == syscall.SIGKILL,
		Ran:      time.Since(w.c.started),
	}
	close(w.c.done)
	w.c.post(Event{Child: w.c, Kind: Exited, Exit: w.c.exit})
}

// readStatus reads the status pipe to EOF: empty means the command was
// exec'd (the write end closed on exec); anything else is the re-exec's
// report of why it was not.
func (c *Child) readStatus(status *os.File) *StartError {
	defer status.Close()
	b, err := io.ReadAll(status)
	if err != nil {
		c.log.Warn("read child start status", "pid", c.pid, "error", err)
	}
	code, reason, failed := reexec.ParseStatus(b)
	if !failed {
		return nil
	}
	return &StartError{Path: c.path, Code: code, Reason: reason}
}
