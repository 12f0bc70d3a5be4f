package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/supervisor/notify"
)

// serveConfig is a vigil config file that runs the serve helper on one
// [[listen]] socket. Zero fields take the defaults noted.
type serveConfig struct {
	tag          string   // envTag; "v1" when empty
	env          []string // more child environment, such as envNotify+"=never"
	release      string   // envRelease
	readiness    string   // "notify" when empty
	delay        string
	startTimeout string // "20s" when empty
	strategy     string // "restart" when empty
	signal       string
	check        []string
	checkTimeout string
	watch        []string
	drain        string // drain_timeout, "20s" when empty
	noListen     bool   // no [[listen]] (socket activation)
	address      string // the [[listen]] address, "127.0.0.1:0" when empty
	bogus        bool   // add an unknown key: an invalid config
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func tomlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (c serveConfig) render() string {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	env := append([]string{helperEnv + "=serve", envTag + "=" + or(c.tag, "v1"), envRelease + "=" + c.release}, c.env...)
	var b strings.Builder
	fmt.Fprintf(&b, "command = %s\nenv = %s\n", tomlList([]string{self}), tomlList(env))
	fmt.Fprintf(&b, "drain_timeout = %q\nrestart = \"no\"\n", or(c.drain, "20s"))
	if c.bogus {
		b.WriteString("bogus_key = 1\n")
	}
	if !c.noListen {
		fmt.Fprintf(&b, "\n[[listen]]\nname = \"http\"\naddress = %q\n", or(c.address, "127.0.0.1:0"))
	}
	fmt.Fprintf(&b, "\n[readiness]\nmode = %q\nstart_timeout = %q\n", or(c.readiness, "notify"), or(c.startTimeout, "20s"))
	if c.delay != "" {
		fmt.Fprintf(&b, "delay = %q\n", c.delay)
	}
	fmt.Fprintf(&b, "\n[reload]\nstrategy = %q\ndebounce = \"20ms\"\n", or(c.strategy, "restart"))
	if c.signal != "" {
		fmt.Fprintf(&b, "signal = %q\n", c.signal)
	}
	if len(c.check) > 0 {
		fmt.Fprintf(&b, "check = %s\ncheck_timeout = %q\n", tomlList(c.check), or(c.checkTimeout, "20s"))
	}
	if len(c.watch) > 0 {
		fmt.Fprintf(&b, "watch = %s\n", tomlList(c.watch))
	}
	return b.String()
}

// writeFile writes content to path in place.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes content next to path and renames it over path, as an
// editor's save does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// served is one vigil running the serve helper.
type served struct {
	*vigil
	config string // vigil's config file
	dir    string
	first  startInfo
}

// startServed writes c as vigil's config and starts vigil with it, then
// waits for the first child's start line.
func startServed(t *testing.T, c serveConfig, env ...string) *served {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "vigil.toml")
	writeFile(t, config, c.render())
	v := startVigil(t, launch{args: []string{"-config", config}, env: env})
	s := &served{vigil: v, config: config, dir: dir}
	s.first = s.nextStart(t)
	return s
}

// startInfo is what a serve helper reported when it started.
type startInfo struct {
	pid    int
	fields map[string]string
}

// nextStart waits for the next serve helper's start line, skipping its
// other lines.
func (s *served) nextStart(t *testing.T) startInfo {
	t.Helper()
	for {
		line := s.out.waitFor(t, "serve ")
		if f := strings.Fields(line); len(f) > 2 && f[2] == "start" {
			return parseStart(t, line)
		}
	}
}

func parseStart(t *testing.T, line string) startInfo {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 3 || f[2] != "start" {
		t.Fatalf("not a start line: %q", line)
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("start line %q: %v", line, err)
	}
	info := startInfo{pid: pid, fields: map[string]string{}}
	for _, kv := range f[3:] {
		k, v, _ := strings.Cut(kv, "=")
		info.fields[k] = v
	}
	return info
}

func (i startInfo) addr() string { return i.fields["addr"] }

// answer is what the serve helper says to GET /.
func answer(pid int, tag string) string { return fmt.Sprintf("pid=%d tag=%s", pid, tag) }

var httpClient = &http.Client{
	Timeout:   waitLimit,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// get fetches http://addr/path on a new connection and returns the body;
// anything but a 200 fails the test.
func get(t *testing.T, addr, path string) string {
	t.Helper()
	body, err := tryGet(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func tryGet(addr, path string) (string, error) {
	resp, err := httpClient.Get("http://" + addr + path)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: read body: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, b)
	}
	return string(b), nil
}

// getUntil fetches / until the answer is want; every request must succeed.
func (s *served) getUntil(t *testing.T, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	var got string
	for time.Now().Before(deadline) {
		var err error
		if got, err = tryGet(addr, "/"); err != nil {
			t.Fatalf("%v; stderr:\n%s\nchildren said: %q", err, s.stderr, s.out.all)
		}
		if got == want {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
	t.Fatalf("GET / kept answering %q, want %q", got, want)
}

// waitLogCount polls vigil's stderr until want occurs at least n times.
func (v *vigil) waitLogCount(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for strings.Count(v.stderr.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("vigil logged %q fewer than %d times; stderr:\n%s", want, n, v.stderr)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// stopped sends SIGTERM and checks vigil exits with want.
func (v *vigil) stopped(t *testing.T, want int) {
	t.Helper()
	v.signal(t, syscall.SIGTERM)
	if code := v.wait(t); code != want {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, want, v.stderr)
	}
}

// notifications collects what vigil sends to the NOTIFY_SOCKET a test gave
// it, reading promptly so vigil never blocks on a full socket.
type notifications struct {
	sock *notify.Socket
	mu   sync.Mutex
	all  []notify.Message
}

func listenNotify(t *testing.T) *notifications {
	t.Helper()
	sock, err := notify.Listen(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &notifications{sock: sock}
	go func() {
		for m := range sock.Messages() {
			n.mu.Lock()
			n.all = append(n.all, m)
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = sock.Close() })
	return n
}

func (n *notifications) messages() []notify.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notify.Message(nil), n.all...)
}

// waitFor polls until some message from index from on satisfies ok, and
// returns its index.
func (n *notifications) waitFor(t *testing.T, what string, from int, ok func(notify.Message) bool) int {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		ms := n.messages()
		for i := from; i < len(ms); i++ {
			if ok(ms[i]) {
				return i
			}
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
	t.Fatalf("no %s notification after #%d within %s; got %s", what, from, waitLimit, describe(n.messages()))
	return -1
}

func describe(ms []notify.Message) string {
	var b strings.Builder
	for i, m := range ms {
		fmt.Fprintf(&b, "\n  #%d %v", i, m.Vars)
	}
	return b.String()
}

// alive reports whether pid runs (not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X'
}
