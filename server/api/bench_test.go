package api

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/vigil-sh/vigil/server/store/sqlitestore"
)

// benchAPI is the API on a real SQLite file, called without a network so
// that the numbers are the handler's (routing, validation, JSON, store).
func benchAPI(b *testing.B) *API {
	b.Helper()
	st, err := sqlitestore.Open(sqlitestore.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return New(Options{Store: st, Settings: DefaultSettings()})
}

// serveOnce runs one request through the handler and returns the status.
func serveOnce(a *API, ctx *fasthttp.RequestCtx, req *fasthttp.Request) int {
	ctx.Response.Reset()
	ctx.Init(req, nil, nil)
	a.Handler(ctx)
	return ctx.Response.StatusCode()
}

func createRequest(body []byte) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetMethod("POST")
	req.SetRequestURI("/create/secret")
	req.SetBody(body)
	return req
}

func BenchmarkHandlerCreateSecret(b *testing.B) {
	a := benchAPI(b)
	body := secretJSON(testMessage(2000), 3600, true)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		if code := serveOnce(a, &ctx, createRequest(body)); code != 200 {
			b.Fatalf("create: %d %s", code, ctx.Response.Body())
		}
	}
}

func BenchmarkHandlerGetSecret(b *testing.B) {
	a := benchAPI(b)
	var ctx fasthttp.RequestCtx
	if code := serveOnce(a, &ctx, createRequest(secretJSON(testMessage(2000), 3600, false))); code != 200 {
		b.Fatalf("create: %d", code)
	}
	var created messageBody
	if err := json.Unmarshal(ctx.Response.Body(), &created); err != nil {
		b.Fatal(err)
	}
	req := &fasthttp.Request{}
	req.SetRequestURI("/secret/" + created.Message)
	b.ReportAllocs()
	for b.Loop() {
		if code := serveOnce(a, &ctx, req); code != 200 {
			b.Fatalf("get: %d", code)
		}
	}
}

func BenchmarkHandlerGetOneTimeSecret(b *testing.B) {
	a := benchAPI(b)
	body := secretJSON(testMessage(2000), 3600, true)
	var ctx fasthttp.RequestCtx
	var reqs []*fasthttp.Request
	for range b.N {
		if code := serveOnce(a, &ctx, createRequest(body)); code != 200 {
			b.Fatalf("create: %d", code)
		}
		var created messageBody
		if err := json.Unmarshal(ctx.Response.Body(), &created); err != nil {
			b.Fatal(err)
		}
		req := &fasthttp.Request{}
		req.SetRequestURI("/secret/" + created.Message)
		reqs = append(reqs, req)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, req := range reqs {
		if code := serveOnce(a, &ctx, req); code != 200 {
			b.Fatalf("get: %d", code)
		}
	}
}
