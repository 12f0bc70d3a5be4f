package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

func TestSecretRoutes(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	msg := string(readFixture(t, "gpg-symmetric.asc"))

	t.Run("create-then-get-returns-yopass-shape", func(t *testing.T) {
		id := ts.createSecret(t, msg, 86400, false)
		if len(id) != idLen || !validID(id) {
			t.Fatalf("id %q is not 22 base62 characters", id)
		}
		for range 2 { // not one-time: readable again
			r := ts.get(t, "/secret/"+id)
			if r.status != 200 || r.get("Content-Type") != "application/json" {
				t.Fatalf("GET: %d %q %s", r.status, r.get("Content-Type"), r.body)
			}
			var got map[string]any
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"message": msg, "expiration": 86400.0, "one_time": false}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("GET body %v, want %v", got, want)
			}
		}
	})
	t.Run("one-time-read-then-404", func(t *testing.T) {
		id := ts.createSecret(t, msg, 3600, true)
		for range 2 { // status does not consume
			r := ts.get(t, "/secret/"+id+"/status")
			if r.status != 200 || string(r.body) != `{"oneTime":true,"requireAuth":false}` {
				t.Fatalf("status: %d %s", r.status, r.body)
			}
		}
		r := ts.get(t, "/secret/"+id)
		if r.status != 200 || !bytes.Contains(r.body, []byte(`"one_time":true`)) {
			t.Fatalf("first GET: %d %s", r.status, r.body)
		}
		for _, path := range []string{"/secret/" + id, "/secret/" + id + "/status"} {
			r = ts.get(t, path)
			if r.status != 404 || r.jsonMessage(t) != "Secret not found" {
				t.Fatalf("GET %s after the read: %d %s", path, r.status, r.body)
			}
		}
	})
	t.Run("status-of-a-reusable-secret", func(t *testing.T) {
		id := ts.createSecret(t, msg, 3600, false)
		r := ts.get(t, "/secret/"+id+"/status")
		if r.status != 200 || string(r.body) != `{"oneTime":false,"requireAuth":false}` {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
	})
	t.Run("delete-then-404", func(t *testing.T) {
		id := ts.createSecret(t, msg, 3600, false)
		r := ts.do(t, request{method: "DELETE", path: "/secret/" + id})
		if r.status != 204 || len(r.body) != 0 {
			t.Fatalf("DELETE: %d %q", r.status, r.body)
		}
		for _, req := range []request{{method: "GET", path: "/secret/" + id}, {method: "DELETE", path: "/secret/" + id}} {
			if r := ts.do(t, req); r.status != 404 || r.jsonMessage(t) != "Secret not found" {
				t.Fatalf("%s after delete: %d %s", req.method, r.status, r.body)
			}
		}
	})
	t.Run("yopass-uuid-ids-are-looked-up", func(t *testing.T) {
		r := ts.get(t, "/secret/45d405ef-5c52-46c1-86d2-2d270c5b1b19")
		if r.status != 404 || r.jsonMessage(t) != "Secret not found" {
			t.Fatalf("GET uuid: %d %s", r.status, r.body)
		}
	})
	t.Run("secret-id-is-not-a-file-id", func(t *testing.T) {
		id := ts.createSecret(t, msg, 3600, false)
		if r := ts.get(t, "/file/"+id); r.status != 404 {
			t.Fatalf("GET /file/<secret id>: %d %s", r.status, r.body)
		}
	})
}

func TestFileRoutes(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	data := readFixture(t, "gpg-symmetric.gpg")

	t.Run("one-time-file-read-once", func(t *testing.T) {
		id := ts.createFile(t, data, "3600", "true")
		r := ts.get(t, "/file/"+id+"/status")
		if r.status != 200 || string(r.body) != `{"oneTime":true,"requireAuth":false}` {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
		r = ts.get(t, "/file/"+id)
		if r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("GET: %d, %d bytes", r.status, len(r.body))
		}
		if ct, cd := r.get("Content-Type"), r.get("Content-Disposition"); ct != "application/octet-stream" || cd != "attachment" {
			t.Fatalf("GET headers: Content-Type %q Content-Disposition %q", ct, cd)
		}
		if r = ts.get(t, "/file/"+id); r.status != 404 || r.jsonMessage(t) != "Secret not found" {
			t.Fatalf("second GET: %d %s", r.status, r.body)
		}
	})
	t.Run("reusable-file-then-delete", func(t *testing.T) {
		id := ts.createFile(t, data, "604800", "false")
		for range 2 {
			if r := ts.get(t, "/file/"+id); r.status != 200 || !bytes.Equal(r.body, data) {
				t.Fatalf("GET: %d", r.status)
			}
		}
		if r := ts.do(t, request{method: "DELETE", path: "/file/" + id}); r.status != 204 {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		if r := ts.get(t, "/file/"+id); r.status != 404 {
			t.Fatalf("GET after delete: %d", r.status)
		}
	})
	t.Run("file-of-exactly-max-size", func(t *testing.T) {
		big := skesk(DefaultSettings().MaxFileSize)
		id := ts.createFile(t, big, "3600", "true")
		if r := ts.get(t, "/file/"+id); r.status != 200 || !bytes.Equal(r.body, big) {
			t.Fatalf("GET: %d, %d bytes", r.status, len(r.body))
		}
	})
}

func TestConcurrentOneTimeGetsHaveOneWinner(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	const readers = 16
	for trial := range 10 {
		id := ts.createSecret(t, testMessage(300), 3600, true)
		var wg sync.WaitGroup
		codes := make(chan int, readers)
		start := make(chan struct{})
		for range readers {
			wg.Go(func() {
				<-start
				r, err := ts.tryDo(request{method: "GET", path: "/secret/" + id})
				if err != nil {
					t.Error(err)
					codes <- 0
					return
				}
				codes <- r.status
			})
		}
		close(start)
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		if count[200] != 1 || count[404] != readers-1 {
			t.Fatalf("trial %d: status counts %v, want one 200 and %d 404", trial, count, readers-1)
		}
	}
}
