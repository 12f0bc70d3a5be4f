package main

import (
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
)

// metricsSocketName is the LISTEN_FDNAMES name of an inherited socket that
// serves /metrics instead of the API.
const metricsSocketName = "metrics"

// listeners returns the sockets to serve the API and metrics on. Sockets
// handed over with the socket-activation contract (by vigil or systemd) win;
// otherwise the server listens on cfg.Listen and cfg.MetricsListen itself.
func (s *server) openListeners() (api, metrics []net.Listener, err error) {
	named, err := activation.ListenersWithNames()
	if err != nil {
		return nil, nil, fmt.Errorf("inherited sockets: %w", err)
	}
	for name, lns := range named {
		for _, ln := range lns {
			if ln == nil {
				continue // not a listening stream socket
			}
			if name == metricsSocketName {
				metrics = append(metrics, ln)
			} else {
				api = append(api, ln)
			}
		}
	}
	if len(api) > 0 {
		s.log.Info("serving on inherited sockets", "count", len(api)+len(metrics))
	} else {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("listen: %w", err)
		}
		api = append(api, ln)
	}
	if len(metrics) == 0 && s.cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", s.cfg.MetricsListen)
		if err != nil {
			closeAll(api)
			return nil, nil, fmt.Errorf("listen for metrics: %w", err)
		}
		metrics = append(metrics, ln)
	}
	return api, metrics, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}
