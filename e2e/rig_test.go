package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rig is one vigil supervising vigil-server, everything in a temporary
// directory: vigil.toml, the server's config (written by a configFile, so a
// test chooses how edits land), the SQLite store, and a free loopback port
// that vigil binds itself.
type rig struct {
	t      *testing.T
	dir    string
	addr   string
	base   string
	vcfg   vigilConfig
	vpath  string // vigil.toml
	server configFile
	store  string
	// serverDrain is the server's own drain_timeout.
	serverDrain string
	cmd         *exec.Cmd
	log         *logBuffer
	notify      *notifyRecorder
	exited      chan struct{}
	waitErr     error
}

// vigilConfig is what a test writes into vigil.toml, following the contract
// of configs/vigil.toml.
type vigilConfig struct {
	Command      []string
	Env          []string
	DrainTimeout string
	Addr         string
	StartTimeout string
	Watch        []string
	Check        []string
	Debounce     string
}

func (c vigilConfig) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command = %s\nenv = %s\n", tomlList(c.Command), tomlList(c.Env))
	fmt.Fprintf(&b, "drain_timeout = %q\nrestart = \"no\"\nlog_level = \"debug\"\n", c.DrainTimeout)
	fmt.Fprintf(&b, "\n[[listen]]\nname = \"http\"\naddress = %q\n", c.Addr)
	fmt.Fprintf(&b, "\n[readiness]\nmode = \"notify\"\nstart_timeout = %q\n", c.StartTimeout)
	fmt.Fprintf(&b, "\n[reload]\nstrategy = \"restart\"\nwatch = %s\ncheck = %s\ncheck_timeout = \"20s\"\ndebounce = %q\n",
		tomlList(c.Watch), tomlList(c.Check), c.Debounce)
	return b.String()
}

func tomlList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// newRig prepares the directory and both config files; start runs vigil.
// layout chooses how the server's config file is written (and rewritten).
func newRig(t *testing.T, layout func(dir string) configFile) *rig {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"etc", "data"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{t: t, dir: dir, addr: freeAddr(t), log: &logBuffer{}, exited: make(chan struct{})}
	r.base = "http://" + r.addr
	r.vpath = filepath.Join(dir, "etc", "vigil.toml")
	r.server = layout(filepath.Join(dir, "etc"))
	r.store = "sqlite:" + filepath.Join(dir, "data", "vigil.db")
	r.serverDrain = "5s"
	r.writeServer(0)
	r.vcfg = vigilConfig{
		Command:      []string{serverBin, "-config", r.server.Path()},
		DrainTimeout: "10s",
		Addr:         r.addr,
		StartTimeout: "30s",
		Watch:        []string{r.server.Path()},
		Check:        []string{serverBin, "-check", "-config", r.server.Path()},
		Debounce:     "100ms", // the shipped default
	}
	return r
}

// freeAddr finds a free loopback port; vigil binds it itself right after.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serverTOML is revision rev of the server's config: each revision has its
// own max_file_size, which GET /config reports, so a test can tell which
// revision the answering child runs.
func (r *rig) serverTOML(store string, rev int) string {
	return fmt.Sprintf("# revision %d\nstore = %q\nmax_file_size = %d\ndrain_timeout = %q\nlog_level = \"info\"\n",
		rev, store, fileSize(rev), r.serverDrain)
}

// fileSize is odd, so GET /config prints it as a plain number.
func fileSize(rev int) int { return 100001 + 2*rev }

func (r *rig) writeServer(rev int) {
	r.t.Helper()
	r.server.Write(r.t, r.serverTOML(r.store, rev))
}

func (r *rig) writeVigil() {
	r.t.Helper()
	writeFile(r.t, r.vpath, r.vcfg.toml())
}

