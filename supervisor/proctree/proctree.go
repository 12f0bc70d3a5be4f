// Package proctree finds the live descendants of a process by reading /proc.
//
// vigil uses it before exiting to find what its child left behind: daemons
// that called setsid (so no process-group kill reaches them), orphans
// reparented to vigil as PID 1 or as a subreaper, and their children. Only
// processes vigil is an ancestor of are returned, never unrelated ones, and
// zombies are skipped (the reaper collects them).
package proctree

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Proc is one process as /proc/PID/stat shows it.
type Proc struct {
	Pid   int
	PPid  int
	State byte // R, S, D, Z, T, ...
}

// Descendants returns the pids of every live (not zombie) process below
// root, parents before children. A process that exits while the table is
// read is simply missed; callers poll.
func Descendants(root int) ([]int, error) {
	procs, err := List()
	if err != nil {
		return nil, err
	}
	return descendants(procs, root), nil
}

func descendants(procs []Proc, root int) []int {
	children := make(map[int][]Proc)
	for _, p := range procs {
		children[p.PPid] = append(children[p.PPid], p)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			// A zombie's children were already reparented, so stopping the
			// walk at a zombie loses nothing.
			if c.State == 'Z' || c.State == 'X' {
				continue
			}
			out = append(out, c.Pid)
			queue = append(queue, c.Pid)
		}
	}
	return out
}

// List reads every process in /proc.
func List() ([]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	procs := make([]Proc, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if p, err := ParseStat(b); err == nil && p.Pid == pid {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// ParseStat parses the pid, state and parent pid out of a /proc/PID/stat
// line. The command name is in parentheses and may itself contain spaces and
// parentheses, so the fields are read after the last ')'.
func ParseStat(b []byte) (Proc, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Proc{}, fmt.Errorf("parse stat %q: no command name", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Proc{}, fmt.Errorf("parse stat pid: %w", err)
	}
	rest := bytes.Fields(b[end+1:])
	if len(rest) < 2 || len(rest[0]) != 1 {
		return Proc{}, fmt.Errorf("parse stat %q: short line", b)
	}
	ppid, err := strconv.Atoi(string(rest[1]))
	if err != nil {
		return Proc{}, fmt.Errorf("parse stat ppid: %w", err)
	}
	return Proc{Pid: pid, PPid: ppid, State: rest[0][0]}, nil
}
