package api

import (
	"strings"
	"testing"
)

func TestRoutingErrors(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	id := "8GjMyrJDkLwmnvKg9N1bzS"
	cases := []struct {
		name    string
		req     request
		status  int
		message string
		allow   string
	}{
		{"unknown-path", request{method: "GET", path: "/nope"}, 404, "Not found", ""},
		{"root", request{method: "GET", path: "/"}, 404, "Not found", ""},
		{"yopass-v1-create-path", request{method: "POST", path: "/secret", body: []byte("{}")}, 404, "Not found", ""},
		{"extra-segment", request{method: "GET", path: "/secret/" + id + "/status/x"}, 404, "Not found", ""},
		{"unknown-sub-route", request{method: "GET", path: "/secret/" + id + "/receipt"}, 404, "Not found", ""},
		{"empty-id", request{method: "GET", path: "/secret/"}, 404, "Not found", ""},
		{"put-secret", request{method: "PUT", path: "/secret/" + id}, 405, "Method not allowed", "GET, DELETE, OPTIONS"},
		{"head-secret-never-consumes", request{method: "HEAD", path: "/secret/" + id}, 405, "", "GET, DELETE, OPTIONS"},
		{"post-to-status", request{method: "POST", path: "/file/" + id + "/status"}, 405, "Method not allowed", "GET, OPTIONS"},
		{"get-create", request{method: "GET", path: "/create/secret"}, 405, "Method not allowed", "POST, OPTIONS"},
		{"post-health", request{method: "POST", path: "/health"}, 405, "Method not allowed", "GET, HEAD, OPTIONS"},
		{"invented-method", request{method: "BREW", path: "/config"}, 405, "Method not allowed", "GET, OPTIONS"},
		{"invalid-id-get", request{method: "GET", path: "/secret/short"}, 400, "invalid id", ""},
		{"invalid-id-delete", request{method: "DELETE", path: "/file/" + strings.Repeat("x", 23)}, 400, "invalid id", ""},
		{"invalid-id-status", request{method: "GET", path: "/secret/" + id[:21] + "!/status"}, 400, "invalid id", ""},
		{"uppercase-uuid", request{method: "GET", path: "/file/45D405EF-5C52-46C1-86D2-2D270C5B1B19"}, 400, "invalid id", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, c.req)
			if r.status != c.status || r.get("Allow") != c.allow {
				t.Fatalf("got %d Allow %q %s, want %d Allow %q", r.status, r.get("Allow"), r.body, c.status, c.allow)
			}
			if c.req.method == "HEAD" {
				return // no body to check
			}
			if r.get("Content-Type") != "application/json" || r.jsonMessage(t) != c.message {
				t.Fatalf("got %q %s, want JSON %q", r.get("Content-Type"), r.body, c.message)
			}
		})
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	secretID := ts.createSecret(t, testMessage(300), 3600, false)
	fileID := ts.createFile(t, skesk(100), "3600", "false")
	deleteID := ts.createSecret(t, testMessage(300), 3600, false)
	cases := []struct {
		name   string
		req    request
		status int
	}{
		{"create-200", request{method: "POST", path: "/create/secret", body: secretJSON(testMessage(300), 3600, true)}, 200},
		{"secret-read-200", request{method: "GET", path: "/secret/" + secretID}, 200},
		{"file-read-200", request{method: "GET", path: "/file/" + fileID}, 200},
		{"status-200", request{method: "GET", path: "/file/" + fileID + "/status"}, 200},
		{"delete-204", request{method: "DELETE", path: "/secret/" + deleteID}, 204},
		{"config-200", request{method: "GET", path: "/config"}, 200},
		{"health-head-200", request{method: "HEAD", path: "/health"}, 200},
		{"preflight-204", request{method: "OPTIONS", path: "/create/file"}, 204},
		{"bad-json-400", request{method: "POST", path: "/create/secret", body: []byte("{")}, 400},
		{"invalid-id-400", request{method: "GET", path: "/secret/x"}, 400},
		{"not-found-404", request{method: "GET", path: "/secret/8GjMyrJDkLwmnvKg9N1bzS"}, 404},
		{"unknown-route-404", request{method: "GET", path: "/admin"}, 404},
		{"method-405", request{method: "PATCH", path: "/secret/" + secretID}, 405},
		{"too-large-413", request{method: "POST", path: "/create/file", body: skesk(DefaultSettings().MaxFileSize + 1)}, 413},
	}
	want := map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, c.req)
			if r.status != c.status {
				t.Fatalf("status %d, want %d (%s)", r.status, c.status, r.body)
			}
			for name, value := range want {
				if got := r.get(name); got != value {
					t.Errorf("%s: %q, want %q", name, got, value)
				}
			}
			if got := r.get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("CORS header %q sent with CORS off", got)
			}
		})
	}
	t.Run("not-ready-503", func(t *testing.T) {
		ts.api.SetNotReady()
		r := ts.get(t, "/ready")
		if r.status != 503 || r.get("X-Frame-Options") != "DENY" || r.get("Cache-Control") != "no-store" {
			t.Fatalf("got %d, headers %v", r.status, r.header.String())
		}
	})
}

