// Package api is vigil-server's HTTP API: Yopass's secret API on fasthttp.
//
// Clients encrypt with OpenPGP and keep the key in the link's fragment; the
// API only ever sees ciphertext. It stores text secrets (armored messages,
// POST /create/secret) and files (binary messages, POST /create/file) in a
// store.Store, and serves each back once (one-time) or until it expires.
//
// Every response, errors included, is JSON (except a file's bytes) and
// carries the security headers; settings can be swapped while serving.
package api

import (
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"

	"github.com/vigil-sh/vigil/server/store"
)

// Options configure New. Zero values mean defaults where one exists.
type Options struct {
	// Store keeps the secrets. Required.
	Store store.Store
	// Logger receives the API's log lines; nil discards them.
	Logger hclog.Logger
	// Settings are the initial settings; they must pass Validate.
	Settings Settings
	// Version is what GET /version reports ("unknown" when empty).
	Version string
	// Metrics receives the API's metrics; nil means a new set.
	Metrics *metrics.Set
}

// API serves the secret API. Its methods are safe for concurrent use.
type API struct {
	store         store.Store
	log           hclog.Logger
	versionString string
	metrics       *apiMetrics
	settings      atomic.Pointer[Settings]
	notReady      atomic.Bool
	closing       atomic.Bool
	readiness     readiness
}

// New returns an API serving opts.Store with opts.Settings. It does not
// validate the settings: the caller does, to report every problem at once.
func New(opts Options) *API {
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	set := opts.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	version := opts.Version
	if version == "" {
		version = "unknown"
	}
	a := &API{store: opts.Store, log: logger.Named("api"), versionString: version, metrics: newMetrics(set)}
	a.settings.Store(opts.Settings.clone())
	return a
}

// SetSettings replaces the settings for every request that starts from now
// on; requests already running finish with the settings they started with.
// It does not validate s: the caller runs Validate first.
func (a *API) SetSettings(s Settings) {
	a.settings.Store(s.clone())
}

// SetNotReady makes /ready answer 503 from now on, so that a load balancer
// stops sending new traffic (the first phase of a shutdown). Everything else
// is served as before.
func (a *API) SetNotReady() {
	a.notReady.Store(true)
}

// SetClosing also makes every response carry "Connection: close", so that
// keep-alive clients move to another connection before the server shuts
// down (the second phase of a shutdown).
func (a *API) SetClosing() {
	a.notReady.Store(true)
	a.closing.Store(true)
}

// Metrics returns the set the API records its metrics in.
func (a *API) Metrics() *metrics.Set {
	return a.metrics.set
}

// SecretsExpired adds n to vigil_secrets_expired_total; the store's sweep
// calls it with the number of secrets it removed.
func (a *API) SecretsExpired(n int) {
	if n > 0 {
		a.metrics.expired.Add(n)
	}
}

// requestCtx is one request with what the router found out about it.
type requestCtx struct {
	*fasthttp.RequestCtx
	settings *Settings
	route    *route
	id       string
	method   string
}

// Handler is the fasthttp.RequestHandler of the API.
func (a *API) Handler(fctx *fasthttp.RequestCtx) {
	start := time.Now()
	ctx := a.newRequestCtx(fctx)
	a.commonHeaders(ctx)
	a.dispatch(ctx)
	code := ctx.Response.StatusCode()
	took := time.Since(start)
	a.metrics.request(ctx.route, ctx.method, code)
	a.metrics.latency[ctx.route].Update(took.Seconds())
	a.logRequest(ctx, code, took)
}

func (a *API) newRequestCtx(fctx *fasthttp.RequestCtx) *requestCtx {
	r, id := match(string(fctx.Path()))
	return &requestCtx{
		RequestCtx: fctx,
		settings:   a.settings.Load(),
		route:      r,
		id:         id,
		method:     methodName(fctx.Method()),
	}
}

// dispatch answers the request: unknown and disabled routes with 404, wrong
// methods with 405 and a malformed id with 400, all before any store call.
func (a *API) dispatch(ctx *requestCtx) {
	r := ctx.route
	if r == routeUnknown {
		fail(ctx, fasthttp.StatusNotFound, "Not found")
		return
	}
	if reason := r.disabledReason(ctx.settings); reason != "" {
		fail(ctx, fasthttp.StatusNotFound, reason)
		return
	}
	if ctx.method == fasthttp.MethodOptions {
		preflight(ctx)
		return
	}
	if !r.allows(ctx.method) {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, r.allowHeader())
		fail(ctx, fasthttp.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	if r.hasID && !validID(ctx.id) {
		fail(ctx, fasthttp.StatusBadRequest, "invalid id")
		return
	}
	r.serve(a, ctx)
}

// methodName maps a request method to a constant string, so that metric
// labels stay bounded and no string is allocated per request.
func methodName(m []byte) string {
	for _, known := range []string{
		fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPost, fasthttp.MethodPut,
		fasthttp.MethodDelete, fasthttp.MethodOptions, fasthttp.MethodPatch,
	} {
		if string(m) == known {
			return known
		}
	}
	return "other"
}

// logRequest writes at most one debug line per request. It shows a hash of
// the id, never the id.
func (a *API) logRequest(ctx *requestCtx, code int, took time.Duration) {
	if !a.log.IsDebug() {
		return
	}
	args := []any{"route", ctx.route.pattern, "method", ctx.method, "status", code, "duration", took}
	if ctx.id != "" {
		args = append(args, "id_hash", idHash(ctx.id))
	}
	a.log.Debug("request", args...)
}
