package api

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHealthReadyVersion(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	t.Run("health", func(t *testing.T) {
		if r := ts.get(t, "/health"); r.status != 200 || string(r.body) != `{"status":"healthy"}` {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r := ts.do(t, request{method: "HEAD", path: "/health"}); r.status != 200 || len(r.body) != 0 {
			t.Fatalf("HEAD: %d %q", r.status, r.body)
		}
	})
	t.Run("ready", func(t *testing.T) {
		if r := ts.get(t, "/ready"); r.status != 200 || string(r.body) != `{"status":"ready"}` {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r := ts.do(t, request{method: "HEAD", path: "/ready"}); r.status != 200 {
			t.Fatalf("HEAD: %d", r.status)
		}
	})
	t.Run("version", func(t *testing.T) {
		if r := ts.get(t, "/version"); r.status != 200 || string(r.body) != `{"version":"1.2.3-test"}` {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("not-ready-keeps-serving-and-keep-alive", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{})
		ts.api.SetNotReady()
		r := ts.get(t, "/ready")
		if r.status != 503 || string(r.body) != `{"status":"not ready","error":"shutting down"}` {
			t.Fatalf("ready: %d %s", r.status, r.body)
		}
		r = ts.get(t, "/health")
		if r.status != 200 || r.header.ConnectionClose() {
			t.Fatalf("health while not ready: %d, connection close %v", r.status, r.header.ConnectionClose())
		}
		id := ts.createSecret(t, testMessage(300), 3600, true)
		if r := ts.get(t, "/secret/"+id); r.status != 200 || r.header.ConnectionClose() {
			t.Fatalf("read while not ready: %d", r.status)
		}
	})
	t.Run("closing-closes-every-connection", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{})
		ts.api.SetClosing()
		for _, path := range []string{"/health", "/ready", "/nope", "/secret/x"} {
			if r := ts.get(t, path); !r.header.ConnectionClose() {
				t.Fatalf("GET %s: %d without Connection: close", path, r.status)
			}
		}
		if r := ts.get(t, "/ready"); r.status != 503 {
			t.Fatalf("ready while closing: %d", r.status)
		}
	})
}

// TestStoreUnavailable makes the store really unavailable: another
// connection holds SQLite's write lock past the store's busy timeout, so its
// writes fail with SQLITE_BUSY, which the store reports as ErrUnavailable.
func TestStoreUnavailable(t *testing.T) {
	ts := newTestServer(t, serverOptions{busyTimeout: 100 * time.Millisecond})
	kept := ts.createSecret(t, testMessage(300), 3600, true)

	release := holdWriteLock(t, ts.dbPath)
	for _, req := range []request{
		{method: "POST", path: "/create/secret", body: secretJSON(testMessage(300), 3600, true)},
		{method: "GET", path: "/secret/" + kept}, // a one-time read claims in a write
		{method: "DELETE", path: "/secret/" + kept},
	} {
		r := ts.do(t, req)
		if r.status != 503 || r.jsonMessage(t) != "store unavailable, try again" || r.get("Retry-After") == "" {
			t.Fatalf("%s %s while locked: %d %s Retry-After %q", req.method, req.path, r.status, r.body, r.get("Retry-After"))
		}
	}
	if r := ts.get(t, "/secret/"+kept+"/status"); r.status != 200 {
		t.Fatalf("reads that need no write keep working: %d %s", r.status, r.body)
	}
	release()

	if r := ts.get(t, "/secret/"+kept); r.status != 200 {
		t.Fatalf("the secret must survive the failed reads: %d %s", r.status, r.body)
	}
	ts.createSecret(t, testMessage(300), 3600, true)
	logs := ts.logs.String()
	if !strings.Contains(logs, "store unavailable") || strings.Contains(logs, kept) {
		t.Fatalf("want a warning with no id in the log:\n%s", logs)
	}
	if out := metricsText(ts.api); !contains(out, `vigil_store_errors_total{op="create"} 1`) {
		t.Fatalf("store errors not counted:\n%s", out)
	}
}

// holdWriteLock takes SQLite's write lock on path from a connection of its
// own and returns the function that lets go of it.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Errorf("release the write lock: %v", err)
			}
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func TestStoreClosedAnswers503(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	id := ts.createSecret(t, testMessage(300), 3600, false)
	if err := ts.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, req := range []request{
		{method: "GET", path: "/secret/" + id},
		{method: "GET", path: "/secret/" + id + "/status"},
		{method: "POST", path: "/create/secret", body: secretJSON(testMessage(300), 3600, true)},
	} {
		r := ts.do(t, req)
		if r.status != 503 || r.jsonMessage(t) != "store unavailable, try again" || r.get("Retry-After") != retryAfterSeconds {
			t.Fatalf("%s %s: %d %s", req.method, req.path, r.status, r.body)
		}
	}
	r := ts.get(t, "/ready")
	if r.status != 503 || string(r.body) != `{"status":"not ready","error":"store unavailable"}` {
		t.Fatalf("ready: %d %s", r.status, r.body)
	}
	if r := ts.get(t, "/health"); r.status != 200 {
		t.Fatalf("health stays 200 while the process runs: %d", r.status)
	}
}

