package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/tomlfile"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	return loadConfig(args, &stdout, &stderr)
}

func TestDefaults(t *testing.T) {
	cfg, err := load(t, "--", "true")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Command = []string{"true"}
	if cfg.DrainTimeout.D() != 25*time.Second || cfg.StopSignal != "TERM" || cfg.Restart != "on-failure" ||
		cfg.RestartBackoff.D() != 100*time.Millisecond || cfg.RestartBackoffMax.D() != 10*time.Second ||
		cfg.RestartMax != 5 || cfg.RestartWindow.D() != time.Minute || cfg.LogLevel != "info" || cfg.LogFormat != "text" {
		t.Fatalf("defaults = %+v", cfg)
	}
	if cfg.descendantGrace() != 5*time.Second {
		t.Errorf("descendant grace %s, want min(25s, 5s)", cfg.descendantGrace())
	}
}

func TestFileThenFlags(t *testing.T) {
	path := writeConfig(t, `
command = ["bin/vigil-server", "-config", "configs/server.toml"]
drain_timeout = "10s"
stop_signal = "QUIT"
group = true
restart = "always"
restart_max = 9
remap_exit = ["143:0", "1:2"]
env = ["A=1", "B=2"]
log_format = "json"
`)
	t.Run("file-over-defaults", func(t *testing.T) {
		cfg, err := load(t, "-config", path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cfg.Command, " ") != "bin/vigil-server -config configs/server.toml" || cfg.DrainTimeout.D() != 10*time.Second ||
			cfg.StopSignal != "QUIT" || !cfg.Group || cfg.Restart != "always" || cfg.RestartMax != 9 ||
			len(cfg.RemapExit) != 2 || strings.Join(cfg.Env, ",") != "A=1,B=2" || cfg.LogFormat != "json" || cfg.LogLevel != "info" {
			t.Fatalf("cfg = %+v", cfg)
		}
	})
	t.Run("flags-over-file", func(t *testing.T) {
		cfg, err := load(t, "-config", path, "-drain-timeout", "3s", "-group=false", "-restart", "no",
			"-remap-exit", "3:4", "-env", "C=3", "-log-level", "debug", "--", "sleep", "1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cfg.Command, " ") != "sleep 1" || cfg.DrainTimeout.D() != 3*time.Second || cfg.Group ||
			cfg.Restart != "no" || strings.Join(cfg.RemapExit, ",") != "3:4" || strings.Join(cfg.Env, ",") != "C=3" || cfg.LogLevel != "debug" ||
			cfg.StopSignal != "QUIT" || cfg.RestartMax != 9 {
			t.Fatalf("cfg = %+v", cfg)
		}
	})
}

func TestConfigFileStrict(t *testing.T) {
	cases := map[string]struct{ content, want string }{
		"unknown-key":  {"drain_timeout = \"5s\"\nnot_a_key = true\n", ":2:1"},
		"wrong-type":   {"group = \"yes\"\n", ":1:"},
		"syntax-error": {"command = [\"a\"\n", ":"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := load(t, "-config", path, "--", "true")
			if err == nil || !strings.Contains(err.Error(), path+tc.want) {
				t.Fatalf("err = %v, want it to name %s%s", err, path, tc.want)
			}
		})
	}
}

// A bare TOML integer decodes into a duration as nanoseconds; vigil rejects
// it rather than drain for 25ns.
func TestBareNumberDurationRejected(t *testing.T) {
	path := writeConfig(t, "drain_timeout = 25\n")
	_, err := load(t, "-config", path, "--", "true")
	if err == nil || !strings.Contains(err.Error(), "drain_timeout") || !strings.Contains(err.Error(), "with a unit") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.Command = nil
	c.DrainTimeout = tomlfile.Duration(-time.Second)
	c.StopSignal = "NOPE"
	c.Restart = "sometimes"
	c.RestartBackoff = 0
	c.RestartMax = -1
	c.RestartWindow = 0
	c.RemapExit = []string{"143", "300:0", "1:0", "1:2"}
	c.LogLevel = "loud"
	c.LogFormat = "xml"
	c.Env = []string{"NOEQUALS", "=x"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate passed")
	}
	for _, want := range []string{"no command", "drain_timeout", "stop_signal", "restart:", "restart_backoff:",
		"restart_max", "restart_window", `"143"`, `"300:0"`, "remapped twice", "log_level", "log_format", `env "NOEQUALS"`, `env "=x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseRemaps(t *testing.T) {
	m, err := parseRemaps([]string{"143:0", " 1 : 2 "})
	if err != nil || m[143] != 0 || m[1] != 2 || len(m) != 2 {
		t.Fatalf("parseRemaps = %v, %v", m, err)
	}
}

// run in-process, for the paths that end before any child is started.
func TestRunWithoutChild(t *testing.T) {
	call := func(args ...string) (int, string, string) {
		stdout, _ := os.CreateTemp(t.TempDir(), "out")
		stderr, _ := os.CreateTemp(t.TempDir(), "err")
		defer stdout.Close()
		defer stderr.Close()
		code := run(context.Background(), args, nil, nil, os.Stdin, stdout, stderr)
		o, _ := os.ReadFile(stdout.Name())
		e, _ := os.ReadFile(stderr.Name())
		return code, string(o), string(e)
	}
	if code, out, _ := call("-version"); code != 0 || !strings.HasPrefix(out, "vigil ") {
		t.Errorf("-version: %d %q", code, out)
	}
	if code, out, errOut := call("-help"); code != 0 || out != "" || !strings.Contains(errOut, "-restart-max") {
		t.Errorf("-help: %d, stdout %q, stderr %q", code, out, errOut)
	}
	path := writeConfig(t, "bogus = 1\n")
	if code, _, errOut := call("-config", path); code != 78 || !strings.Contains(errOut, path+":1:1") {
		t.Errorf("bad config: %d %q", code, errOut)
	}
	if code, _, errOut := call("-stop-signal", "NOPE", "--", "true"); code != 78 || !strings.Contains(errOut, "NOPE") {
		t.Errorf("bad flag: %d %q", code, errOut)
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "A=old", "LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=x"}, []string{"A=new", "B=b"})
	if want := "PATH=/bin A=new B=b"; strings.Join(got, " ") != want {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
}
