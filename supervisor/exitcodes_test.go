package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// step is a signal sent to vigil, then optionally a line awaited on stdout.
type step struct {
	sig      syscall.Signal
	thenWait string
}

func sh(flags []string, script string) launch {
	return launch{args: append(append([]string{}, flags...), "--", "/bin/sh", "-c", script)}
}

// TestExitCodes pins DESIGN.md's exit-code table on the real binary.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noexec := write("noexec", "#!/bin/sh\n", 0o644)
	garbage := write("garbage", "\x00\x01 not a program\n", 0o755)
	badKey := write("bad.toml", "drain_timeout = \"5s\"\nbogus_key = 1\n", 0o644)
	badType := write("badtype.toml", "restart_max = \"five\"\n", 0o644)
	sleeper := "echo ready; exec sleep 1000"

	cases := []struct {
		name   string
		launch launch
		ready  string
		steps  []step
		want   int
		stderr []string
	}{
		{name: "child-exits-n/n", launch: helperRun("exit", []string{"-restart", "no"}, envExit+"=3"),
			want: 3, stderr: []string{"child exited", "exit_code=3"}},
		{name: "child-exits-0/0", launch: helperRun("exit", []string{"-restart", "no"}),
			want: 0},
		{name: "child-killed-by-signal/128+s", launch: sh([]string{"-restart", "no"}, "kill -USR1 $$"),
			want: 138, stderr: []string{"killed by SIGUSR1", "exit_code=138"}},
		{name: "stop/child-exits-0/0", launch: helperRun("signals", nil), ready: "child ready",
			steps: []step{{sig: syscall.SIGTERM}}, want: 0},
		{name: "stop/dies-of-stop-signal/0", launch: sh(nil, sleeper), ready: "ready",
			steps: []step{{sig: syscall.SIGTERM}}, want: 0, stderr: []string{"killed by SIGTERM", "exit_code=0"}},
		{name: "stop/dies-of-custom-stop-signal/0", launch: sh([]string{"-stop-signal", "USR1"}, sleeper), ready: "ready",
			steps: []step{{sig: syscall.SIGTERM}}, want: 0, stderr: []string{"stop_signal=SIGUSR1", "killed by SIGUSR1"}},
		{name: "stop/sigint-forwarded-dies-of-it/0", launch: sh(nil, sleeper), ready: "ready",
			steps: []step{{sig: syscall.SIGINT}}, want: 0, stderr: []string{"killed by SIGINT"}},
		{name: "stop/child-exits-n/n", launch: helperRun("signals", nil, envExit+"=5"), ready: "child ready",
			steps: []step{{sig: syscall.SIGTERM}}, want: 5},
		{name: "stop/dies-of-other-signal/128+s", launch: helperRun("signals", nil, envOnStop+"=die-kill"), ready: "child ready",
			steps: []step{{sig: syscall.SIGTERM}}, want: 137, stderr: []string{"killed by SIGKILL", "exit_code=137"}},
		{name: "stop/deadline-passed/124", launch: sh([]string{"-drain-timeout", "200ms"}, `trap "" TERM; `+sleeper), ready: "ready",
			steps: []step{{sig: syscall.SIGTERM}}, want: 124, stderr: []string{"drain deadline passed", "exit_code=124"}},
		{name: "stop/second-sigint/124", launch: helperRun("signals", []string{"-drain-timeout", "1h"}, envOnStop+"=ignore"), ready: "child ready",
			steps: []step{{sig: syscall.SIGINT, thenWait: "child sig SIGINT"}, {sig: syscall.SIGINT}}, want: 124,
			stderr: []string{"second SIGINT"}},
		{name: "restart-limit/last-outcome", launch: helperRun("exit", []string{"-restart-backoff", "1ms", "-restart-max", "2"}, envExit+"=3"),
			want: 3, stderr: []string{"restart limit reached"}},
		{name: "remap/applied-last", launch: helperRun("exit", []string{"-restart", "no", "-remap-exit", "3:0", "-remap-exit", "4:9"}, envExit+"=3"),
			want: 0, stderr: []string{"exit code remapped"}},
		{name: "remap/143-to-0", launch: sh([]string{"-restart", "no", "-remap-exit", "143:0"}, "kill -TERM $$"),
			want: 0},
		{name: "command/not-found-in-path/127", launch: launch{args: []string{"--", "vigil-no-such-command"}},
			want: 127, stderr: []string{"vigil-no-such-command", "executable file not found"}},
		{name: "command/missing-path/127", launch: launch{args: []string{"--", filepath.Join(dir, "missing")}},
			want: 127, stderr: []string{filepath.Join(dir, "missing"), "no such file or directory"}},
		{name: "command/not-executable/126", launch: launch{args: []string{"--", noexec}},
			want: 126, stderr: []string{noexec, "permission denied"}},
		{name: "command/directory/126", launch: launch{args: []string{"--", dir}},
			want: 126, stderr: []string{dir, "is a directory"}},
		{name: "command/exec-fails-in-child/126", launch: launch{args: []string{"--", garbage}},
			want: 126, stderr: []string{garbage, "exec format error"}},
		{name: "config/unknown-key/78", launch: launch{args: []string{"-config", badKey}},
			want: 78, stderr: []string{badKey + ":2:1", "bogus_key"}},
		{name: "config/wrong-type/78", launch: launch{args: []string{"-config", badType, "--", "true"}},
			want: 78, stderr: []string{badType + ":1:"}},
		{name: "config/missing-file/78", launch: launch{args: []string{"-config", filepath.Join(dir, "nope.toml"), "--", "true"}},
			want: 78, stderr: []string{"nope.toml"}},
		{name: "config/bad-flag-value/78", launch: launch{args: []string{"-restart", "sometimes", "--", "true"}},
			want: 78, stderr: []string{"sometimes"}},
		{name: "config/bad-duration/78", launch: launch{args: []string{"-drain-timeout", "25", "--", "true"}},
			want: 78, stderr: []string{"drain-timeout"}},
		{name: "config/unknown-flag/78", launch: launch{args: []string{"-bogus", "--", "true"}},
			want: 78, stderr: []string{"-bogus"}},
		{name: "config/no-command/78", launch: launch{args: nil},
			want: 78, stderr: []string{"no command"}},
		{name: "help/0", launch: launch{args: []string{"-help"}}, want: 0, stderr: []string{"Usage: vigil", "-drain-timeout"}},
		{name: "version/0", launch: launch{args: []string{"-version"}}, want: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := startVigil(t, tc.launch)
			if tc.ready != "" {
				v.out.waitFor(t, tc.ready)
			}
			for _, s := range tc.steps {
				v.signal(t, s.sig)
				if s.thenWait != "" {
					v.out.waitFor(t, s.thenWait)
				}
			}
			got := v.wait(t)
			stderr := v.stderr.String()
			if got != tc.want {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", got, tc.want, stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}