// start runs vigil with vigil.toml, with NOTIFY_SOCKET pointing at a socket
// the test reads (as systemd's would be), and waits until /ready answers.
func (r *rig) start() {
	r.t.Helper()
	r.writeVigil()
	r.notify = listenNotify(r.t)
	r.cmd = exec.Command(vigilBin, "-config", r.vpath)
	r.cmd.Dir = r.dir
	r.cmd.Env = append(cleanEnv(), "NOTIFY_SOCKET="+r.notify.path)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start vigil: %v", err)
	}
	go func() { r.waitErr = r.cmd.Wait(); close(r.exited) }()
	r.t.Cleanup(r.cleanup)
	r.waitReady()
}

// cleanEnv is the test's environment without what would confuse vigil
// about its own sockets.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID":
		default:
			env = append(env, kv)
		}
	}
	return env
}

func (r *rig) cleanup() {
	select {
	case <-r.exited:
	default:
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}
	if r.t.Failed() {
		r.t.Logf("vigil's stderr (vigil and its children):\n%s", r.log.String())
		r.t.Logf("notifications vigil sent:\n%s", r.notify.String())
	}
}

// waitReady polls /ready on fresh connections until it answers 200.
func (r *rig) waitReady() {
	r.t.Helper()
	r.poll("vigil-server to answer /ready", 30*time.Second, func() bool {
		st, _, err := fetch(r.base + "/ready")
		return err == nil && st == 200
	})
}

// poll checks cond every 10 ms until it holds, failing the test after d or
// when vigil exits.
func (r *rig) poll(what string, d time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case <-r.exited:
			r.t.Fatalf("vigil exited (%v) while waiting for %s", r.waitErr, what)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// serverPid waits until vigil has exactly one vigil-server child and
// returns its pid.
func (r *rig) serverPid() int {
	r.t.Helper()
	var pid int
	r.poll("exactly one vigil-server child", 30*time.Second, func() bool {
		pids := serverChildren(r.cmd.Process.Pid)
		if len(pids) == 1 {
			pid = pids[0]
		}
		return len(pids) == 1
	})
	return pid
}

// waitReplaced waits for the reload to revision rev to complete: the old
// child is gone, exactly one other vigil-server child runs, and a fresh
// connection is answered with rev's settings. It returns the new pid.
func (r *rig) waitReplaced(old, rev int) int {
	r.t.Helper()
	var pid int
	want := strconv.Itoa(fileSize(rev))
	r.poll(fmt.Sprintf("the reload to revision %d (old pid %d)", rev, old), 60*time.Second, func() bool {
		pids := serverChildren(r.cmd.Process.Pid)
		if len(pids) != 1 || pids[0] == old {
			return false
		}
		pid = pids[0]
		return r.servedSize() == want
	})
	return pid
}

// servedSize is MAX_FILE_SIZE from GET /config on a fresh connection, or ""
// when the request fails.
func (r *rig) servedSize() string {
	st, body, err := fetch(r.base + "/config")
	if err != nil || st != 200 {
		return ""
	}
	var cfg struct {
		Size string `json:"MAX_FILE_SIZE"`
	}
	if json.Unmarshal(body, &cfg) != nil {
		return ""
	}
	return cfg.Size
}

// stop sends SIGTERM to vigil and returns its exit code and how long it
// took, failing the test after d.
func (r *rig) stop(d time.Duration) (int, time.Duration) {
	r.t.Helper()
	start := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatalf("signal vigil: %v", err)
	}
	return r.wait(d), time.Since(start)
}

// wait returns vigil's exit code, failing the test if it runs past d.
func (r *rig) wait(d time.Duration) int {
	r.t.Helper()
	select {
	case <-r.exited:
	case <-time.After(d):
		r.t.Fatalf("vigil did not exit within %v", d)
	}
	if r.waitErr == nil {
		return 0
	}
	if ee, ok := r.waitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	r.t.Fatalf("wait for vigil: %v", r.waitErr)
	return -1
}

// freshClient opens a new connection for every request, so any child
// accepting on the shared socket may answer.
var freshClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func fetch(url string) (int, []byte, error) {
	resp, err := freshClient.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
