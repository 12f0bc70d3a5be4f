package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func runsIn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// logLines decodes vigil's JSON log lines with the given message.
func logLines(t *testing.T, stderr, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["@message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestRestart(t *testing.T) {
	cases := []struct {
		name     string
		flags    []string
		codes    string
		wantRuns int
		wantExit int
	}{
		{"on-failure/backoff-then-limit", []string{"-restart-backoff", "20ms", "-restart-max", "3"}, "3", 4, 3},
		{"on-failure/stops-after-success", []string{"-restart-backoff", "1ms"}, "3,3,0", 3, 0},
		{"on-failure/exit-0-not-restarted", nil, "0", 1, 0},
		{"always/restarts-exit-0", []string{"-restart", "always", "-restart-backoff", "1ms", "-restart-max", "2"}, "0", 3, 0},
		{"no/exits-with-child", []string{"-restart", "no"}, "3", 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "runs")
			flags := append([]string{"-log-format", "json"}, tc.flags...)
			v := startVigil(t, helperRun("count", flags, envFile+"="+file, envCodes+"="+tc.codes))
			if code := v.wait(t); code != tc.wantExit {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.wantExit, v.stderr)
			}
			if n := runsIn(t, file); n != tc.wantRuns {
				t.Fatalf("%d runs, want %d; stderr:\n%s", n, tc.wantRuns, v.stderr)
			}
			if got := len(logLines(t, v.stderr.String(), "restart scheduled")); got != tc.wantRuns-1 {
				t.Errorf("%d restart log lines, want %d", got, tc.wantRuns-1)
			}
		})
	}
}

// The delays double from -restart-backoff, as the log says.
func TestRestartBackoffDoubles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runs")
	v := startVigil(t, helperRun("count", []string{"-log-format", "json", "-restart-backoff", "10ms", "-restart-backoff-max", "40ms", "-restart-max", "4"},
		envFile+"="+file, envCodes+"=1"))
	if code := v.wait(t); code != 1 {
		t.Fatalf("exit %d; stderr:\n%s", code, v.stderr)
	}
	var delays []string
	for _, m := range logLines(t, v.stderr.String(), "restart scheduled") {
		// hclog writes a time.Duration to JSON as its nanoseconds.
		ns, _ := m["delay"].(float64)
		delays = append(delays, time.Duration(ns).String())
	}
	if got, want := strings.Join(delays, " "), "10ms 20ms 40ms 40ms"; got != want {
		t.Fatalf("delays %q, want %q", got, want)
	}
}

func TestRestartSignals(t *testing.T) {
	t.Run("death-by-forwarded-signal/not-restarted", func(t *testing.T) {
		v := startVigil(t, sh(nil, "echo ready; exec sleep 1000"))
		v.out.waitFor(t, "ready")
		v.signal(t, syscall.SIGUSR1)
		if code := v.wait(t); code != 138 {
			t.Fatalf("exit %d, want 138; stderr:\n%s", code, v.stderr)
		}
		if strings.Contains(v.stderr.String(), "restart scheduled") {
			t.Errorf("restarted after a signal vigil forwarded:\n%s", v.stderr)
		}
	})
	t.Run("death-by-own-signal/restarted", func(t *testing.T) {
		v := startVigil(t, sh([]string{"-restart-backoff", "1ms", "-restart-max", "1"}, "kill -USR1 $$"))
		if code := v.wait(t); code != 138 {
			t.Fatalf("exit %d, want 138; stderr:\n%s", code, v.stderr)
		}
		if n := strings.Count(v.stderr.String(), "child started"); n != 2 {
			t.Errorf("%d starts, want 2:\n%s", n, v.stderr)
		}
	})
}

// TestStopDuringBackoff: a stop request while vigil waits to restart ends
// it at once with the last outcome, without waiting out the backoff.
func TestStopDuringBackoff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runs")
	v := startVigil(t, helperRun("count", []string{"-restart-backoff", "1h", "-restart-backoff-max", "1h"}, envFile+"="+file, envCodes+"=3"))
	v.waitLog(t, "restart scheduled")
	start := time.Now()
	v.signal(t, syscall.SIGTERM)
	if code := v.wait(t); code != 3 {
		t.Fatalf("exit %d, want 3; stderr:\n%s", code, v.stderr)
	}
	if time.Since(start) > waitLimit/2 {
		t.Errorf("stop took %s", time.Since(start))
	}
	if n := runsIn(t, file); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// TestSignalDuringBackoffReachesNextChild: a signal that arrives while no
// child runs is delivered to the next one as soon as it runs. Here it kills
// that child (default action), which vigil does not restart: it sent it.
func TestSignalDuringBackoffReachesNextChild(t *testing.T) {
	dir := t.TempDir()
	script := `if [ -e ` + dir + `/ran ]; then exec sleep 1000; fi; touch ` + dir + `/ran; exit 3`
	v := startVigil(t, sh([]string{"-restart-backoff", "1s"}, script))
	v.waitLog(t, "restart scheduled")
	v.signal(t, syscall.SIGUSR1)
	if code := v.wait(t); code != 138 {
		t.Fatalf("exit %d, want 138; stderr:\n%s", code, v.stderr)
	}
	log := v.stderr.String()
	second := strings.LastIndex(log, "child started")
	if strings.Count(log, "child started") != 2 || !strings.Contains(log[second:], "signal forwarded: signal=SIGUSR1") {
		t.Fatalf("SIGUSR1 was not forwarded to the second child:\n%s", log)
	}
}
