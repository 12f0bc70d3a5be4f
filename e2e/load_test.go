package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// armored passes the server's check of the first OpenPGP packet (an SKESK);
// the server never decrypts.
const armored = "-----BEGIN PGP MESSAGE-----\n\nwy4ECQMIRq3nCDZmVxvgyJ3r0CLMfXTdAHxhFV4Kw1mH+zrWqlD0d9T1IUHgWm5H\n=abcd\n-----END PGP MESSAGE-----\n"

var oneTimeBody = fmt.Sprintf(`{"message":%q,"expiration":3600,"one_time":true}`, armored)

// load is a set of clients, each on its own keep-alive connection, sending
// requests back to back: create a one-time secret, read a lasting secret,
// GET /health. Any transport error, 5xx or unexpected status is a failure.
type load struct {
	base     string
	readID   string
	stopped  chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64
	mu       sync.Mutex
	failed   int
	samples  []string
	created  []string
}

func startLoad(t *testing.T, base string, clients int) *load {
	t.Helper()
	l := &load{base: base, stopped: make(chan struct{})}
	id, err := create(freshClient, base, false)
	if err != nil {
		t.Fatalf("create the secret the load reads: %v", err)
	}
	l.readID = id
	for i := 0; i < clients; i++ {
		l.wg.Add(1)
		go l.client()
	}
	t.Cleanup(l.finish)
	return l
}

func (l *load) client() {
	defer l.wg.Done()
	// One connection per client, kept alive: MaxConnsPerHost caps it at one.
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	for {
		select {
		case <-l.stopped:
			return
		default:
		}
		if id, err := create(c, l.base, true); err != nil {
			l.fail("create: %v", err)
		} else {
			l.record(id)
		}
		l.expect(c, "/secret/"+l.readID, 200)
		l.expect(c, "/health", 200)
	}
}

func (l *load) expect(c *http.Client, path string, want int) {
	st, _, err := get(c, l.base+path)
	l.requests.Add(1)
	switch {
	case err != nil:
		l.fail("%s", redact(fmt.Sprintf("GET %s: %v", path, err), l.readID))
	case st != want:
		l.fail("%s", redact(fmt.Sprintf("GET %s: status %d, want %d", path, st, want), l.readID))
	}
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed++
	if len(l.samples) < 20 {
		l.samples = append(l.samples, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

func (l *load) record(id string) {
	l.requests.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.created = append(l.created, id)
}

// finish stops the clients; safe to call twice.
func (l *load) finish() {
	select {
	case <-l.stopped:
	default:
		close(l.stopped)
	}
	l.wg.Wait()
}

// waitMore waits until n more requests completed, so a phase of a test is
// known to have run under load.
func (l *load) waitMore(r *rig, n int64) {
	r.t.Helper()
	target := l.requests.Load() + n
	r.poll(fmt.Sprintf("%d more requests from the load", n), 60*time.Second, func() bool {
		return l.requests.Load() >= target
	})
}

// check stops the load and fails the test on any failed request.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.finish()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("load: %d requests, %d one-time secrets created, %d failed", l.requests.Load(), len(l.created), l.failed)
	if l.failed > 0 {
		t.Errorf("%d requests failed; first ones:\n%s", l.failed, strings.Join(l.samples, "\n"))
	}
}

// checkReadOnce reads every one-time secret created by the load: each
// answers 200 once, then 404.
func (l *load) checkReadOnce(t *testing.T) {
	t.Helper()
	l.finish()
	ids := make(chan string)
	var bad atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 20 * time.Second}
			for id := range ids {
				first, _, err1 := get(c, l.base+"/secret/"+id)
				second, _, err2 := get(c, l.base+"/secret/"+id)
				if err1 != nil || err2 != nil || first != 200 || second != 404 {
					if bad.Add(1) <= 5 {
						t.Error(redact(fmt.Sprintf("one-time secret %s: reads gave %d (%v) then %d (%v), want 200 then 404", id, first, err1, second, err2), id))
					}
				}
			}
		}()
	}
	l.mu.Lock()
	created := append([]string(nil), l.created...)
	l.mu.Unlock()
	for _, id := range created {
		ids <- id
	}
	close(ids)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of %d one-time secrets were not readable exactly once", n, len(created))
	}
}

func create(c *http.Client, base string, oneTime bool) (string, error) {
	body := strings.Replace(oneTimeBody, `"one_time":true`, fmt.Sprintf(`"one_time":%v`, oneTime), 1)
	resp, err := c.Post(base+"/create/secret", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var out struct{ Message string }
	if err := json.Unmarshal(b, &out); err != nil || out.Message == "" {
		return "", fmt.Errorf("the answer (%d bytes) holds no id: %v", len(b), err)
	}
	return out.Message, nil
}

func get(c *http.Client, url string) (int, []byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// redact keeps an id out of test logs (an id is a bearer capability): it
// replaces every occurrence of id in s with its first 4 characters.
func redact(s, id string) string {
	if len(id) <= 4 {
		return s
	}
	return strings.ReplaceAll(s, id, id[:4]+"…")
}
