package main

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"

	"github.com/vigil-sh/vigil/server/api"
	"github.com/vigil-sh/vigil/server/config"
	"github.com/vigil-sh/vigil/server/store"
)

// server is one running vigil-server: its store, its HTTP servers and the
// settings it runs with. Only the goroutine in run touches cfg.
type server struct {
	cfg    config.Config
	flags  flags
	getenv func(string) string
	log    hclog.Logger

	store   store.Store
	api     *api.API
	http    *fasthttp.Server
	metrics *fasthttp.Server
	conns   *connTracker
	lns     []net.Listener
	served  sync.WaitGroup
	failed  chan error
}

func (s *server) run(sigs <-chan os.Signal) int {
	set := metrics.NewSet()
	st, err := openStore(s.cfg, s.log, set)
	if err != nil {
		s.log.Error("cannot open the store", "error", err)
		return exitFailure
	}
	s.store = st
	apiLns, metricsLns, err := s.openListeners()
	if err != nil {
		s.log.Error("cannot listen", "error", err)
		_ = st.Close()
		return exitFailure
	}
	s.api = api.New(api.Options{Store: st, Logger: s.log.Named("api"), Settings: s.cfg.APISettings(), Version: version, Metrics: set})
	s.serve(apiLns, metricsLns)
	notify(s.log, daemon.SdNotifyReady, "STATUS=serving")
	s.log.Info("serving", "version", version, "addresses", addrs(apiLns), "metrics", addrs(metricsLns), "store", storeKind(s.cfg))
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				s.reload()
				continue
			}
			return s.shutdown(sig, sigs)
		case err := <-s.failed:
			s.log.Error("serving failed", "error", err)
			s.stopNow()
			return exitFailure
		}
	}
}

func (s *server) serve(apiLns, metricsLns []net.Listener) {
	s.conns = newConnTracker()
	s.conns.register(s.api.Metrics())
	s.http = s.newHTTPServer()
	s.failed = make(chan error, len(apiLns)+len(metricsLns))
	for _, ln := range apiLns {
		wrapped := &onceCloseListener{Listener: ln}
		s.lns = append(s.lns, wrapped)
		s.goServe(s.http, wrapped)
	}
	if len(metricsLns) > 0 {
		s.metrics = newMetricsServer(s.api.Metrics(), s.log)
		for _, ln := range metricsLns {
			s.goServe(s.metrics, ln)
		}
	}
}

func (s *server) goServe(srv *fasthttp.Server, ln net.Listener) {
	s.served.Add(1)
	go func() {
		defer s.served.Done()
		// Serve returns nil once its listener is closed by the drain.
		if err := srv.Serve(ln); err != nil {
			s.failed <- err
		}
	}()
}

func (s *server) newHTTPServer() *fasthttp.Server {
	settings := s.cfg.APISettings()
	return &fasthttp.Server{
		Handler:        s.api.Handler,
		HeaderReceived: s.api.HeaderReceived,
		ErrorHandler:   s.api.ErrorHandler,
		ConnState:      s.conns.hook,
		Name:           "vigil",
		ReadTimeout:    s.cfg.HTTP.ReadTimeout.D(),
		WriteTimeout:   s.cfg.HTTP.WriteTimeout.D(),
		IdleTimeout:    s.cfg.HTTP.IdleTimeout.D(),
		Concurrency:    s.cfg.HTTP.Concurrency,
		MaxConnsPerIP:  s.cfg.HTTP.MaxConnsPerIP,
		// HeaderReceived sets each route's own limit; this is the cap.
		MaxRequestBodySize: settings.MaxRequestBodySize(),
		// fasthttp would otherwise read a multipart body before the handler
		// can refuse its Content-Type.
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               8 << 10,
		NoDefaultServerHeader:        true,
		// Error messages fasthttp logs must not quote request contents.
		SecureErrorLogMessage: true,
		CloseOnShutdown:       true,
		Logger:                s.log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

func newMetricsServer(set *metrics.Set, log hclog.Logger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) != "/metrics" {
				ctx.Error("not found", fasthttp.StatusNotFound)
				return
			}
			ctx.SetContentType("text/plain; version=0.0.4")
			set.WritePrometheus(ctx)
			metrics.WriteProcessMetrics(ctx)
		},
		Name:                  "vigil",
		NoDefaultServerHeader: true,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		IdleTimeout:           30 * time.Second,
		MaxRequestBodySize:    1 << 10,
		SecureErrorLogMessage: true,
		Logger:                log.Named("metrics").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// stopNow closes everything without draining (serving already failed).
func (s *server) stopNow() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.http.ShutdownWithContext(ctx)
	if s.metrics != nil {
		_ = s.metrics.ShutdownWithContext(ctx)
	}
	_ = s.store.Close()
}

// notify sends an sd_notify state when NOTIFY_SOCKET is set (by vigil or
// systemd); without it, it does nothing.
func notify(log hclog.Logger, states ...string) {
	for _, st := range states {
		if _, err := daemon.SdNotify(false, st); err != nil {
			log.Warn("sd_notify failed", "state", st, "error", err)
		}
	}
}

func addrs(lns []net.Listener) []string {
	out := make([]string, len(lns))
	for i, ln := range lns {
		out[i] = ln.Addr().String()
	}
	return out
}

func storeKind(cfg config.Config) string {
	u, _ := config.ParseStore(cfg.Store)
	return string(u.Kind)
}
