package api

import (
	"strconv"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/vigil-sh/vigil/server/store"
)

// Store operations, as the op label of the store metrics.
const (
	opCreate = "create"
	opGet    = "get"
	opDelete = "delete"
	opStatus = "status"
	opPing   = "ping"
)

// apiMetrics holds the API's metrics. Labels are route patterns, kinds and
// operations, never ids, so the number of series stays small and fixed.
type apiMetrics struct {
	set *metrics.Set
	// requests caches request counters by route, method and code, so the
	// hot path does not format a metric name per request.
	requests sync.Map // requestKey -> *metrics.Counter
	latency  map[*route]*metrics.PrometheusHistogram
	storeOps map[string]*metrics.Counter
	storeErr map[string]*metrics.Counter
	created  map[store.Kind]*metrics.Counter
	read     map[store.Kind]*metrics.Counter
	deleted  map[store.Kind]*metrics.Counter
	expired  *metrics.Counter
}

type requestKey struct {
	route  *route
	method string
	code   int
}

func newMetrics(set *metrics.Set) *apiMetrics {
	m := &apiMetrics{
		set:      set,
		latency:  map[*route]*metrics.PrometheusHistogram{},
		storeOps: map[string]*metrics.Counter{},
		storeErr: map[string]*metrics.Counter{},
		created:  map[store.Kind]*metrics.Counter{},
		read:     map[store.Kind]*metrics.Counter{},
		deleted:  map[store.Kind]*metrics.Counter{},
		expired:  set.GetOrCreateCounter("vigil_secrets_expired_total"),
	}
	for _, r := range append(allRoutes, routeUnknown) {
		m.latency[r] = set.GetOrCreatePrometheusHistogram(`vigil_http_request_duration_seconds{route="` + r.pattern + `"}`)
	}
	for _, op := range []string{opCreate, opGet, opDelete, opStatus, opPing} {
		m.storeOps[op] = set.GetOrCreateCounter(`vigil_store_operations_total{op="` + op + `"}`)
		m.storeErr[op] = set.GetOrCreateCounter(`vigil_store_errors_total{op="` + op + `"}`)
	}
	for _, k := range []store.Kind{store.KindSecret, store.KindFile} {
		m.created[k] = set.GetOrCreateCounter(`vigil_secrets_created_total{kind="` + k.String() + `"}`)
		m.read[k] = set.GetOrCreateCounter(`vigil_secrets_read_total{kind="` + k.String() + `"}`)
		m.deleted[k] = set.GetOrCreateCounter(`vigil_secrets_deleted_total{kind="` + k.String() + `"}`)
	}
	return m
}

// request records one answered request; method is one of methodName's
// results, so the label set stays bounded whatever clients send.
func (m *apiMetrics) request(r *route, method string, code int) {
	key := requestKey{r, method, code}
	c, ok := m.requests.Load(key)
	if !ok {
		name := `vigil_http_requests_total{route="` + r.pattern + `",method="` + method + `",code="` + strconv.Itoa(code) + `"}`
		c, _ = m.requests.LoadOrStore(key, m.set.GetOrCreateCounter(name))
	}
	c.(*metrics.Counter).Inc()
}

// storeOp records one store call and whether it failed (ErrNotFound is an
// answer, not a failure).
func (m *apiMetrics) storeOp(op string, failed bool) {
	m.storeOps[op].Inc()
	if failed {
		m.storeErr[op].Inc()
	}
}
