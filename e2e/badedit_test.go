package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badEdit is a change that must not reach the service: the old child keeps
// serving, and a good edit afterwards still reloads.
type badEdit struct {
	name string
	// setup adjusts the rig before vigil starts.
	setup func(r *rig)
	// apply makes the bad edit.
	apply func(r *rig)
	// undo puts things back before the good edit, when apply changed more
	// than the server's config.
	undo func(r *rig)
	// rejected matches what vigil logs when it refuses the edit.
	rejected string
	// output, when set, matches the checker's output as vigil logs it
	// (hclog prints a multi-line value as lines starting with "|").
	output string
}

// A bad edit keeps the old child serving with zero failed requests, and
// the next good edit reloads as usual.
func TestBadEditKeepsOldChild(t *testing.T) {
	for _, tc := range badEdits() {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, newInPlace)
			if tc.setup != nil {
				tc.setup(r)
			}
			r.start()
			old := r.serverPid()
			l := startLoad(t, r.base, 4)
			l.waitMore(r, 100)

			offset := r.log.Len()
			tc.apply(r)
			t.Logf("vigil: %s", r.waitLog(offset, tc.rejected))
			if tc.output != "" {
				r.waitLog(offset, tc.output)
			}
			r.waitOnlyChild(old)
			r.waitStatus("STATUS=reload failed")
			if owner := r.answeredBy(); owner != old {
				t.Fatalf("after the bad edit a new connection is served by pid %d, want the old child %d", owner, old)
			}
			if got, want := r.servedSize(), strconv.Itoa(fileSize(0)); got != want {
				t.Fatalf("after the bad edit GET /config says max_file_size %q, want the old child's %q", got, want)
			}
			l.waitMore(r, 100)
			if !slices.Equal(children(r.cmd.Process.Pid), []int{old}) {
				t.Fatalf("vigil's children changed while no reload should run: %v, want [%d]", children(r.cmd.Process.Pid), old)
			}

			if tc.undo != nil {
				tc.undo(r)
			}
			r.writeServer(1)
			r.waitReplaced(old, 1)
			l.waitMore(r, 100)
			l.check(t)
		})
	}
}

func badEdits() []badEdit {
	return []badEdit{
		{
			name:     "syntax-error",
			apply:    func(r *rig) { r.server.Write(r.t, "max_length = \n") },
			rejected: rejectedByCheck,
			output:   `\|[^\n]*server\.toml:1:`,
		},
		{
			name:     "unknown-key",
			apply:    func(r *rig) { r.server.Write(r.t, r.serverTOML(r.store, 7)+"bogus_key = 1\n") },
			rejected: rejectedByCheck,
			output:   `\|[^\n]*server\.toml:6:1`,
		},
		{
			name:     "config-deleted",
			apply:    func(r *rig) { must(r.t, os.Remove(r.server.Path())) },
			rejected: rejectedByCheck,
		},
		checkCrashes(),
		{
			// -check validates the store URL's form; only opening the
			// store finds that its directory is a regular file.
			name: "new-child-exits-at-start",
			apply: func(r *rig) {
				blocker := filepath.Join(r.dir, "data", "not-a-dir")
				writeFile(r.t, blocker, "")
				r.server.Write(r.t, r.serverTOML("sqlite:"+filepath.Join(blocker, "vigil.db"), 7))
			},
			rejected: rolledBack,
		},
		neverReady(),
	}
}

// checkCrashes runs the check through a shell that kills itself with
// SIGSEGV while a flag file exists, so the edit itself is valid and only
// the checker fails.
func checkCrashes() badEdit {
	var flag string
	return badEdit{
		name: "check-crashes",
		setup: func(r *rig) {
			flag = filepath.Join(r.dir, "crash-the-check")
			r.vcfg.Check = []string{"sh", "-c", `if [ -e "$1" ]; then kill -SEGV $$; fi; exec "$2" -check -config "$3"`,
				"check", flag, serverBin, r.server.Path()}
		},
		apply: func(r *rig) {
			writeFile(r.t, flag, "")
			r.writeServer(7)
		},
		undo:     func(r *rig) { must(r.t, os.Remove(flag)) },
		rejected: rejectedByCheck,
	}
}

// neverReady edits vigil.toml itself: the next child is a program that
// never sends READY=1, under a short start timeout.
func neverReady() badEdit {
	var saved vigilConfig
	return badEdit{
		name: "new-child-never-ready",
		apply: func(r *rig) {
			saved = r.vcfg
			r.vcfg.Command = []string{neverReadyBin(r.t, r.dir), "1000"}
			r.vcfg.StartTimeout = "1s"
			r.writeVigil()
		},
		undo: func(r *rig) {
			r.vcfg = saved
			r.writeVigil()
		},
		rejected: rolledBack,
	}
}

// neverReadyBin is a copy of sleep(1) under dir: a real program that never
// notifies, whose path marks it as this test's.
func neverReadyBin(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "never-ready")
	must(t, os.WriteFile(path, b, 0o755))
	return path
}

// answeredBy makes a request on a new connection and returns the pid of the
// child holding the server's end of it.
func (r *rig) answeredBy() int {
	r.t.Helper()
	c := r.dial()
	defer c.Close()
	if st := roundTrip(r.t, c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); st != 200 {
		r.t.Fatalf("GET /health: %d", st)
	}
	return r.connOwner(c)
}

// waitStatus waits until vigil sent its service manager a notification
// starting with prefix.
func (r *rig) waitStatus(prefix string) {
	r.t.Helper()
	r.poll("vigil to notify "+prefix, 30*time.Second, func() bool {
		return slices.ContainsFunc(r.notify.messages(), func(m string) bool { return strings.HasPrefix(m, prefix) })
	})
}

// waitOnlyChild waits until pid is vigil's only child (a failed new child
// or a checker may take a moment to be reaped), failing at once if pid
// itself goes away.
func (r *rig) waitOnlyChild(pid int) {
	r.t.Helper()
	r.poll("vigil's only child to be the old one", 30*time.Second, func() bool {
		kids := children(r.cmd.Process.Pid)
		if !slices.Contains(kids, pid) || !alive(pid) {
			r.t.Fatalf("the old child %d is gone; vigil's children: %v", pid, kids)
		}
		return len(kids) == 1
	})
}

// What vigil logs when it refuses an edit (supervisor/supervise/reload.go).
const (
	// rejectedByCheck: the check command failed; nothing was started.
	rejectedByCheck = `[^\n]*reload failed; the running child and configuration are kept[^\n]*reason="check failed"[^\n]*`
	// rolledBack: the new child failed to start or become ready; it was
	// killed and the old one kept.
	rolledBack = `[^\n]*reload failed; the running child and configuration are kept[^\n]*reason="rollback: new child[^\n]*`
)
