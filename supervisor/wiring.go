package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/supervisor/child"
	"github.com/vigil-sh/vigil/supervisor/sockets"
	"github.com/vigil-sh/vigil/supervisor/supervise"
	"github.com/vigil-sh/vigil/supervisor/watch"
)

// stdio are the files every child gets as 0, 1 and 2.
type stdio struct{ in, out, err *os.File }

// superviseConfig turns a validated Config into the supervisor's, with the
// command already resolved to path.
func superviseConfig(cfg Config, st settings, path string, environ []string, std stdio) supervise.Config {
	return supervise.Config{
		Command: child.Spec{
			Path: path, Args: cfg.Command, Env: childEnv(environ, cfg.Env),
			Stdin: std.in, Stdout: std.out, Stderr: std.err, Group: cfg.Group,
		},
		DrainTimeout:    cfg.DrainTimeout.D(),
		StopSignal:      st.stopSignal,
		Restart:         st.restart,
		Backoff:         supervise.Backoff{Initial: cfg.RestartBackoff.D(), Max: cfg.RestartBackoffMax.D(), Reset: cfg.RestartBackoffReset.D()},
		RestartMax:      cfg.RestartMax,
		RestartWindow:   cfg.RestartWindow.D(),
		DescendantGrace: cfg.descendantGrace(),
		Readiness: supervise.Readiness{
			Mode: st.readyMode, Delay: cfg.Readiness.Delay.D(), StartTimeout: cfg.Readiness.StartTimeout.D(),
		},
		Reload: supervise.Reload{
			Enabled: cfg.reloadEnabled(), Strategy: st.strategy, Signal: st.reloadSignal,
			Check: cfg.Reload.Check, CheckTimeout: cfg.Reload.CheckTimeout.D(),
		},
		Listen: cfg.listenSpecs(),
		Watch:  cfg.watchList(),
	}
}

// reloader returns the supervisor's Load: it reads the command line and
// the config file again, as at start, and resolves the command. first is
// the configuration vigil started with, to name the settings a reload
// cannot change.
func reloader(first Config, environ []string, std stdio, log hclog.Logger) func() (supervise.Config, error) {
	return func() (supervise.Config, error) {
		cfg, err := loadConfig(first.args, io.Discard, io.Discard)
		if err != nil {
			return supervise.Config{}, err
		}
		path, err := exec.LookPath(cfg.Command[0])
		if err != nil {
			return supervise.Config{}, fmt.Errorf("command %s: %s", cfg.Command[0], lookPathReason(err))
		}
		for _, key := range startOnly(first, cfg) {
			log.Warn("reload: this setting changed but only applies when vigil itself restarts", "key", key)
		}
		st, _ := cfg.settings() // validated by loadConfig
		return superviseConfig(cfg, st, path, environ, std), nil
	}
}

// openSockets takes the sockets systemd passed to vigil (LISTEN_PID equal
// to vigil's pid), or else binds [[listen]]. A socket-activated vigil
// ignores [[listen]].
func openSockets(cfg Config, environ []string, log hclog.Logger) ([]*sockets.Listener, bool, error) {
	ls, err := sockets.FromActivation(lookupEnv(environ), os.Getpid())
	if err != nil {
		return nil, false, err
	}
	if len(ls) > 0 {
		for _, l := range ls {
			log.Info("socket-activated: serving on a socket passed to vigil", "name", l.Name, "address", l.Addr().String())
		}
		if len(cfg.Listen) > 0 {
			log.Warn("socket-activated: [[listen]] in the config is ignored")
		}
		return ls, true, nil
	}
	ls, err = sockets.Bind(cfg.listenSpecs())
	if err != nil {
		return nil, false, err
	}
	for _, l := range ls {
		log.Info("listening", "name", l.Name, "address", l.Addr().String())
	}
	return ls, false, nil
}

// lookupEnv is os.Getenv over environ.
func lookupEnv(environ []string) func(string) string {
	return func(key string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
				return v
			}
		}
		return ""
	}
}

// maxNotifyDir leaves room under the directory for "notify-NNNNNNNNN/s"
// within a socket path's 107 bytes.
const maxNotifyDir = 80

// notifyDir creates the private directory that holds the children's notify
// sockets. With no writable temporary directory (a read-only root
// filesystem) it returns "": the sockets then live in the abstract
// namespace.
func notifyDir(log hclog.Logger) (string, func()) {
	dir, err := os.MkdirTemp("", "vigil-")
	if err == nil && len(dir) > maxNotifyDir {
		_ = os.Remove(dir)
		err = fmt.Errorf("%s is too long for a socket path", dir)
	}
	if err != nil {
		log.Warn("no directory for the children's notify sockets; using abstract sockets (set TMPDIR to a writable directory to avoid this)", "error", err)
		return "", func() {}
	}
	return dir, func() { _ = os.RemoveAll(dir) }
}

// startWatcher watches paths for changes until ctx is done or the watcher
// is closed.
func startWatcher(ctx context.Context, cfg Config, paths []string, log hclog.Logger) (*watch.Watcher, error) {
	w, err := watch.New(watch.Options{Paths: paths, Debounce: cfg.Reload.Debounce.D(), Logger: log.Named("watch")})
	if err != nil {
		return nil, err
	}
	go func() { _ = w.Run(ctx) }()
	log.Info("watching for reloads", "files", paths)
	return w, nil
}
