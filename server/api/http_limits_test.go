package api

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// rawExchange writes raw on a new connection and reads one response. It
// never sends more than raw: a 413 that arrives proves the server answered
// without waiting for (or reading) the body the headers announced.
func rawExchange(t *testing.T, addr, raw string) *response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	var rs fasthttp.Response
	if err := rs.Read(bufio.NewReader(conn)); err != nil {
		t.Fatalf("read response: %v", err)
	}
	out := &response{status: rs.StatusCode(), body: bytes.Clone(rs.Body())}
	rs.Header.CopyTo(&out.header)
	return out
}

func TestBodyLimits(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	s := DefaultSettings()
	cases := []struct {
		name    string
		raw     string
		message string
	}{
		{
			name: "file-content-length-over-limit-refused-unread",
			raw: "POST /create/file HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
				"X-Yopass-Expiration: 3600\r\nContent-Length: 1073741824\r\n\r\n\xc3partial",
			message: msgFileTooLarge,
		},
		{
			name: "file-chunk-over-limit-refused-unread",
			raw: "POST /create/file HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
				"X-Yopass-Expiration: 3600\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n\xc3partial", s.MaxFileSize+1),
			// fasthttp resets a request whose chunked body fails, so the
			// error handler no longer knows the route: the generic message.
			message: msgBodyTooLarge,
		},
		{
			name: "file-chunks-adding-up-over-limit",
			raw: "POST /create/file HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
				"X-Yopass-Expiration: 3600\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n%x\r\npartial", s.MaxFileSize, strings.Repeat("\xc3", s.MaxFileSize), 1),
			message: msgBodyTooLarge,
		},
		{
			name: "secret-content-length-over-limit",
			raw: fmt.Sprintf("POST /create/secret HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{",
				secretBodyLimit(s.MaxLength)+1),
			message: msgBodyTooLarge,
		},
		{
			name:    "body-on-a-route-that-takes-none",
			raw:     "DELETE /secret/8GjMyrJDkLwmnvKg9N1bzS HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
			message: msgBodyTooLarge,
		},
		{
			name: "odd-path-spelling-gets-its-own-limit",
			raw: fmt.Sprintf("POST /create/./secret HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{",
				secretBodyLimit(s.MaxLength)+1),
			message: msgBodyTooLarge,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ts.reached.Load()
			r := rawExchange(t, ts.addr, c.raw)
			if r.status != 413 || r.jsonMessage(t) != c.message || r.get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %s, want 413 %q", r.status, r.get("Content-Type"), r.body, c.message)
			}
			if !r.header.ConnectionClose() {
				t.Error("413 should close the connection: the unread body is still on it")
			}
			if n := ts.reached.Load() - before; n != 0 {
				t.Fatalf("the handler ran %d times for a refused body", n)
			}
		})
	}
	t.Run("secret-body-over-limit-through-client", func(t *testing.T) {
		before := ts.reached.Load()
		body := bytes.Repeat([]byte("x"), secretBodyLimit(s.MaxLength)+1)
		r := ts.do(t, request{method: "POST", path: "/create/secret", body: body})
		if r.status != 413 || r.jsonMessage(t) != msgBodyTooLarge || ts.reached.Load() != before {
			t.Fatalf("got %d %s (handler ran %d times)", r.status, r.body, ts.reached.Load()-before)
		}
	})
	t.Run("limit-follows-live-settings", func(t *testing.T) {
		small := DefaultSettings()
		small.MaxFileSize = 1000
		ts.api.SetSettings(small)
		defer ts.api.SetSettings(DefaultSettings())
		r := ts.do(t, fileRequest(skesk(1001), "3600", "true"))
		if r.status != 413 || r.jsonMessage(t) != msgFileTooLarge {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r := ts.do(t, fileRequest(skesk(1000), "3600", "true")); r.status != 200 {
			t.Fatalf("a body of exactly MaxFileSize: %d %s", r.status, r.body)
		}
	})
}

func TestReadTimeoutAnswers408(t *testing.T) {
	ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.ReadTimeout = 200 * time.Millisecond }})
	before := ts.reached.Load()
	// Announce 100 bytes, send 1, then wait: the server's read deadline
	// fires long before the 20-second deadline of the exchange.
	r := rawExchange(t, ts.addr, "POST /create/secret HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	if r.status != 408 || r.jsonMessage(t) != "Request timeout" || r.get("X-Frame-Options") != "DENY" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if ts.reached.Load() != before {
		t.Fatal("the handler ran for a body that never arrived")
	}
}

func TestMalformedRequestAnswers400(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	r := rawExchange(t, ts.addr, "POST /create/secret HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
	if r.status != 400 || r.jsonMessage(t) != "Bad request" || r.get("Content-Security-Policy") != contentSecurityPolicy {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}
