package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadRestartOverlap: a change to vigil's config starts a new child
// on the same socket; once it is ready the old one gets SIGTERM but keeps
// its in-flight request until it completes, while the new child already
// answers new connections. Every request succeeds.
func TestReloadRestartOverlap(t *testing.T) {
	c := serveConfig{}
	c.release = filepath.Join(t.TempDir(), "release")
	s := startServed(t, c)
	old, addr := s.first.pid, s.first.addr()
	if got := get(t, addr, "/"); got != answer(old, "v1") {
		t.Fatalf("answer %q", got)
	}
	held := make(chan string, 1)
	go func() {
		b, err := tryGet(addr, "/hold")
		if err != nil {
			b = err.Error()
		}
		held <- b
	}()
	s.out.waitFor(t, "serve "+itoa(old)+" holding")

	c.tag = "v2" // the next child's environment changes with vigil's config
	writeFile(t, s.config, c.render())
	next := s.nextStart(t)
	if next.fields["tag"] != "v2" || next.addr() != addr {
		t.Fatalf("new child %v, want tag v2 on %s", next.fields, addr)
	}
	s.waitLog(t, "reload: new child ready: reload=1 pid="+itoa(next.pid))
	s.out.waitFor(t, "serve "+itoa(old)+" sig SIGTERM")
	s.getUntil(t, addr, answer(next.pid, "v2"))

	// The old child still drains: its request is in flight.
	select {
	case b := <-held:
		t.Fatalf("held request ended before its release: %q", b)
	default:
	}
	if !alive(old) {
		t.Fatalf("old child %d gone while its request is in flight", old)
	}
	writeFile(t, c.release, "")
	if b := <-held; b != answer(old, "v1") {
		t.Fatalf("held request answered %q, want %q", b, answer(old, "v1"))
	}
	s.out.waitFor(t, "serve "+itoa(old)+" bye")
	s.waitLog(t, "old child drained: pid="+itoa(old))
	s.waitLog(t, "reload done: reload=1")
	if got := get(t, addr, "/"); got != answer(next.pid, "v2") {
		t.Fatalf("after the drain: %q", got)
	}
	s.stopped(t, 0)
	if strings.Contains(s.stderr.String(), "reload failed") {
		t.Errorf("a reload failed:\n%s", s.stderr)
	}
}

