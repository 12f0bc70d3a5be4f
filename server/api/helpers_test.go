package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"

	"github.com/vigil-sh/vigil/server/store/sqlitestore"
)

// testServer is the API on a real fasthttp server on a loopback port, with a
// real SQLite file store in t.TempDir().
type testServer struct {
	api     *API
	store   *sqlitestore.Store
	dbPath  string
	addr    string
	client  *fasthttp.HostClient
	reached atomic.Int64 // requests that got to the handler
	logs    *syncBuffer
}

type serverOptions struct {
	settings    func(*Settings)
	busyTimeout time.Duration
}

func newTestServer(t testing.TB, opts serverOptions) *testServer {
	t.Helper()
	ts := &testServer{dbPath: filepath.Join(t.TempDir(), "secrets.db"), logs: &syncBuffer{}}
	st, err := sqlitestore.Open(sqlitestore.Options{Path: ts.dbPath, BusyTimeout: opts.busyTimeout})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	ts.store = st
	t.Cleanup(func() { st.Close() })
	s := DefaultSettings()
	if opts.settings != nil {
		opts.settings(&s)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("test settings: %v", err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: ts.logs, Level: hclog.Debug, DisableTime: true})
	ts.api = New(Options{Store: st, Logger: logger, Settings: s, Version: "1.2.3-test"})
	ts.serve(t, s)
	return ts
}

func (ts *testServer) serve(t testing.TB, s Settings) {
	t.Helper()
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ts.reached.Add(1)
			ts.api.Handler(ctx)
		},
		HeaderReceived:               ts.api.HeaderReceived,
		ErrorHandler:                 ts.api.ErrorHandler,
		MaxRequestBodySize:           s.MaxRequestBodySize(),
		DisablePreParseMultipartForm: true,
		Logger:                       discardLogger{},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ts.addr = ln.Addr().String()
	ts.client = &fasthttp.HostClient{Addr: ts.addr, MaxIdemponentCallAttempts: 1}
	t.Cleanup(func() {
		ts.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// response is what a test reads of an answer.
type response struct {
	status int
	header fasthttp.ResponseHeader
	body   []byte
}

func (r *response) get(name string) string { return string(r.header.Peek(name)) }

// jsonMessage decodes a {"message": ...} body.
func (r *response) jsonMessage(t testing.TB) string {
	t.Helper()
	var m struct{ Message *string }
	if err := json.Unmarshal(r.body, &m); err != nil || m.Message == nil {
		t.Fatalf("body %q is not {\"message\": ...}: %v", r.body, err)
	}
	return *m.Message
}

type request struct {
	method  string
	path    string
	body    []byte
	headers map[string]string
}

// do sends req with a real fasthttp client and returns the answer.
func (ts *testServer) do(t testing.TB, req request) *response {
	t.Helper()
	r, err := ts.tryDo(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	return r
}

// tryDo is do for goroutines other than the test's, which must not Fatal.
func (ts *testServer) tryDo(req request) (*response, error) {
	rq := fasthttp.AcquireRequest()
	rs := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(rq)
	defer fasthttp.ReleaseResponse(rs)
	rq.SetRequestURI("http://" + ts.addr + req.path)
	rq.Header.SetMethod(req.method)
	for k, v := range req.headers {
		rq.Header.Set(k, v)
	}
	if req.body != nil {
		rq.SetBody(req.body)
	}
	if err := ts.client.DoTimeout(rq, rs, 30*time.Second); err != nil {
		return nil, err
	}
	out := &response{status: rs.StatusCode(), body: bytes.Clone(rs.Body())}
	rs.Header.CopyTo(&out.header)
	return out, nil
}

func (ts *testServer) get(t testing.TB, path string) *response {
	t.Helper()
	return ts.do(t, request{method: "GET", path: path})
}

// createSecret stores an armored message and returns its id.
func (ts *testServer) createSecret(t testing.TB, message string, expiration int, oneTime bool) string {
	t.Helper()
	r := ts.do(t, request{method: "POST", path: "/create/secret", body: secretJSON(message, expiration, oneTime)})
	if r.status != 200 {
		t.Fatalf("create secret: %d %s", r.status, r.body)
	}
	return r.jsonMessage(t)
}

// createFile stores a binary message and returns its id.
func (ts *testServer) createFile(t testing.TB, data []byte, expiration string, oneTime string) string {
	t.Helper()
	r := ts.do(t, fileRequest(data, expiration, oneTime))
	if r.status != 200 {
		t.Fatalf("create file: %d %s", r.status, r.body)
	}
	return r.jsonMessage(t)
}

func fileRequest(data []byte, expiration, oneTime string) request {
	h := map[string]string{"Content-Type": "application/octet-stream"}
	if expiration != "" {
		h["X-Yopass-Expiration"] = expiration
	}
	if oneTime != "" {
		h["X-Yopass-OneTime"] = oneTime
	}
	return request{method: "POST", path: "/create/file", body: data, headers: h}
}

func secretJSON(message string, expiration int, oneTime bool) []byte {
	b, err := json.Marshal(map[string]any{"message": message, "expiration": expiration, "one_time": oneTime})
	if err != nil {
		panic(err)
	}
	return b
}

// armor wraps payload as an armored PGP MESSAGE the way OpenPGP.js does
// (a Comment header, 64-column base64, a checksum line). The server checks
// the armor and the first packet tag, not the cryptography.
func armor(payload []byte) string {
	var b strings.Builder
	b.WriteString("-----BEGIN PGP MESSAGE-----\nComment: https://example.invalid\n\n")
	enc := base64.StdEncoding.EncodeToString(payload)
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n=AAAA\n-----END PGP MESSAGE-----\n")
	return b.String()
}

// skesk returns an n-byte binary message that opens with a new-format SKESK
// packet header (0xc3), as OpenPGP.js writes them.
func skesk(n int) []byte {
	b := bytes.Repeat([]byte{0x5a}, n)
	b[0] = 0xc3
	return b
}

// testMessage is a valid armored message of about n bytes.
func testMessage(n int) string {
	return armor(skesk(max(1, n*3/4-80)))
}

// messageOfLength is a valid armored message of exactly n (>= 500) bytes,
// padded in its Comment header.
func messageOfLength(n int) string {
	base := armor(skesk(n*3/4 - 300))
	return strings.Replace(base, "Comment: ", "Comment: "+strings.Repeat("x", n-len(base)), 1)
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// discardLogger keeps fasthttp's own connection errors (the refused bodies
// the tests provoke) out of the test output.
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
