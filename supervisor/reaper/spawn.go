package reaper

import (
	"fmt"
	"syscall"
)

type spawnRequest struct {
	path  string
	argv  []string
	attr  *syscall.ProcAttr
	reply chan spawnResult
}

type spawnResult struct {
	pid    int
	exited chan Status
	err    error
}

// Spawn starts a process on the reaper's thread with syscall.StartProcess and
// registers its pid before any wait can run, so a process that exits at once
// is still routed to its owner. exited receives its Status exactly once.
//
// syscall.StartProcess is used rather than os.StartProcess or exec.Cmd
// because it returns a bare pid: there is no os.Process (or pidfd) that
// anything could Wait on, and the reaper stays the only waiter. Set
// attr.Sys.Pdeathsig freely: it is tied to the reaper's thread, which lives
// until Close. The caller keeps the files in attr.Files open until Spawn
// returns.
func (r *Reaper) Spawn(path string, argv []string, attr *syscall.ProcAttr) (pid int, exited <-chan Status, err error) {
	req := spawnRequest{path: path, argv: argv, attr: attr, reply: make(chan spawnResult, 1)}
	select {
	case r.spawns <- req:
	case <-r.stopped:
		return 0, nil, ErrClosed
	}
	res := <-req.reply
	return res.pid, res.exited, res.err
}

func (r *Reaper) spawn(req spawnRequest) spawnResult {
	pid, _, err := syscall.StartProcess(req.path, req.argv, req.attr)
	if err != nil {
		return spawnResult{err: fmt.Errorf("start process %s: %w", req.path, err)}
	}
	exited := make(chan Status, 1)
	r.mu.Lock()
	r.procs[pid] = exited
	r.mu.Unlock()
	return spawnResult{pid: pid, exited: exited}
}
