package redisstore

import (
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/store"
)

// health remembers whether Redis answered last time, so that an outage is
// logged once when it starts and once when it ends, not per request.
type health struct {
	down atomic.Bool
	log  hclog.Logger
}

func (h *health) ok() {
	if h.down.Load() && h.down.CompareAndSwap(true, false) {
		h.log.Info("redis is reachable again")
	}
}

func (h *health) failed(e *opError) {
	if e.kind != store.ErrUnavailable || h.down.Load() || !h.down.CompareAndSwap(false, true) {
		return
	}
	h.log.Warn("redis is unavailable; requests fail until it returns", "error", e.Error())
}
