package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the web app, API and metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Web.Listen = listen
			}
			return g.serve(cmd.Context(), cfg, func(url string) {
				fmt.Fprintf(g.stdout, "ldapbridge is serving on %s\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve on (overrides web.listen)")
	return cmd
}

// serve opens everything for cfg and runs the web app until ctx ends;
// ready is called with the URL once the listener is open.
func (g *globals) serve(ctx context.Context, cfg *config.Config, ready func(url string)) error {
	reg, metrics, err := newMetrics()
	if err != nil {
		return err
	}
	a, err := g.openAppWith(ctx, cfg, withDetect, metrics)
	if err != nil {
		return err
	}
	defer a.Close()
	job, err := newSyncJob(ctx, a, metrics)
	if err != nil {
		return err
	}
	// Deferred after a.Close, so it runs first: the running sync is
	// cancelled and waited for before the store and the directory close.
	defer job.Close()
	if err := job.schedule(); err != nil {
		return err
	}
	return runWeb(ctx, a, reg, metrics, job, ready)
}

// newMetrics makes the Prometheus registry with the process, Go and
// ldapbridge metrics.
func newMetrics() (*prometheus.Registry, *metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return nil, nil, failed(err)
	}
	return reg, m, nil
}

// runWeb serves the web app of a until ctx ends. Then it stops accepting
// connections, lets the requests in flight finish (for at most
// shutdownGrace) and stops its session sweeper; the sync job, cancelled by
// ctx, is waited for by its Close. The app counts into metrics and serves
// reg on /metrics (the web package itself does not import Prometheus).
func runWeb(ctx context.Context, a *app, reg *prometheus.Registry, metrics *metrics.Metrics, job *syncJob, ready func(url string)) error {
	deps := web.Deps{
		Auth: a.auth, Explain: a.auth, Store: a.store, LocalGroups: a.store, Logger: a.log,
		Metrics: metrics, MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Health: func(ctx context.Context) []web.DirectoryHealth {
			// The root DSE of the server in use gives its flavor and TLS.
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			info, _ := a.dir.Info(ctx)
			var out []web.DirectoryHealth
			for _, h := range a.dir.Health() {
				dh := web.DirectoryHealth{URL: h.URL, Up: h.Up, LastError: h.LastError, LastChange: h.LastChange}
				if info != nil && info.URL == h.URL {
					dh.Flavor, dh.TLS = string(info.Flavor), info.TLS
				}
				out = append(out, dh)
			}
			return out
		},
		Ready: func(ctx context.Context) error { return readiness(ctx, a) },
	}
	job.webDeps(&deps)
	var sweep []expirer
	switch st := a.store.(type) {
	case *sqlite.Store:
		sessions := st.Sessions()
		deps.Sessions = sessions
		sweep = []expirer{sessions}
	case *postgres.Store:
		// Sessions and sign-in limits live in the database, so every
		// instance on it shares them.
		sessions, limiter := st.Sessions(), st.RateLimiter()
		deps.Sessions, deps.Limiter = sessions, limiter
		sweep = []expirer{sessions, limiter}
	}
	if len(sweep) > 0 {
		sweepCtx, stopSweep := context.WithCancel(ctx)
		sweepDone := make(chan struct{})
		go func() {
			defer close(sweepDone)
			sweepSessions(sweepCtx, a, sweep...)
		}()
		// The sweeper writes to the store: stop it before the store closes.
		defer func() {
			stopSweep()
			<-sweepDone
		}()
	}
	srv, err := web.New(a.cfg.Web, deps)
	if err != nil {
		return usage(err)
	}
	hs := web.NewHTTPServer(a.cfg.Web, srv.Handler())
	ln, err := web.Listen(a.cfg.Web, hs)
	if err != nil {
		return failed(fmt.Errorf("web.listen: %w — choose a free address with --listen or web.listen", err))
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	ready(fmt.Sprintf("http://%s/", ln.Addr()))
	select {
	case err := <-errc:
		return failed(err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down: no new connections; waiting for the requests in flight", "cause", context.Cause(ctx), "grace", shutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		a.log.Warn("requests still running after the shutdown grace are cut off", "grace", shutdownGrace, "err", err)
		hs.Close()
	}
	<-errc // Serve has returned ErrServerClosed
	return nil
}

// shutdownGrace bounds how long serve waits for the requests in flight
// once it is asked to stop.
const shutdownGrace = 5 * time.Second

// readiness: the store answers and at least one directory server is up.
func readiness(ctx context.Context, a *app) error {
	if _, err := a.store.ListUsers(ctx, ldapbridge.UserQuery{Limit: 1}); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, h := range a.dir.Health() {
		if h.Up {
			return nil
		}
	}
	return errors.New("directory: no server is reachable")
}

// expirer is a table of expiring rows: sessions, rate-limit keys.
type expirer interface {
	DeleteExpired(ctx context.Context) (int64, error)
}

func sweepSessions(ctx context.Context, a *app, tables ...expirer) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, x := range tables {
				if _, err := x.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("deleting expired sessions or rate-limit keys failed", "err", err)
				}
			}
		}
	}
}
