package api

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/vigil-sh/vigil/server/store"
)

// createAttempts bounds the retries when a fresh id is taken. With 128
// random bits a second attempt is already astronomically rare; the bound
// only stops a broken store that always says ErrExists from looping.
const createAttempts = 3

// secretBody is GET /secret/{id}: Yopass's secret, with the lifetime it was
// created with (not the time left).
type secretBody struct {
	Message    string `json:"message"`
	Expiration int64  `json:"expiration"`
	OneTime    bool   `json:"one_time"`
}

// statusBody is GET /{secret,file}/{id}/status. requireAuth is always false
// here; Yopass's web client reads it.
type statusBody struct {
	OneTime     bool `json:"oneTime"`
	RequireAuth bool `json:"requireAuth"`
}

// createSecret is POST /create/secret.
func (a *API) createSecret(ctx *requestCtx) {
	sec, cerr := parseSecretRequest(ctx.PostBody(), ctx.settings)
	if cerr != nil {
		fail(ctx, cerr.status, cerr.message)
		return
	}
	a.create(ctx, sec)
}

// createFile is POST /create/file: the body is the binary message and the
// options travel in headers, as Yopass's web client sends them.
func (a *API) createFile(ctx *requestCtx) {
	h := &ctx.Request.Header
	fh := fileHeaders{
		contentType: string(h.ContentType()),
		expiration:  string(h.Peek("X-Yopass-Expiration")),
		oneTime:     string(h.Peek("X-Yopass-OneTime")),
		requireAuth: string(h.Peek("X-Yopass-RequireAuth")),
		receipt:     string(h.Peek("X-Yopass-Receipt")),
	}
	sec, cerr := parseFileRequest(fh, ctx.PostBody(), ctx.settings)
	if cerr != nil {
		fail(ctx, cerr.status, cerr.message)
		return
	}
	// fasthttp reuses the body buffer after the handler returns; a store
	// may keep what it is given.
	sec.data = bytes.Clone(sec.data)
	a.create(ctx, sec)
}

// create stores sec under a fresh id and answers {"message": id}.
func (a *API) create(ctx *requestCtx, sec newSecret) {
	kind := ctx.route.kind
	for range createAttempts {
		id, err := newID()
		if err != nil {
			a.log.Error("cannot make an id", "error", err)
			fail(ctx, fasthttp.StatusInternalServerError, "Internal server error")
			return
		}
		ctx.id = id
		err = a.storeCreate(kind, id, store.Secret{Data: sec.data, TTL: sec.ttl, OneTime: sec.oneTime})
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			a.storeFailed(ctx, opCreate, err)
			return
		}
		a.metrics.created[kind].Inc()
		writeJSON(ctx, fasthttp.StatusOK, messageBody{Message: id})
		return
	}
	a.storeFailed(ctx, opCreate, errors.New("every fresh id was taken: the store always answers ErrExists"))
}

// readOrDelete is GET and DELETE on /secret/{id} and /file/{id}.
func (a *API) readOrDelete(ctx *requestCtx) {
	if ctx.method == fasthttp.MethodDelete {
		a.delete(ctx)
		return
	}
	a.read(ctx)
}

// read returns the secret; the store deletes a one-time secret as it hands
// it over, so among concurrent readers exactly one gets it.
func (a *API) read(ctx *requestCtx) {
	kind := ctx.route.kind
	sec, err := a.storeGet(kind, ctx.id)
	if err != nil {
		a.storeFailed(ctx, opGet, err)
		return
	}
	a.metrics.read[kind].Inc()
	if kind == store.KindFile {
		writeFile(ctx, sec.Data)
		return
	}
	expiration := int64(sec.TTL / time.Second)
	if b, ok := appendPlainSecretBody(nil, sec.Data, expiration, sec.OneTime); ok {
		// What writeJSON does, without reflection and a second copy.
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("application/json")
		ctx.Response.SetBodyRaw(b)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, secretBody{
		Message:    string(sec.Data),
		Expiration: expiration,
		OneTime:    sec.OneTime,
	})
}

// writeFile answers with a file's ciphertext. Attachment keeps a browser
// that opens the URL directly from trying to show it.
func writeFile(ctx *requestCtx, data []byte) {
	h := &ctx.Response.Header
	h.SetContentType("application/octet-stream")
	h.Set(fasthttp.HeaderContentDisposition, "attachment")
	if ctx.settings.CORSOrigin != "" {
		// Lets the web client show download progress, as Yopass does.
		h.Set(fasthttp.HeaderAccessControlExposeHeaders, fasthttp.HeaderContentLength)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.SetBodyRaw(data)
}

// delete removes the secret: 204, or 404 if there was none.
func (a *API) delete(ctx *requestCtx) {
	kind := ctx.route.kind
	if err := a.storeDelete(kind, ctx.id); err != nil {
		a.storeFailed(ctx, opDelete, err)
		return
	}
	a.metrics.deleted[kind].Inc()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// status reports whether the secret is one-time without consuming it.
func (a *API) status(ctx *requestCtx) {
	oneTime, err := a.storeStatus(ctx.route.kind, ctx.id)
	if err != nil {
		a.storeFailed(ctx, opStatus, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, statusBody{OneTime: oneTime})
}

// appendPlainSecretBody appends the JSON of a secretBody, byte for byte what
// json.Marshal writes, when data is plain: printable ASCII and line breaks,
// as an armored message is. Otherwise it reports false and the caller
// marshals (json.Marshal has more to escape: other control characters,
// '<', '>', '&', and non-ASCII).
func appendPlainSecretBody(dst, data []byte, expiration int64, oneTime bool) ([]byte, bool) {
	dst = slices.Grow(dst, len(data)+len(data)/32+64)
	dst = append(dst, `{"message":"`...)
	for len(data) > 0 {
		n := 0
		for n < len(data) && verbatimInJSON[data[n]] {
			n++
		}
		dst = append(dst, data[:n]...)
		if n == len(data) {
			break
		}
		var esc string
		switch data[n] {
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		case '"':
			esc = `\"`
		case '\\':
			esc = `\\`
		default:
			return dst, false
		}
		dst = append(dst, esc...)
		data = data[n+1:]
	}
	dst = append(dst, `","expiration":`...)
	dst = strconv.AppendInt(dst, expiration, 10)
	dst = append(dst, `,"one_time":`...)
	dst = strconv.AppendBool(dst, oneTime)
	return append(dst, '}'), true
}

// verbatimInJSON marks the bytes json.Marshal copies into a string as they
// are: printable ASCII except '"', '\\' and the HTML characters it escapes.
var verbatimInJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()
