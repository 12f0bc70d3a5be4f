package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigil-sh/vigil/server/store"
)

// storeTimeout bounds one store call. Store calls do not use the request's
// context: fasthttp cancels that for every request as soon as a shutdown
// starts, and draining means letting running requests finish.
const storeTimeout = 5 * time.Second

func storeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

func (a *API) storeCreate(kind store.Kind, id string, s store.Secret) error {
	c, cancel := storeContext()
	defer cancel()
	err := a.store.Create(c, kind, id, s)
	a.metrics.storeOp(opCreate, err != nil && !errors.Is(err, store.ErrExists))
	return err
}

func (a *API) storeGet(kind store.Kind, id string) (store.Secret, error) {
	c, cancel := storeContext()
	defer cancel()
	s, err := a.store.Get(c, kind, id)
	a.metrics.storeOp(opGet, failed(err))
	return s, err
}

func (a *API) storeDelete(kind store.Kind, id string) error {
	c, cancel := storeContext()
	defer cancel()
	err := a.store.Delete(c, kind, id)
	a.metrics.storeOp(opDelete, failed(err))
	return err
}

func (a *API) storeStatus(kind store.Kind, id string) (bool, error) {
	c, cancel := storeContext()
	defer cancel()
	oneTime, err := a.store.Status(c, kind, id)
	a.metrics.storeOp(opStatus, failed(err))
	return oneTime, err
}

// failed tells store failures from answers: ErrNotFound is an answer.
func failed(err error) bool {
	return err != nil && !errors.Is(err, store.ErrNotFound)
}

// storeFailed answers a request whose store call returned err. It is the one
// place store errors become HTTP answers:
//
//   - ErrNotFound: 404 "Secret not found" (Yopass's words).
//   - ErrUnavailable, ErrClosed, or the store call timing out: 503 with
//     Retry-After. A closed store means this process is shutting down (the
//     store closes after the listeners), so another instance, or this one
//     after a restart, will answer; the client should retry, not give up.
//   - anything else: 500 with a generic message.
//
// The details go to the log (warn for 503, error for 500) and never to the
// client; the log shows a hash of the id, never the id.
func (a *API) storeFailed(ctx *requestCtx, op string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(ctx, fasthttp.StatusNotFound, "Secret not found")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		a.log.Warn("store unavailable", a.storeLogArgs(ctx, op, err)...)
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, retryAfterSeconds)
		fail(ctx, fasthttp.StatusServiceUnavailable, "store unavailable, try again")
	default:
		a.log.Error("store failed", a.storeLogArgs(ctx, op, err)...)
		fail(ctx, fasthttp.StatusInternalServerError, "Internal server error")
	}
}

// storeLogArgs describes a failed store call. The error text is scrubbed of
// the id in case a backend quotes it.
func (a *API) storeLogArgs(ctx *requestCtx, op string, err error) []any {
	msg := err.Error()
	if ctx.id != "" {
		msg = strings.ReplaceAll(msg, ctx.id, "<id "+idHash(ctx.id)+">")
	}
	return []any{"op", op, "kind", ctx.route.kind.String(), "id_hash", idHash(ctx.id), "error", msg}
}
