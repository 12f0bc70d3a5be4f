package main

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Yopass's web client encrypts with openpgp.js, in the browser. This test
// runs testdata/openpgpjs/client.mjs with node against the real binary: a
// CORS preflight for the file upload, then flows.mjs (the client's request
// shapes, text and binary messages, with and without AEAD, written and
// decrypted by openpgp.js, one-time reads), with the CORS origin checked on
// every answer.
func TestOpenPGPJSClient(t *testing.T) {
	node, dir := requireOpenPGPJS(t)
	const origin = "http://127.0.0.1:9"
	sock := newSocket(t)
	startServer(t, sock, nil, append(sqliteArgs(t.TempDir()),
		"-config", writeConfig(t, t.TempDir(), `cors_origin = "`+origin+`"`))...)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", sock.url(), origin)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, out)
	}
	t.Logf("node client.mjs:\n%s", out)
}

// requireOpenPGPJS finds node and the installed openpgp package. Without
// them the test fails when VIGIL_REQUIRE_NODE=1 (CI) and skips loudly
// otherwise.
func requireOpenPGPJS(t *testing.T) (node, dir string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "openpgpjs"))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "openpgp", "package.json"))
	}
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_NODE") == "1" {
			t.Fatalf("node and openpgp.js are required (VIGIL_REQUIRE_NODE=1): %v", err)
		}
		t.Skipf("SKIPPED: node or openpgp.js is missing (%v); install Node.js and run `npm ci --prefix server/testdata/openpgpjs`, or set VIGIL_REQUIRE_NODE=1 to make this a failure", err)
	}
	return node, dir
}

// The same flows in a real browser: headless Chromium loads
// testdata/openpgpjs/browser.html from one loopback origin and calls the
// server on another, so CORS is enforced as it is for Yopass's web client,
// preflight included. A server whose cors_origin names another origin must
// fail the page, which shows the browser really checks.
func TestWebClientInBrowser(t *testing.T) {
	_, dir := requireOpenPGPJS(t)
	chromium := requireChromium(t)
	page := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(page.Close)

	for _, tc := range []struct {
		name, cors, want string
	}{
		{"allowed origin", page.URL, "ALL OK"},
		{"another origin", "http://127.0.0.1:9", "ERROR TypeError: Failed to fetch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := newSocket(t)
			startServer(t, sock, nil, append(sqliteArgs(t.TempDir()),
				"-config", writeConfig(t, t.TempDir(), `cors_origin = "`+tc.cors+`"`))...)
			out := runPage(t, chromium, page.URL+"/browser.html?api="+sock.url())
			lines := strings.Split(out, "\n")
			if last := lines[len(lines)-1]; last != tc.want {
				t.Fatalf("the page ended with %q, want %q:\n%s", last, tc.want, out)
			}
			t.Logf("the page:\n%s", out)
		})
	}
}

// runPage loads url in headless Chromium and returns the text of the page's
// <pre id="out"> once its script has finished. Virtual time runs the page
// until it is idle, waiting for network fetches, within a real-time bound.
func runPage(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=60000", "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	const open, end = `<pre id="out">`, `</pre>`
	s := string(dom)
	i, j := strings.Index(s, open), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("no result in the page:\n%s\nchromium stderr:\n%s", dom, stderr.String())
	}
	return html.UnescapeString(strings.TrimSpace(s[i+len(open) : j]))
}

// requireChromium finds Chromium: missing, it fails the test when
// VIGIL_REQUIRE_CHROMIUM=1 (CI) and skips it loudly otherwise.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("chromium is required (VIGIL_REQUIRE_CHROMIUM=1): %v", err)
		}
		t.Skipf("SKIPPED: chromium not found (%v); install Debian's chromium, or set VIGIL_REQUIRE_CHROMIUM=1 to make this a failure", err)
	}
	return path
}
