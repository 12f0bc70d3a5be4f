package api

import (
	"context"
	"sync"
	"time"
)

const (
	// pingTimeout bounds one readiness ping of the store.
	pingTimeout = time.Second
	// readyCacheFor is how long a ping's result answers /ready. However
	// many probes arrive, the store sees at most one ping per period.
	readyCacheFor = time.Second
)

// readiness caches the last store ping.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	err     error
}

// pingStore returns the result of a store ping at most readyCacheFor old.
// Probes that arrive while a ping runs wait for it (at most pingTimeout)
// instead of starting their own. A change between ready and not ready is
// logged once, not per probe.
func (a *API) pingStore() error {
	r := &a.readiness
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checked.IsZero() && time.Since(r.checked) < readyCacheFor {
		return r.err
	}
	c, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	err := a.store.Ping(c)
	a.metrics.storeOp(opPing, err != nil)
	switch {
	case err != nil && (r.err == nil || r.checked.IsZero()):
		a.log.Warn("not ready: store ping failed", "error", err)
	case err == nil && r.err != nil:
		a.log.Info("ready: store ping succeeds again")
	}
	r.checked, r.err = time.Now(), err
	return err
}
