package api

import (
	"errors"
	"net"

	"github.com/valyala/fasthttp"
)

// smallBodyLimit is the body limit of every route that takes no body. It
// cannot be zero, which fasthttp reads as "use the server's limit".
const smallBodyLimit = 4 << 10

// HeaderReceived is the fasthttp Server.HeaderReceived hook. Once a request's
// header is read, it sets that request's body limit by route (a text secret's
// JSON for POST /create/secret, MaxFileSize for POST /create/file, a few KiB
// for everything else) and the current read and write timeouts.
//
// fasthttp compares a Content-Length with the limit before reading any of the
// body, and stops a chunked body at the first chunk that would cross it;
// either way the request ends in ErrorHandler with ErrBodyTooLarge (413) and
// the handler never runs. Since this always returns a non-zero limit, the
// server-wide MaxRequestBodySize does not apply to requests at all.
func (a *API) HeaderReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	s := a.settings.Load()
	return fasthttp.RequestConfig{
		ReadTimeout:        s.ReadTimeout,
		WriteTimeout:       s.WriteTimeout,
		MaxRequestBodySize: bodyLimitFor(h, s),
	}
}

// MaxRequestBodySize is the largest body limit HeaderReceived can return
// with these settings.
func (s Settings) MaxRequestBodySize() int {
	return max(secretBodyLimit(s.MaxLength), s.MaxFileSize, smallBodyLimit)
}

// bodyLimitFor finds the route the way the handler will: from the path
// fasthttp normalizes and decodes, so an odd spelling of a path cannot get
// another route's limit.
func bodyLimitFor(h *fasthttp.RequestHeader, s *Settings) int {
	if !h.IsPost() {
		return smallBodyLimit
	}
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if err := u.Parse(nil, h.RequestURI()); err != nil {
		return smallBodyLimit
	}
	r, _ := match(string(u.Path()))
	switch r.body {
	case bodySecret:
		return secretBodyLimit(s.MaxLength)
	case bodyFile:
		return s.MaxFileSize
	}
	return smallBodyLimit
}

// ErrorHandler is the fasthttp Server.ErrorHandler: a request fasthttp could
// not read gets a JSON answer with the same headers as any other: 413 for a
// body over the route's limit, 408 for a read timeout, 431 for a header too
// large for the read buffer, 400 for anything else. fasthttp closes the
// connection after it.
//
// fasthttp resets a request whose chunked body failed before calling this,
// so such a 413 cannot name its route: it gets the generic "Request body too
// large" and the route label "other".
func (a *API) ErrorHandler(fctx *fasthttp.RequestCtx, err error) {
	fctx.Response.Reset()
	ctx := a.newRequestCtx(fctx)
	a.commonHeaders(ctx)
	status, msg := readErrorAnswer(ctx.route, err)
	fail(ctx, status, msg)
	a.metrics.request(ctx.route, ctx.method, status)
	if a.log.IsDebug() {
		a.log.Debug("request refused", "route", ctx.route.pattern, "method", ctx.method, "status", status, "error", err)
	}
}

func readErrorAnswer(r *route, err error) (int, string) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		if r == routeCreateFile {
			return fasthttp.StatusRequestEntityTooLarge, msgFileTooLarge
		}
		return fasthttp.StatusRequestEntityTooLarge, msgBodyTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		return fasthttp.StatusRequestTimeout, "Request timeout"
	case errors.As(err, &small):
		return fasthttp.StatusRequestHeaderFieldsTooLarge, "Request header too large"
	}
	return fasthttp.StatusBadRequest, "Bad request"
}