// TestReloadRollback: each broken reload keeps the old child serving and
// says why; a good edit afterwards reloads normally.
func TestReloadRollback(t *testing.T) {
	cases := []struct {
		name  string
		setup func(c *serveConfig, dir string)
		// breakIt makes the reload fail; the config it writes (if any) is
		// built from c.
		breakIt func(t *testing.T, s *served, c serveConfig)
		log     []string
	}{
		{
			name: "new-child-exits-at-start",
			breakIt: func(t *testing.T, s *served, c serveConfig) {
				c.env = []string{envNotify + "=exit"}
				writeFile(t, s.config, c.render())
			},
			log: []string{"rollback: new child exited before it was ready (exit status 3)"},
		},
		{
			name: "new-child-never-ready",
			breakIt: func(t *testing.T, s *served, c serveConfig) {
				c.env, c.startTimeout = []string{envNotify + "=never"}, "300ms"
				writeFile(t, s.config, c.render())
			},
			log: []string{"child not ready within start_timeout; killing it", "rollback: new child was not ready within start_timeout (300ms)"},
		},
		{
			name: "check-fails",
			setup: func(c *serveConfig, dir string) {
				c.check = []string{"/bin/sh", "-c", `echo "bad: line 3" >&2; exit 1`}
			},
			breakIt: func(t *testing.T, s *served, c serveConfig) {
				s.signal(t, syscall.SIGHUP)
			},
			log: []string{`check="exit status 1"`, "bad: line 3"},
		},
		{
			name:    "check-crashes",
			setup:   func(c *serveConfig, dir string) { c.check = []string{"/bin/sh", "-c", `echo crashing; kill -SEGV $$`} },
			breakIt: func(t *testing.T, s *served, c serveConfig) { s.signal(t, syscall.SIGHUP) },
			log:     []string{`check="killed by SIGSEGV"`, "crashing"},
		},
		{
			name: "check-times-out",
			setup: func(c *serveConfig, dir string) {
				c.check, c.checkTimeout = []string{"/bin/sh", "-c", "exec sleep 1000"}, "300ms"
			},
			breakIt: func(t *testing.T, s *served, c serveConfig) { s.signal(t, syscall.SIGHUP) },
			log:     []string{`check="timed out after 300ms"`},
		},
		{
			name: "check-not-found",
			setup: func(c *serveConfig, dir string) {
				c.check = []string{filepath.Join(dir, "no-such-checker")}
			},
			breakIt: func(t *testing.T, s *served, c serveConfig) { s.signal(t, syscall.SIGHUP) },
			log:     []string{"no-such-checker"},
		},
		{
			name: "watched-config-deleted",
			setup: func(c *serveConfig, dir string) {
				app := filepath.Join(dir, "app.conf")
				if err := os.WriteFile(app, []byte("v1\n"), 0o644); err != nil {
					panic(err)
				}
				c.watch = []string{app}
				c.check = []string{"/bin/sh", "-c", `cat "$0" || exit 78`, app}
			},
			breakIt: func(t *testing.T, s *served, c serveConfig) {
				if err := os.Remove(c.watch[0]); err != nil {
					t.Fatal(err)
				}
			},
			log: []string{"trigger=\"changed [", "app.conf", `check="exit status 78"`, "No such file"},
		},
		{
			name: "vigil-config-invalid",
			breakIt: func(t *testing.T, s *served, c serveConfig) {
				c.bogus = true
				replaceFile(t, s.config, c.render())
			},
			log: []string{"reason=\"vigil configuration invalid\"", "bogus_key"},
		},
		{
			name: "vigil-config-deleted",
			breakIt: func(t *testing.T, s *served, c serveConfig) {
				if err := os.Remove(s.config); err != nil {
					t.Fatal(err)
				}
			},
			log: []string{"reason=\"vigil configuration invalid\"", "vigil.toml"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c serveConfig
			if tc.setup != nil {
				tc.setup(&c, t.TempDir())
			}
			s := startServed(t, c)
			old, addr := s.first.pid, s.first.addr()
			s.waitLog(t, "child ready")
			tc.breakIt(t, s, c)
			s.waitLog(t, "reload failed; the running child and configuration are kept")
			log := s.stderr.String()
			for _, want := range append(tc.log, "reload_failures=1", "serving_pid="+itoa(old)) {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			got, err := tryGet(addr, "/")
			if err != nil {
				t.Fatalf("after the failed reload: %v; stderr:\n%s\nout: %q", err, s.stderr, s.out.all)
			}
			if got != answer(old, "v1") {
				t.Fatalf("after the failed reload: %q, want the old child; stderr:\n%s\nout: %q", got, s.stderr, s.out.all)
			}
			// A good edit afterwards goes through.
			c = serveConfig{tag: "v3"}
			writeFile(t, s.config, c.render())
			next := s.nextStart(t)
			for next.fields["tag"] != "v3" { // a discarded new child's line
				next = s.nextStart(t)
			}
			s.getUntil(t, addr, answer(next.pid, "v3"))
			s.stopped(t, 0)
		})
	}
}

// TestReloadCoalesced: triggers that arrive while a reload runs (held in
// its check) are merged into exactly one more reload after it.
func TestReloadCoalesced(t *testing.T) {
	dir := t.TempDir()
	release, app := filepath.Join(dir, "release"), filepath.Join(dir, "app.conf")
	writeFile(t, app, "one\n")
	c := serveConfig{
		check: []string{"/bin/sh", "-c", `while [ ! -e "$0" ]; do sleep 0.01; done`, release},
		watch: []string{app},
	}
	s := startServed(t, c)
	s.waitLog(t, "child ready")
	s.signal(t, syscall.SIGHUP)
	s.waitLog(t, "reload: running check: reload=1")
	const queued = "reload requested during a reload; it runs once this one is done"
	for i := 1; i <= 3; i++ {
		s.signal(t, syscall.SIGHUP)
		s.waitLogCount(t, queued, i)
	}
	writeFile(t, app, "two\n")
	s.waitLogCount(t, queued, 4)
	writeFile(t, release, "")
	s.waitLog(t, "reload done: reload=1")
	s.waitLog(t, "reload done: reload=2")
	s.stopped(t, 0)
	log := s.stderr.String()
	if n := strings.Count(log, "reload triggered"); n != 2 {
		t.Fatalf("%d reloads, want 2:\n%s", n, log)
	}
	if !strings.Contains(log, `reload triggered: reload=2 trigger="SIGHUP; changed [`+app+`]"`) {
		t.Errorf("the second reload does not name the merged triggers:\n%s", log)
	}
}

// TestReloadSignalStrategy: strategy signal sends the reload signal to the
// running child after the check; no new child starts and SIGHUP itself is
// not forwarded.
func TestReloadSignalStrategy(t *testing.T) {
	s := startServed(t, serveConfig{strategy: "signal", signal: "USR1", check: []string{"true"}})
	pid := s.first.pid
	s.waitLog(t, "child ready")
	s.signal(t, syscall.SIGHUP)
	s.out.waitFor(t, "serve "+itoa(pid)+" sig SIGUSR1")
	s.waitLog(t, "reload done: reload=1 result=\"signal sent\"")
	if got := get(t, s.first.addr(), "/"); got != answer(pid, "v1") {
		t.Fatalf("answer %q", got)
	}
	s.stopped(t, 0)
	out := strings.Join(s.out.rest(t), "\n")
	if strings.Contains(out, "sig SIGHUP") || strings.Count(out, " start ") != 1 {
		t.Errorf("child output:\n%s", out)
	}
}

// TestStopDuringReload: SIGTERM while a reload's new child is starting
// stops both children within the drain deadline; vigil's exit code is the
// current (old) child's.
func TestStopDuringReload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		newEnv []string
		log    string
	}{
		{"both-exit-on-term/exit-0", []string{envNotify + "=never"}, "discarded child exited"},
		{"new-ignores-term/killed-at-deadline/exit-0", []string{envNotify + "=never", envOnStop + "=ignore"}, "drain deadline passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serveConfig{drain: "500ms"}
			s := startServed(t, c)
			old := s.first.pid
			s.waitLog(t, "child ready")
			c.env, c.tag = tc.newEnv, "v2"
			writeFile(t, s.config, c.render())
			next := s.nextStart(t)
			s.waitLog(t, "reload: new child starting")
			s.signal(t, syscall.SIGTERM)
			s.out.waitFor(t, "serve "+itoa(old)+" bye")
			if code := s.wait(t); code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", code, s.stderr)
			}
			for _, pid := range []int{old, next.pid} {
				if !gone(pid) {
					t.Errorf("child %d outlived vigil", pid)
				}
			}
			for _, want := range []string{"reload aborted", "other_children=1", tc.log} {
				if !strings.Contains(s.stderr.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, s.stderr)
				}
			}
		})
	}
}

