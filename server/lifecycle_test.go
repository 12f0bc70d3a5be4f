package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sqliteArgs(dir string) []string {
	return []string{"-store", "sqlite:" + filepath.Join(dir, "vigil.db")}
}

// A slow request in flight when SIGTERM arrives completes with 200; an idle
// keep-alive connection and a connection that never sent a request, both
// opened before, do not hold up the exit.
func TestDrain(t *testing.T) {
	sock, metricsSock := newSocket(t), newSocket(t)
	p := startServerOn(t, []*socket{sock, metricsSock}, []string{"http", "metrics"}, nil,
		append(sqliteArgs(t.TempDir()), "-config", writeConfig(t, t.TempDir(), `drain_timeout = "15s"`))...)

	idle := dial(t, sock)
	send(t, idle, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if st := readStatus(t, idle); st != 200 {
		t.Fatalf("health on the idle connection: %d", st)
	}
	dial(t, sock) // a connection that never sends a request

	body := fmt.Sprintf(`{"message":%q,"expiration":3600,"one_time":true}`, armored)
	slow := dial(t, sock)
	send(t, slow, fmt.Sprintf("POST /create/secret HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10]))
	// Once the server has the request's first bytes, it is in flight.
	waitFor(t, "the slow request to be active", func() bool {
		return strings.Contains(scrape(t, metricsSock), `vigil_http_connections{state="active"} 1`)
	})

	start := time.Now()
	p.signal(syscall.SIGTERM)
	p.waitNotify("STOPPING=1")
	send(t, slow, body[10:])
	if st := readStatus(t, slow); st != 200 {
		t.Fatalf("the in-flight request got %d, want 200", st)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, p.stderr.String())
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("exit took %v: idle connections held up the drain", took)
	}
}

func scrape(t *testing.T, sock *socket) string {
	t.Helper()
	resp, err := client.Get(sock.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Past drain_timeout with a request still in flight, the server exits 75.
func TestDrainDeadline(t *testing.T) {
	sock, metricsSock := newSocket(t), newSocket(t)
	p := startServerOn(t, []*socket{sock, metricsSock}, []string{"http", "metrics"}, []string{"VIGIL_DRAIN_TIMEOUT=300ms"}, sqliteArgs(t.TempDir())...)
	slow := dial(t, sock)
	send(t, slow, "POST /create/secret HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	// Until the server has accepted it, the connection waits in the
	// backlog of a socket the test owns and is not this server's to drain.
	waitFor(t, "the slow request to be active", func() bool {
		return strings.Contains(scrape(t, metricsSock), `vigil_http_connections{state="active"} 1`)
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 75 {
		t.Fatalf("exit code %d, want 75", code)
	}
	if !strings.Contains(p.stderr.String(), "drain deadline passed") {
		t.Fatalf("no log line for the deadline:\n%s", p.stderr.String())
	}
}

// /ready turns 503 at once on SIGTERM while serving goes on through
// shutdown_delay; a second SIGTERM ends the delay.
func TestShutdownDelay(t *testing.T) {
	sock := newSocket(t)
	p := startServer(t, sock, []string{"VIGIL_SHUTDOWN_DELAY=60s"}, sqliteArgs(t.TempDir())...)
	if st := status(t, sock.url()+"/ready"); st != 200 {
		t.Fatalf("ready before stop: %d", st)
	}
	p.signal(syscall.SIGTERM)
	p.waitNotify("STOPPING=1")
	if st := status(t, sock.url()+"/ready"); st != 503 {
		t.Fatalf("ready during shutdown_delay: %d, want 503", st)
	}
	id := createSecret(t, sock.url(), false)
	if st := getSecret(t, sock.url(), id); st != 200 {
		t.Fatalf("serving during shutdown_delay: %d", st)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// A secret answered with 200 survives kill -9 of the server.
func TestDurableAcrossKill9(t *testing.T) {
	dir := t.TempDir()
	sock := newSocket(t)
	p := startServer(t, sock, nil, sqliteArgs(dir)...)
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, createSecret(t, sock.url(), i%2 == 0))
	}
	p.signal(syscall.SIGKILL)
	p.wait(10 * time.Second)
	startServer(t, sock, nil, sqliteArgs(dir)...)
	for _, id := range ids {
		if st := getSecret(t, sock.url(), id); st != 200 {
			t.Fatalf("secret acknowledged before kill -9 is gone: %d", st)
		}
	}
}

// Two server processes on one SQLite file (as during a reload): each reads
// what the other wrote, and one-time claims raced across both have exactly
// one winner.
func TestTwoProcessesOneFile(t *testing.T) {
	dir := t.TempDir()
	a, b := newSocket(t), newSocket(t)
	startServer(t, a, nil, sqliteArgs(dir)...)
	startServer(t, b, nil, sqliteArgs(dir)...)
	if st := getSecret(t, b.url(), createSecret(t, a.url(), false)); st != 200 {
		t.Fatalf("b read of a's secret: %d", st)
	}
	if st := getSecret(t, a.url(), createSecret(t, b.url(), false)); st != 200 {
		t.Fatalf("a read of b's secret: %d", st)
	}
	for trial := 0; trial < 20; trial++ {
		id := createSecret(t, a.url(), true)
		got := raceHTTP(t, []string{a.url(), b.url()}, id, 32)
		if got != 1 {
			t.Fatalf("trial %d: %d readers got the one-time secret, want 1", trial, got)
		}
	}
}

// raceHTTP has readers GET the secret at once, alternating between bases,
// and returns how many got 200.
func raceHTTP(t *testing.T, bases []string, id string, readers int) int {
	results := make(chan int, readers)
	start := make(chan struct{})
	for r := 0; r < readers; r++ {
		base := bases[r%len(bases)]
		go func() { <-start; results <- getSecret(t, base, id) }()
	}
	close(start)
	wins := 0
	for r := 0; r < readers; r++ {
		switch st := <-results; st {
		case 200:
			wins++
		case 404:
		default:
			t.Errorf("reader got %d", st)
		}
	}
	return wins
}

// SIGHUP applies live settings; an invalid file keeps the running ones.
func TestReloadOnHUP(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "read_only = false\n")
	sock := newSocket(t)
	p := startServer(t, sock, nil, append(sqliteArgs(dir), "-config", cfg)...)
	createSecret(t, sock.url(), false)

	writeConfig(t, dir, "read_only = true\n")
	p.signal(syscall.SIGHUP)
	waitFor(t, "read_only to apply", func() bool { return postStatus(t, sock.url()) == 404 })

	writeConfig(t, dir, "read_only = false\nbogus_key = 1\n")
	p.signal(syscall.SIGHUP)
	waitFor(t, "the invalid reload to be logged", func() bool {
		return strings.Contains(p.stderr.String(), "invalid configuration, keeping the running one")
	})
	if st := postStatus(t, sock.url()); st != 404 {
		t.Fatalf("an invalid reload changed the settings: create got %d, want 404 (read-only)", st)
	}
	if !strings.Contains(p.stderr.String(), "server.toml:2:1") {
		t.Fatalf("the problem's line is not logged:\n%s", p.stderr.String())
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name, config string
		args         []string
		code         int
		stderr       string
	}{
		{"valid", "listen = \"127.0.0.1:1\"\n", nil, 0, "valid"},
		{"unknown-key", "listne = \"x\"\n", nil, 78, "server.toml:1:1"},
		{"every-problem", "max_length = -1\ndefault_expiry = 7\n", nil, 78, "default expiry"},
		{"bad-store-flag", "", []string{"-store", "ftp://x"}, 78, "store:"},
		{"bad-redis-url", "", []string{"-store", "redis://h:notaport/0"}, 78, "store:"},
		{"unknown-flag", "", []string{"-nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr syncBuffer
			args := append([]string{"-check", "-config", writeConfig(t, t.TempDir(), tc.config)}, tc.args...)
			code := run(args, func(string) string { return "" }, os.Stdout, &stderr, nil)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("code %d (want %d), stderr:\n%s", code, tc.code, stderr.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out syncBuffer
	if code := run([]string{"-version"}, os.Getenv, &out, &out, nil); code != 0 || !strings.HasPrefix(out.String(), "vigil-server ") {
		t.Fatalf("code %d, output %q", code, out.String())
	}
}

func dial(t *testing.T, sock *socket) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", sock.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func readStatus(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func postStatus(t *testing.T, base string) int {
	t.Helper()
	body := fmt.Sprintf(`{"message":%q,"expiration":3600,"one_time":true}`, armored)
	resp, err := client.Post(base+"/create/secret", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}
