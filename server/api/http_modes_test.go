package api

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestServerModes(t *testing.T) {
	msg := testMessage(300)
	t.Run("read-only", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{})
		secretID := ts.createSecret(t, msg, 3600, false)
		fileID := ts.createFile(t, skesk(10), "3600", "false")
		s := DefaultSettings()
		s.ReadOnly = true
		ts.api.SetSettings(s)
		for _, req := range []request{
			{method: "POST", path: "/create/secret", body: secretJSON(msg, 3600, true)},
			fileRequest(skesk(10), "3600", "true"),
			{method: "OPTIONS", path: "/create/secret"},
		} {
			if r := ts.do(t, req); r.status != 404 || r.jsonMessage(t) != "This server is read-only" {
				t.Fatalf("%s %s: %d %s", req.method, req.path, r.status, r.body)
			}
		}
		if r := ts.get(t, "/secret/"+secretID); r.status != 200 {
			t.Fatalf("reads keep working: %d", r.status)
		}
		if r := ts.do(t, request{method: "DELETE", path: "/file/" + fileID}); r.status != 204 {
			t.Fatalf("deletes keep working: %d", r.status)
		}
		if cfg := getConfig(t, ts); cfg["READ_ONLY"] != true {
			t.Fatalf("config READ_ONLY = %v", cfg["READ_ONLY"])
		}
	})
	t.Run("disable-upload", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.DisableUpload = true }})
		for _, req := range []request{
			fileRequest(skesk(10), "3600", "true"),
			{method: "GET", path: "/file/8GjMyrJDkLwmnvKg9N1bzS"},
			{method: "GET", path: "/file/8GjMyrJDkLwmnvKg9N1bzS/status"},
		} {
			if r := ts.do(t, req); r.status != 404 || r.jsonMessage(t) != "File upload is disabled on this server" {
				t.Fatalf("%s %s: %d %s", req.method, req.path, r.status, r.body)
			}
		}
		ts.createSecret(t, msg, 3600, true) // text secrets keep working
		if cfg := getConfig(t, ts); cfg["DISABLE_UPLOAD"] != true {
			t.Fatalf("config DISABLE_UPLOAD = %v", cfg["DISABLE_UPLOAD"])
		}
	})
	t.Run("force-one-time", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.ForceOneTime = true }})
		r := ts.do(t, request{method: "POST", path: "/create/secret", body: secretJSON(msg, 3600, false)})
		if r.status != 400 || r.jsonMessage(t) != msgMustBeOneTime {
			t.Fatalf("not one-time secret: %d %s", r.status, r.body)
		}
		r = ts.do(t, fileRequest(skesk(10), "3600", "false"))
		if r.status != 400 || r.jsonMessage(t) != msgMustBeOneTime {
			t.Fatalf("not one-time file: %d %s", r.status, r.body)
		}
		ts.createSecret(t, msg, 3600, true)
		if cfg := getConfig(t, ts); cfg["FORCE_ONETIME_SECRETS"] != true {
			t.Fatalf("config FORCE_ONETIME_SECRETS = %v", cfg["FORCE_ONETIME_SECRETS"])
		}
	})
	t.Run("prefetch-off-hides-status", func(t *testing.T) {
		ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.PrefetchSecret = false }})
		id := ts.createSecret(t, msg, 3600, true)
		if r := ts.get(t, "/secret/"+id+"/status"); r.status != 404 {
			t.Fatalf("status route: %d", r.status)
		}
		if r := ts.get(t, "/secret/"+id); r.status != 200 {
			t.Fatalf("read: %d", r.status)
		}
	})
}

