package api

import (
	"strings"

	"github.com/vigil-sh/vigil/server/store"
)

// route is one path pattern of the API. Its pattern (never the concrete
// path, which holds an id) labels metrics and log lines.
type route struct {
	pattern string
	// methods are the methods the route answers, in Allow-header order
	// (OPTIONS is added to every route).
	methods []string
	// kind is the store id space for secret and file routes.
	kind store.Kind
	// hasID is set for routes whose last or middle segment is an id.
	hasID bool
	// bodyLimit selects the route's request body limit.
	body  bodyLimit
	serve func(a *API, ctx *requestCtx)
}

// bodyLimit names which setting bounds a route's request body.
type bodyLimit uint8

const (
	bodyNone bodyLimit = iota
	bodySecret
	bodyFile
)

var (
	routeCreateSecret = &route{pattern: "/create/secret", methods: []string{"POST"}, kind: store.KindSecret, body: bodySecret, serve: (*API).createSecret}
	routeSecret       = &route{pattern: "/secret/{id}", methods: []string{"GET", "DELETE"}, kind: store.KindSecret, hasID: true, serve: (*API).readOrDelete}
	routeSecretStatus = &route{pattern: "/secret/{id}/status", methods: []string{"GET"}, kind: store.KindSecret, hasID: true, serve: (*API).status}
	routeCreateFile   = &route{pattern: "/create/file", methods: []string{"POST"}, kind: store.KindFile, body: bodyFile, serve: (*API).createFile}
	routeFile         = &route{pattern: "/file/{id}", methods: []string{"GET", "DELETE"}, kind: store.KindFile, hasID: true, serve: (*API).readOrDelete}
	routeFileStatus   = &route{pattern: "/file/{id}/status", methods: []string{"GET"}, kind: store.KindFile, hasID: true, serve: (*API).status}
	routeConfig       = &route{pattern: "/config", methods: []string{"GET"}, serve: (*API).config}
	routeHealth       = &route{pattern: "/health", methods: []string{"GET", "HEAD"}, serve: (*API).health}
	routeReady        = &route{pattern: "/ready", methods: []string{"GET", "HEAD"}, serve: (*API).ready}
	routeVersion      = &route{pattern: "/version", methods: []string{"GET"}, serve: (*API).version}
	// routeUnknown labels every path no route matches.
	routeUnknown = &route{pattern: "other"}
)

// allRoutes lists every route, for metrics that should exist from the start.
var allRoutes = []*route{
	routeCreateSecret, routeSecret, routeSecretStatus,
	routeCreateFile, routeFile, routeFileStatus,
	routeConfig, routeHealth, routeReady, routeVersion,
}

var staticRoutes = map[string]*route{
	"/create/secret": routeCreateSecret,
	"/create/file":   routeCreateFile,
	"/config":        routeConfig,
	"/health":        routeHealth,
	"/ready":         routeReady,
	"/version":       routeVersion,
}

// match finds the route for a (normalized, decoded) path and the id in it.
// The id is returned unvalidated; an unknown path yields routeUnknown.
func match(path string) (*route, string) {
	if r, ok := staticRoutes[path]; ok {
		return r, ""
	}
	var plain, status *route
	switch {
	case strings.HasPrefix(path, "/secret/"):
		path, plain, status = path[len("/secret/"):], routeSecret, routeSecretStatus
	case strings.HasPrefix(path, "/file/"):
		path, plain, status = path[len("/file/"):], routeFile, routeFileStatus
	default:
		return routeUnknown, ""
	}
	id, rest, found := strings.Cut(path, "/")
	switch {
	case id == "":
		return routeUnknown, ""
	case !found:
		return plain, id
	case rest == "status":
		return status, id
	}
	return routeUnknown, ""
}

// allows reports whether the route answers method (OPTIONS excluded).
func (r *route) allows(method string) bool {
	for _, m := range r.methods {
		if m == method {
			return true
		}
	}
	return false
}

// allowHeader is the value of the Allow header for the route.
func (r *route) allowHeader() string {
	return strings.Join(r.methods, ", ") + ", OPTIONS"
}

// disabledReason says why the current settings turn the route off, or ""
// when it is on. Yopass does not register these routes at all, so a
// disabled route answers 404 whatever the method.
func (r *route) disabledReason(s *Settings) string {
	switch {
	case s.ReadOnly && (r == routeCreateSecret || r == routeCreateFile):
		return "This server is read-only"
	case s.DisableUpload && (r == routeCreateFile || r == routeFile || r == routeFileStatus):
		return "File upload is disabled on this server"
	case !s.PrefetchSecret && (r == routeSecretStatus || r == routeFileStatus):
		return "Secret status is disabled on this server"
	}
	return ""
}