func TestReadyProbeStormPingsRarely(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	const probes = 200
	start := time.Now()
	var wg sync.WaitGroup
	for range probes {
		wg.Go(func() {
			if r, err := ts.tryDo(request{method: "GET", path: "/ready"}); err != nil || r.status != 200 {
				t.Errorf("probe: %v %v", r, err)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	pings := counterValue(t, ts.api, `vigil_store_operations_total{op="ping"}`)
	// One ping per cache period at most, plus one for the period the storm
	// started in.
	if limit := int(took/readyCacheFor) + 2; pings > limit {
		t.Fatalf("%d probes in %v made %d pings, want at most %d", probes, took, pings, limit)
	}
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	id := ts.createSecret(t, testMessage(300), 3600, true)
	ts.get(t, "/secret/"+id)
	ts.get(t, "/secret/"+id)
	ts.createFile(t, skesk(10), "3600", "true")
	ts.get(t, "/nope")
	ts.api.SecretsExpired(3)
	out := metricsText(ts.api)
	for _, want := range []string{
		`vigil_http_requests_total{route="/create/secret",method="POST",code="200"} 1`,
		`vigil_http_requests_total{route="/secret/{id}",method="GET",code="200"} 1`,
		`vigil_http_requests_total{route="/secret/{id}",method="GET",code="404"} 1`,
		`vigil_http_requests_total{route="other",method="GET",code="404"} 1`,
		`vigil_http_request_duration_seconds_count{route="/secret/{id}"} 2`,
		`vigil_secrets_created_total{kind="secret"} 1`,
		`vigil_secrets_created_total{kind="file"} 1`,
		`vigil_secrets_read_total{kind="secret"} 1`,
		`vigil_store_operations_total{op="get"} 2`,
		`vigil_store_errors_total{op="get"} 0`,
		`vigil_secrets_expired_total 3`,
	} {
		if !contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, id) {
		t.Fatal("an id appears in the metrics")
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestLogsNeverHoldIDsOrBodies(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	msg := testMessage(300)
	id := ts.createSecret(t, msg, 3600, true)
	ts.get(t, "/secret/"+id)
	ts.get(t, "/secret/"+id)
	ts.do(t, request{method: "POST", path: "/create/secret", body: []byte(`{"message":"plaintext-canary"}`)})
	logs := ts.logs.String()
	if !strings.Contains(logs, idHash(id)) {
		t.Fatalf("want the id's hash in the debug log:\n%s", logs)
	}
	for _, secret := range []string{id, "plaintext-canary", msg[40:80]} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log holds %q:\n%s", secret, logs)
		}
	}
	if n := strings.Count(logs, "\n"); n > 6 {
		t.Fatalf("%d log lines for 4 requests, want at most one each:\n%s", n, logs)
	}
}

func metricsText(a *API) string {
	var b bytes.Buffer
	a.Metrics().WritePrometheus(&b)
	return b.String()
}

func contains(text, line string) bool {
	for l := range strings.Lines(text) {
		if strings.TrimSuffix(l, "\n") == line {
			return true
		}
	}
	return false
}

func counterValue(t *testing.T, a *API, name string) int {
	t.Helper()
	for l := range strings.Lines(metricsText(a)) {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(l, "\n"), name+" "); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestStoreFailureAnswers500 breaks the store for real: another connection
// drops its table, so every query fails with an error that is neither "not
// found" nor "unavailable".
func TestStoreFailureAnswers500(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	id := ts.createSecret(t, testMessage(300), 3600, false)
	db, err := sql.Open("sqlite", "file:"+ts.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP TABLE secrets_v2"); err != nil {
		t.Fatal(err)
	}
	r := ts.get(t, "/secret/"+id)
	if r.status != 500 || r.jsonMessage(t) != "Internal server error" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "secrets") {
		t.Fatalf("internal details reached the client: %s", r.body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "[ERROR] api: store failed") || strings.Contains(logs, id) {
		t.Fatalf("want one error line without the id:\n%s", logs)
	}
}