func TestValidationOverHTTP(t *testing.T) {
	ts := newTestServer(t, serverOptions{settings: func(s *Settings) { s.MaxLength = 1000 }})
	msg := testMessage(500)
	withMsg := func(rest string) []byte { return []byte(`{"message":` + string(mustJSON(msg)) + rest + `}`) }
	cases := []struct {
		name    string
		req     request
		status  int
		message string
	}{
		{"malformed-json", request{method: "POST", path: "/create/secret", body: []byte(`{"message":`)}, 400, msgBadJSON},
		{"wrong-type", request{method: "POST", path: "/create/secret", body: withMsg(`,"expiration":"3600"`)}, 400, msgBadJSON},
		{"huge-expiration", request{method: "POST", path: "/create/secret", body: withMsg(`,"expiration":1e40`)}, 400, msgBadJSON},
		{"expiration-not-allowed", request{method: "POST", path: "/create/secret", body: withMsg(`,"expiration":7200`)}, 400, msgBadExpiration},
		{"too-long", request{method: "POST", path: "/create/secret", body: secretJSON(testMessage(1500), 3600, true)}, 400, msgTooLong},
		{"not-armored", request{method: "POST", path: "/create/secret", body: secretJSON("plaintext!", 3600, true)}, 400, msgNotPGP},
		{"file-not-openpgp", fileRequest([]byte("PK\x03\x04zip"), "3600", "true"), 400, msgNotOpenPGP},
		{"file-empty", fileRequest([]byte{}, "3600", "true"), 400, msgNotOpenPGP},
		{"file-no-expiration", fileRequest(skesk(10), "", "true"), 400, msgNoExpiration},
		{"file-wrong-content-type", request{method: "POST", path: "/create/file", body: skesk(10),
			headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x", "X-Yopass-Expiration": "3600"}}, 400, msgNotOctetStream},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, c.req)
			if r.status != c.status || r.get("Content-Type") != "application/json" || r.jsonMessage(t) != c.message {
				t.Fatalf("got %d %q %s, want %d %q", r.status, r.get("Content-Type"), r.body, c.status, c.message)
			}
		})
	}
	t.Run("nothing-was-stored", func(t *testing.T) {
		out := metricsText(ts.api)
		for _, kind := range []string{"secret", "file"} {
			if want := fmt.Sprintf(`vigil_secrets_created_total{kind=%q} 0`, kind); !contains(out, want) {
				t.Errorf("want %s in\n%s", want, out)
			}
		}
	})
}

func TestConfig(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	cfg := getConfig(t, ts)
	want := map[string]any{
		"DISABLE_UPLOAD": false, "READ_ONLY": false, "PREFETCH_SECRET": true,
		"FORCE_ONETIME_SECRETS": false, "DEFAULT_ONETIME_SECRETS": true, "DEFAULT_EXPIRY": 3600.0,
		"MAX_FILE_SIZE": "512KB", "DISABLE_FEATURES": false, "NO_LANGUAGE_SWITCHER": false,
		"HIDE_ONECLICK_LINK": false, "DEFAULT_READ_RECEIPT": false, "READ_RECEIPTS": false,
		"OIDC_ENABLED": false, "REQUIRE_AUTH": false, "SECRET_REQUESTS": false, "ARGON2": false,
		"THEME_LIGHT": "emerald", "THEME_DARK": "dim",
	}
	if fmt.Sprint(cfg) != fmt.Sprint(want) {
		t.Fatalf("config\n got %v\nwant %v", cfg, want)
	}
	t.Run("follows-live-settings", func(t *testing.T) {
		s := DefaultSettings()
		s.Expirations = []int{3600, 86400}
		s.DefaultExpiry = 86400
		s.MaxFileSize = 3 << 20
		ts.api.SetSettings(s)
		cfg := getConfig(t, ts)
		if cfg["DEFAULT_EXPIRY"] != 86400.0 || cfg["MAX_FILE_SIZE"] != "3MB" {
			t.Fatalf("got %v", cfg)
		}
	})
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int]string{1: "1", 1000: "1000", 1024: "1KB", 512 << 10: "512KB", 1 << 20: "1MB", 1536 << 10: "1536KB", 2 << 30: "2GB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func getConfig(t *testing.T, ts *testServer) map[string]any {
	t.Helper()
	r := ts.get(t, "/config")
	var cfg map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &cfg) != nil {
		t.Fatalf("GET /config: %d %s", r.status, r.body)
	}
	return cfg
}
