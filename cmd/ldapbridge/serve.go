package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/metrics"
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
			return g.serve(cmd.Context(), cfg, listen, func(url string) {
				fmt.Fprintf(g.stdout, "ldapbridge is serving on %s\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve on (overrides web.listen)")
	return cmd
}

// serve opens everything for cfg and runs the web app until ctx ends;
// listen, when set, overrides web.listen (now and at every reload) and
// ready is called with the URL once the listener is open. SIGHUP reloads
// the configuration file (see server.reload).
func (g *globals) serve(ctx context.Context, cfg *config.Config, listen string, ready func(url string)) error {
	if listen != "" {
		cfg.Web.Listen = listen
	}
	// SIGHUP is caught from the start, so one sent while serve opens the
	// store and the directory is not fatal: it reloads once serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := g.openServer(ctx, cfg, listen)
	if err != nil {
		return err
	}
	defer s.Close()
	s.hup = hup
	return s.run(ctx, ready)
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

// runWeb serves the web app of a, whose syncs job runs, until ctx ends,
// without reloading: the caller (demo) closes a and job afterwards.
func runWeb(ctx context.Context, a *app, reg *prometheus.Registry, metrics *metrics.Metrics, job *syncJob, ready func(url string)) error {
	s := newServer(a, reg, metrics)
	w, err := s.wire(a, job)
	if err != nil {
		return err
	}
	s.cur.Store(w)
	return s.run(ctx, ready)
}

// run serves the current wiring until ctx ends, reloading on each signal
// s.hup delivers (serve's SIGHUP; demo has none). Then it stops accepting
// connections, lets the requests in flight finish (for at most
// shutdownGrace) and stops its session sweeper; the sync jobs, cancelled by
// ctx, are waited for by Close. The app counts into metrics and serves
// reg on /metrics (the web package itself does not import Prometheus).
func (s *server) run(ctx context.Context, ready func(url string)) error {
	if len(s.sweep) > 0 {
		sweepCtx, stopSweep := context.WithCancel(ctx)
		sweepDone := make(chan struct{})
		go func() {
			defer close(sweepDone)
			sweepSessions(sweepCtx, s.log, s.sweep...)
		}()
		// The sweeper writes to the store: stop it before the store closes.
		defer func() {
			stopSweep()
			<-sweepDone
		}()
	}
	// The webhook delivery worker: owned by run, stopped and waited for
	// before the store closes.
	if ob, ok := s.store.(ldapbridge.Outbox); ok {
		deliverCtx, stopDeliver := context.WithCancel(ctx)
		deliverDone := make(chan struct{})
		go func() {
			defer close(deliverDone)
			s.deliverer(ob).Run(deliverCtx)
		}()
		defer func() {
			stopDeliver()
			<-deliverDone
		}()
	}
	web0 := s.started.Web
	hs := web.NewHTTPServer(web0, s)
	ln, err := web.Listen(web0, hs)
	if err != nil {
		return failed(fmt.Errorf("web.listen: %w — choose a free address with --listen or web.listen", err))
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	ready(fmt.Sprintf("http://%s/", ln.Addr()))
	for done := false; !done; {
		select {
		case err := <-errc:
			return failed(err)
		case <-s.hup: // nil, never ready, without a config file to reload
			s.reload(ctx)
		case <-ctx.Done():
			done = true
		}
	}
	s.log.Info("shutting down: no new connections; waiting for the requests in flight", "cause", context.Cause(ctx), "grace", shutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		s.log.Warn("requests still running after the shutdown grace are cut off", "grace", shutdownGrace, "err", err)
		hs.Close()
	}
	<-errc // Serve has returned ErrServerClosed
	return nil
}

// shutdownGrace bounds how long serve waits for the requests in flight
// once it is asked to stop.
const shutdownGrace = 5 * time.Second

// readiness: the store answers and a directory server is up. With several
// directories it is ready while any directory has a server up (the others'
// users fail to sign in, the rest sign in); readyDetail shows each.
func readiness(ctx context.Context, a *app) error {
	if _, err := a.store.ListUsers(ctx, ldapbridge.UserQuery{Limit: 1}); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if len(a.dirs) <= 1 {
		if up(a.dir) {
			return nil
		}
		return errors.New("directory: no server is reachable")
	}
	var down []string
	for _, d := range a.dirs {
		if up(d.dir) {
			return nil
		}
		down = append(down, d.name())
	}
	return errors.New("no server of any directory is reachable (" + strings.Join(down, ", ") + ")")
}

// readyDetail is /readyz's line per directory with several directories.
func readyDetail(a *app) func(context.Context) []string {
	if len(a.dirs) <= 1 {
		return nil
	}
	return func(context.Context) []string {
		var out []string
		for _, d := range a.dirs {
			state := "up"
			if !up(d.dir) {
				state = "down: no server is reachable"
			}
			out = append(out, "directory "+d.name()+": "+state)
		}
		return out
	}
}

// up reports whether a server of dir is up.
func up(dir *ldapdir.Dir) bool {
	for _, h := range dir.Health() {
		if h.Up {
			return true
		}
	}
	return false
}

// expirer is a table of expiring rows: sessions, rate-limit keys.
type expirer interface {
	DeleteExpired(ctx context.Context) (int64, error)
}

func sweepSessions(ctx context.Context, log *slog.Logger, tables ...expirer) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, x := range tables {
				if _, err := x.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
					log.Warn("deleting expired sessions or rate-limit keys failed", "err", err)
				}
			}
		}
	}
}