func TestCORS(t *testing.T) {
	const origin = "https://app.example"
	t.Run("configured-origin", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.CORSOrigin = origin }})
		pre := ts.do(t, request{method: "OPTIONS", path: "/create/file", headers: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "content-type,x-yopass-expiration,x-yopass-onetime",
		}})
		if pre.status != 204 || pre.get("Access-Control-Allow-Origin") != origin ||
			pre.get("Access-Control-Allow-Methods") != "POST, OPTIONS" || pre.get("Access-Control-Max-Age") == "" {
			t.Fatalf("preflight: %d\n%s", pre.status, pre.header.String())
		}
		for _, h := range []string{"Content-Type", "X-Yopass-Expiration", "X-Yopass-OneTime", "X-Yopass-RequireAuth", "X-Yopass-Receipt"} {
			if !strings.Contains(pre.get("Access-Control-Allow-Headers"), h) {
				t.Errorf("preflight does not allow %s: %q", h, pre.get("Access-Control-Allow-Headers"))
			}
		}
		if pre.get("X-Frame-Options") != "DENY" {
			t.Error("preflight lacks the security headers")
		}
		id := ts.createFile(t, skesk(10), "3600", "true")
		r := ts.do(t, request{method: "GET", path: "/file/" + id, headers: map[string]string{"Origin": origin}})
		if r.status != 200 || r.get("Access-Control-Allow-Origin") != origin || r.get("Access-Control-Expose-Headers") != "Content-Length" {
			t.Fatalf("file read: %d\n%s", r.status, r.header.String())
		}
		r = ts.get(t, "/nope")
		if r.status != 404 || r.get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("errors carry the CORS origin too: %d\n%s", r.status, r.header.String())
		}
	})
	t.Run("any-origin", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.CORSOrigin = "*" }})
		r := ts.get(t, "/config")
		if r.get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("got %q", r.get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("off-means-no-cors-headers", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{})
		pre := ts.do(t, request{method: "OPTIONS", path: "/secret/8GjMyrJDkLwmnvKg9N1bzS", headers: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "GET",
		}})
		if pre.status != 204 || pre.get("Allow") != "GET, DELETE, OPTIONS" {
			t.Fatalf("OPTIONS: %d\n%s", pre.status, pre.header.String())
		}
		if s := pre.header.String(); strings.Contains(strings.ToLower(s), "access-control-") {
			t.Fatalf("CORS headers with CORS off:\n%s", s)
		}
	})
	t.Run("preflight-on-unknown-route-is-404", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.CORSOrigin = origin }})
		if r := ts.do(t, request{method: "OPTIONS", path: "/nope"}); r.status != 404 {
			t.Fatalf("got %d", r.status)
		}
	})
}
