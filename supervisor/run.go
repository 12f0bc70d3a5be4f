package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/reaper"
	"github.com/vigil-sh/vigil/supervisor/sockets"
	"github.com/vigil-sh/vigil/supervisor/supervise"
)

// codeConfig is vigil's exit code for an invalid configuration or command
// line (EX_CONFIG from sysexits.h).
const codeConfig = 78

// run is vigil: it reads the configuration from args, starts the command,
// supervises it and returns the exit code. sigs carries the signals caught
// at the top of main; environ is vigil's environment, the base of the
// child's. Everything vigil logs goes to stderr; stdout belongs to the child.
//
// Tests may call run in-process only for paths that end before a child is
// started (help, version, bad configuration): a running supervisor reaps
// every child of the process, including the test's own.
func run(ctx context.Context, args, environ []string, sigs supervise.Signals, stdin, stdout, stderr *os.File) int {
	cfg, err := loadConfig(args, stdout, stderr)
	switch {
	case errors.Is(err, errHelp), errors.Is(err, errVersion):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "vigil: invalid configuration:\n%s\n", indent(err.Error()))
		return codeConfig
	}
	st, _ := cfg.settings() // validated by loadConfig
	log := newLogger(cfg, st, stderr)
	code := supervise1(ctx, cfg, st, log, environ, sigs, stdin, stdout, stderr)
	if to, ok := st.remap[code]; ok {
		log.Info("exit code remapped", "from", code, "to", to)
		code = to
	}
	log.Info("exiting", "exit_code", code)
	return code
}

func supervise1(ctx context.Context, cfg Config, st settings, log hclog.Logger, environ []string, sigs supervise.Signals, stdin, stdout, stderr *os.File) int {
	path, err := exec.LookPath(cfg.Command[0])
	if err != nil {
		code := lookPathCode(err)
		log.Error("cannot start command", "path", cfg.Command[0], "reason", lookPathReason(err), "exit_code", code)
		return code
	}
	ls, activated, err := openSockets(cfg, environ, log)
	if err != nil {
		log.Error("cannot open the listening sockets", "error", err, "exit_code", codeConfig)
		return codeConfig
	}
	dir, removeDir := notifyDir(log)
	defer removeDir()
	std := stdio{stdin, stdout, stderr}
	opts := supervise.Options{Listeners: ls, Activated: activated, NotifyDir: dir}
	scfg := superviseConfig(cfg, st, path, environ, std)
	if scfg.Reload.Enabled {
		w, err := startWatcher(ctx, cfg, scfg.Watch, log)
		if err != nil {
			log.Error("cannot watch the reload files", "error", err, "exit_code", codeConfig)
			return codeConfig
		}
		defer w.Close()
		opts.Watcher = w
		if cfg.path != "" {
			opts.Load = reloader(cfg, environ, std, log)
		}
	}
	r := reaper.Start(log.Named("reaper"))
	// r is not closed: its thread must outlive the child until vigil exits.
	s := supervise.New(scfg, opts, r, log.Named("supervisor"))
	res := s.Run(ctx, sigs)
	return res.Code
}

// lookPathCode is 127 when the command does not exist and 126 for anything
// else (no execute bit, a directory), as a shell would say.
func lookPathCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return supervise.CodeNotFound
	}
	return supervise.CodeNotExecutable
}

// lookPathReason strips exec.Error's repetition of the name, leaving
// "executable file not found in $PATH" or "permission denied".
func lookPathReason(err error) string {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// childEnv is vigil's environment without the socket-activation, notify
// and watchdog variables vigil itself may have received (they describe
// vigil's descriptors and vigil's service manager; each child gets its
// own), with extra ("KEY=VALUE") set over it.
func childEnv(environ, extra []string) []string {
	environ = sockets.ScrubEnv(environ)
	set := make(map[string]bool, len(extra))
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(environ)+len(extra))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if set[k] {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

func newLogger(cfg Config, st settings, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "vigil",
		Level:      st.level,
		Output:     w,
		JSONFormat: cfg.LogFormat == "json",
	})
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