// TestReloadListenChange: a reload that adds a [[listen]] entry binds it
// for the new child and keeps the one that stays (its port never closes);
// one that removes it closes it. (Fixed ports: Reconcile binds a port-0
// entry anew whenever the list changes.)
func TestReloadListenChange(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s := startServed(t, serveConfig{address: addr})
	s.waitLog(t, "child ready")
	extraAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	extra := "\n[[listen]]\nname = \"extra\"\naddress = \"" + extraAddr + "\"\n"
	writeFile(t, s.config, serveConfig{tag: "v2", address: addr}.render()+extra)
	next := s.nextStart(t)
	if next.fields["listen_fds"] != "2" || next.fields["fdnames"] != "http:extra" || next.addr() != addr {
		t.Fatalf("new child got %v, want the old socket and the new one", next.fields)
	}
	s.waitLog(t, "reload: listening: reload=1 name=extra address="+extraAddr)
	s.getUntil(t, extraAddr, answer(next.pid, "v2"))
	s.getUntil(t, addr, answer(next.pid, "v2"))
	writeFile(t, s.config, serveConfig{tag: "v3", address: addr}.render())
	third := s.nextStart(t)
	if third.fields["fdnames"] != "http" {
		t.Fatalf("third child got %v", third.fields)
	}
	s.waitLog(t, "reload: listener closed: reload=2 name=extra")
	s.getUntil(t, addr, answer(third.pid, "v3"))
	s.waitLog(t, "old child drained: pid="+itoa(next.pid))
	if _, err := tryGet(extraAddr, "/"); err == nil {
		t.Errorf("%s still answers after its [[listen]] entry was removed", extraAddr)
	}
	s.stopped(t, 0)
}

