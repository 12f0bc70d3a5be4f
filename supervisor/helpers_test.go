package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vigil-sh/vigil/supervisor/signals"
)

// helperEnv selects a helper behaviour when this test binary runs as a child.
const helperEnv = "VIGIL_TEST_HELPER"

// Helper settings, read from the environment.
const (
	envRole   = "VIGIL_TEST_ROLE"   // name printed before each line (default "child")
	envExit   = "VIGIL_TEST_EXIT"   // exit code (exit mode; signals mode on a stop signal)
	envOnStop = "VIGIL_TEST_ONSTOP" // signals mode on TERM/INT: "exit" (default), "ignore", "die-kill"
	envGroup  = "VIGIL_TEST_GROUP"  // signals mode: also run a grandchild in the same group
	envFile   = "VIGIL_TEST_FILE"   // count mode: file that counts the runs
	envCodes  = "VIGIL_TEST_CODES"  // count mode: exit code of each run, comma-separated; the last repeats
)

// helperSigs is filled as early as the test binary allows (package init,
// before TestMain), so a signal that reaches the helper right after its exec
// is caught rather than dropped.
var helperSigs chan os.Signal

func init() {
	if os.Getenv(helperEnv) != "signals" {
		return
	}
	helperSigs = make(chan os.Signal, 128)
	signal.Notify(helperSigs, append(append([]os.Signal{}, signals.Forwarded...), syscall.SIGCHLD)...)
}

func runHelper(mode string) int {
	switch mode {
	case "signals":
		return helperSignals()
	case "exit":
		return envInt(envExit, 0)
	case "count":
		return helperCount()
	case "sleep":
		fmt.Printf("pid %d\n", os.Getpid())
		select {}
	case "spawn":
		return helperSpawn()
	case "descendant":
		return helperDescendant()
	case "serve":
		return helperServe()
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", mode)
	return 2
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// out writes whole lines to stdout from several goroutines.
var out = struct {
	sync.Mutex
	w io.Writer
}{w: os.Stdout}

func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(out.w, format+"\n", args...)
}

// helperSignals prints "ROLE ready", then "ROLE sig NAME" for every signal
// it gets. On SIGTERM or SIGINT it prints "ROLE bye" and exits (envOnStop
// can make it ignore them or die of SIGUSR2 instead).
func helperSignals() int {
	role := os.Getenv(envRole)
	if role == "" {
		role = "child"
	}
	var waitGrandchild func()
	if os.Getenv(envGroup) != "" {
		waitGrandchild = startGrandchild()
	}
	say("%s ready", role)
	for s := range helperSigs {
		sig := s.(syscall.Signal)
		say("%s sig %s", role, signals.Name(sig))
		if sig != syscall.SIGTERM && sig != syscall.SIGINT {
			continue
		}
		switch os.Getenv(envOnStop) {
		case "ignore":
			continue
		case "die-kill":
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		if waitGrandchild != nil {
			waitGrandchild()
		}
		say("%s bye", role)
		return envInt(envExit, 0)
	}
	return 0
}

// startGrandchild runs this binary in signals mode as "grandchild" in the
// same process group, relays its lines, and returns once it is ready. The
// returned func waits until every line is relayed and the grandchild has
// exited: cmd.Wait closes the pipe, so it must not run before the relay has
// read to EOF, or the grandchild's last lines are lost.
func startGrandchild() (wait func()) {
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envRole+"=grandchild", envGroup+"=")
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	br := bufio.NewReader(pipe)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasSuffix(line, "ready\n") {
		panic(fmt.Sprintf("grandchild said %q, %v", line, err))
	}
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			say("%s", strings.TrimSuffix(line, "\n"))
		}
	}()
	return func() {
		<-relayed
		cmd.Wait()
	}
}

// helperCount appends a line to envFile and exits with the code for this
// run from envCodes.
func helperCount() int {
	path := os.Getenv(envFile)
	b, _ := os.ReadFile(path)
	n := strings.Count(string(b), "\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(f, "run %d\n", n)
	f.Close()
	codes := strings.Split(os.Getenv(envCodes), ",")
	code, _ := strconv.Atoi(codes[min(n, len(codes)-1)])
	return code
}

// helperSpawn starts two descendants in new sessions (out of vigil's reach
// by process group), one that exits on SIGTERM and one that ignores it, waits
// until both have their handlers, prints their pids and exits 0 at once.
func helperSpawn() int {
	self, _ := os.Executable()
	var pids []string
	for _, kind := range []string{"exit", "ignore"} {
		r, w, err := os.Pipe()
		if err != nil {
			panic(err)
		}
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), helperEnv+"=descendant", envOnStop+"="+kind)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.ExtraFiles = []*os.File{w}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		w.Close()
		io.ReadAll(r) // EOF once the descendant has its handler
		r.Close()
		pids = append(pids, strconv.Itoa(cmd.Process.Pid))
	}
	say("pids %s", strings.Join(pids, " "))
	return 0
}

// helperDescendant catches SIGTERM, closes fd 3 to say so, and on SIGTERM
// prints "descendant KIND got SIGTERM", then exits (kind exit) or carries on
// (kind ignore).
func helperDescendant() int {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	os.NewFile(3, "ready").Close()
	kind := os.Getenv(envOnStop)
	<-c
	say("descendant %s got SIGTERM", kind)
	if kind == "exit" {
		return 0
	}
	select {}
}
