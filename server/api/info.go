package api

import (
	"strconv"

	"github.com/valyala/fasthttp"
)

// statusReport is the body of /health and /ready, shaped as Yopass's.
type statusReport struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// health is GET|HEAD /health: 200 for as long as the process serves.
func (a *API) health(ctx *requestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, statusReport{Status: "healthy"})
}

// ready is GET|HEAD /ready: 200 when the server is not draining and the
// store answers a ping, else 503 with the reason.
func (a *API) ready(ctx *requestCtx) {
	if a.notReady.Load() {
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, statusReport{Status: "not ready", Error: "shutting down"})
		return
	}
	if err := a.pingStore(); err != nil {
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, statusReport{Status: "not ready", Error: "store unavailable"})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, statusReport{Status: "ready"})
}

// version is GET /version.
func (a *API) version(ctx *requestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"version": a.versionString})
}

// config is GET /config: the keys Yopass's web client reads. Keys for
// features this server does not have report them off, so the client hides
// them instead of offering something the server would refuse.
func (a *API) config(ctx *requestCtx) {
	s := ctx.settings
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"DISABLE_UPLOAD":          s.DisableUpload,
		"READ_ONLY":               s.ReadOnly,
		"PREFETCH_SECRET":         s.PrefetchSecret,
		"FORCE_ONETIME_SECRETS":   s.ForceOneTime,
		"DEFAULT_ONETIME_SECRETS": true,
		"DEFAULT_EXPIRY":          s.DefaultExpiry,
		"MAX_FILE_SIZE":           formatSize(s.MaxFileSize),
		"DISABLE_FEATURES":        false,
		"NO_LANGUAGE_SWITCHER":    false,
		"HIDE_ONECLICK_LINK":      false,
		"DEFAULT_READ_RECEIPT":    false,
		"READ_RECEIPTS":           false,
		"OIDC_ENABLED":            false,
		"REQUIRE_AUTH":            false,
		"SECRET_REQUESTS":         false,
		"ARGON2":                  false,
		"THEME_LIGHT":             "emerald",
		"THEME_DARK":              "dim",
	})
}

// formatSize writes n bytes the way Yopass's client parses MAX_FILE_SIZE: a
// string, with a binary K/M/GB suffix when one fits exactly.
func formatSize(n int) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GB"
	case n > 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KB"
	}
	return strconv.Itoa(n)
}