// TestReloadCurrentChildOutcome pins whose exit code counts when children
// overlap: the current child's only.
func TestReloadCurrentChildOutcome(t *testing.T) {
	t.Run("old-child-killed-at-deadline/not-vigils-outcome", func(t *testing.T) {
		c := serveConfig{env: []string{envOnStop + "=ignore"}, drain: "300ms"}
		s := startServed(t, c)
		old := s.first.pid
		s.waitLog(t, "child ready")
		c.env, c.tag = nil, "v2"
		writeFile(t, s.config, c.render())
		next := s.nextStart(t)
		s.waitLog(t, "old child killed after the drain deadline: pid="+itoa(old))
		s.getUntil(t, next.addr(), answer(next.pid, "v2"))
		s.stopped(t, 0) // the current child drains and exits 0; not 124
	})
	t.Run("serving-child-dies-during-reload/new-child-takes-over", func(t *testing.T) {
		// restart = "no": without the takeover, vigil would exit with the
		// serving child's 137.
		c := serveConfig{}
		s := startServed(t, c)
		old := s.first.pid
		s.waitLog(t, "child ready")
		ready := filepath.Join(s.dir, "ready")
		c.tag, c.env = "v2", []string{envNotify + "=when:" + ready}
		writeFile(t, s.config, c.render())
		next := s.nextStart(t)
		s.waitLog(t, "reload: new child starting")
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.waitLog(t, "reload: the serving child exited; the new child takes over")
		writeFile(t, ready, "")
		s.waitLog(t, "child ready: pid="+itoa(next.pid))
		s.getUntil(t, next.addr(), answer(next.pid, "v2"))
		s.stopped(t, 0)
	})
}

// TestReloadWatchListChange: a reload that adds a file to reload.watch
// makes a change to that file trigger the next reload.
func TestReloadWatchListChange(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.conf")
	writeFile(t, app, "one\n")
	s := startServed(t, serveConfig{})
	s.waitLog(t, "child ready")
	writeFile(t, s.config, serveConfig{tag: "v2", watch: []string{app}}.render())
	s.waitLog(t, "reload: watching: files=")
	s.waitLog(t, "reload done: reload=1")
	replaceFile(t, app, "two\n")
	s.waitLog(t, `reload triggered: reload=2 trigger="changed [`+app+`]"`)
	s.waitLog(t, "reload done: reload=2")
	s.stopped(t, 0)
}

// TestReloadTimings: the summary line of a reload names the time of each
// step. For a file edit the steps from the first event to the new child's
// READY=1 add up to event_to_ready; a SIGHUP reload has no file-event steps.
func TestReloadTimings(t *testing.T) {
	s := startServed(t, serveConfig{check: []string{"true"}})
	s.waitLog(t, "child ready")
	c := serveConfig{check: []string{"true"}, tag: "v2"}
	writeFile(t, s.config, c.render())
	s.waitLog(t, "reload done: reload=1")
	s.signal(t, syscall.SIGHUP)
	s.waitLog(t, "reload done: reload=2")
	s.stopped(t, 0)

	first := logFields(t, s.stderr.String(), "reload done: reload=1 ")
	steps := []string{"quiet", "handoff", "load", "check", "spawn", "reexec", "child_start"}
	var sum time.Duration
	for _, k := range append(steps, "check_ran", "event_to_ready") {
		d, err := time.ParseDuration(first[k])
		if err != nil || d < 0 {
			t.Fatalf("%s = %q (%v): want a duration\n%v", k, first[k], err, first)
		}
		if slices.Contains(steps, k) {
			sum += d
		}
	}
	total, _ := time.ParseDuration(first["event_to_ready"])
	// Each step is rounded to 10µs.
	if diff := (sum - total).Abs(); diff > time.Duration(len(steps))*10*time.Microsecond {
		t.Errorf("steps add up to %v, event_to_ready is %v: %v", sum, total, first)
	}
	second := logFields(t, s.stderr.String(), "reload done: reload=2 ")
	for _, k := range []string{"quiet", "event_to_ready"} {
		if v, ok := second[k]; ok {
			t.Errorf("SIGHUP reload logged %s=%s", k, v)
		}
	}
	if _, err := time.ParseDuration(second["child_start"]); err != nil {
		t.Errorf("SIGHUP reload: child_start = %q", second["child_start"])
	}
}

// logFields returns the key=value fields of the first log line containing
// prefix.
func logFields(t *testing.T, log, prefix string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, prefix)
		if i < 0 {
			continue
		}
		fields := map[string]string{}
		for _, f := range strings.Fields(line[i+len(prefix):]) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = strings.Trim(v, `"`)
			}
		}
		return fields
	}
	t.Fatalf("no log line with %q:\n%s", prefix, log)
	return nil
}
