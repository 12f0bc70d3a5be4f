package api

import (
	"encoding/json"

	"github.com/valyala/fasthttp"
)

// contentSecurityPolicy suits an API that only ever returns JSON and opaque
// bytes: nothing it serves may load, run, frame or be framed.
const contentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// corsAllowHeaders are the request headers Yopass's web client sends.
const corsAllowHeaders = "Content-Type, X-Yopass-Expiration, X-Yopass-OneTime, X-Yopass-RequireAuth, X-Yopass-Receipt, X-Yopass-Filename"

// retryAfterSeconds is what a 503 tells clients to wait before retrying.
const retryAfterSeconds = "5"

// commonHeaders sets what every response carries, errors included: the
// security headers, no caching (ids are bearer capabilities and one-time
// reads must never be replayed from a cache), CORS, and Connection: close
// once the server is closing.
func (a *API) commonHeaders(ctx *requestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set(fasthttp.HeaderCacheControl, "no-store")
	if ctx.IsTLS() {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if o := ctx.settings.CORSOrigin; o != "" {
		h.Set(fasthttp.HeaderAccessControlAllowOrigin, o)
	}
	if a.closing.Load() {
		ctx.SetConnectionClose()
	}
}

// preflight answers OPTIONS on a known route: the allowed methods, and with
// CORS on, what a browser's preflight needs to let Yopass's client through.
func preflight(ctx *requestCtx) {
	h := &ctx.Response.Header
	allow := ctx.route.allowHeader()
	h.Set(fasthttp.HeaderAllow, allow)
	if ctx.settings.CORSOrigin != "" {
		h.Set(fasthttp.HeaderAccessControlAllowMethods, allow)
		h.Set(fasthttp.HeaderAccessControlAllowHeaders, corsAllowHeaders)
		h.Set(fasthttp.HeaderAccessControlMaxAge, "600")
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// messageBody is Yopass's {"message": ...}: an error, or a new id.
type messageBody struct {
	Message string `json:"message"`
}

// fail answers with status and {"message": msg}.
func fail(ctx *requestCtx, status int, msg string) {
	writeJSON(ctx, status, messageBody{Message: msg})
}

// writeJSON answers with status and v as JSON. v is always one of this
// package's response types, which cannot fail to marshal.
func writeJSON(ctx *requestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body = []byte(`{"message":"Internal server error"}`)
		status = fasthttp.StatusInternalServerError
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}
