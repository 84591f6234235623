package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

// server is `ldapbridge serve`: what lives as long as the process (the
// store, the metrics, the listener's settings, sessions and sign-in limits)
// and the wiring built from the current configuration, which a reload
// replaces as a whole.
type server struct {
	log      *slog.Logger
	store    ldapbridge.Store
	instance string
	reg      *prometheus.Registry
	metrics  *metrics.Metrics

	// started is the configuration the process started with; the keys
	// only a restart changes (restartKeys) keep its values.
	started *config.Config
	// configPath is the file a reload reads.
	configPath string
	// hup delivers the reload requests (SIGHUP); nil never reloads.
	hup <-chan os.Signal
	// listen is --listen, which overrides web.listen of every reload.
	listen string
	// life is serve's context: the sync jobs of every wiring end with it.
	life context.Context

	sessions web.Deps // Sessions and Limiter shared by every wiring
	sweep    []expirer

	cur      atomic.Pointer[wiring]
	reloadMu sync.Mutex     // one reload at a time
	retiring sync.WaitGroup // wirings replaced and not yet closed
}

// wiring is everything built from one configuration: the directory pool
// and the authenticator (in a, whose store is the server's), the sync job
// and the web handler. Requests hold mu for reading, so a replaced wiring
// is closed only after the requests it was serving have finished.
type wiring struct {
	a       *app
	job     *syncJob
	handler http.Handler

	mu      sync.RWMutex
	retired bool // replaced: new requests go to the current wiring
}

// newServer makes the server of a's store, logger and configuration, with
// no wiring yet and no reloading.
func newServer(a *app, reg *prometheus.Registry, m *metrics.Metrics) *server {
	s := &server{log: a.log, store: a.store, instance: a.instance, reg: reg, metrics: m, started: a.cfg, life: context.Background()}
	switch st := a.store.(type) {
	case *sqlite.Store:
		sessions := st.Sessions()
		s.sessions.Sessions = sessions
		s.sweep = []expirer{sessions}
	case *postgres.Store:
		// Sessions and sign-in limits live in the database, so every
		// instance on it shares them.
		sessions, limiter := st.Sessions(), st.RateLimiter()
		s.sessions.Sessions, s.sessions.Limiter = sessions, limiter
		s.sweep = []expirer{sessions, limiter}
	}
	if s.sessions.Limiter == nil {
		// One limiter for every wiring: a reload does not reset the counts.
		s.sessions.Limiter = web.NewMemoryLimiter()
	}
	return s
}

// openServer opens the store, the directory and the sync job for cfg,
// starts the schedule and returns the server, which reloads from
// g.configPath (listen is --listen, "" when not given). Close closes what it
// opened.
func (g *globals) openServer(ctx context.Context, cfg *config.Config, listen string) (*server, error) {
	reg, m, err := newMetrics()
	if err != nil {
		return nil, err
	}
	a, err := g.openAppWith(ctx, cfg, withDetect, m)
	if err != nil {
		return nil, err
	}
	s := newServer(a, reg, m)
	s.configPath, s.listen, s.life = g.configPath, listen, ctx
	job, err := newSyncJob(ctx, a, m)
	if err != nil {
		a.Close()
		return nil, err
	}
	w, err := s.wire(a, job)
	if err == nil {
		err = job.schedule()
	}
	if err != nil {
		job.Close()
		a.Close()
		return nil, err
	}
	s.cur.Store(w)
	return s, nil
}

// wire builds the web handler of a and job.
func (s *server) wire(a *app, job *syncJob) (*wiring, error) {
	deps := web.Deps{
		Auth: a.login, Explain: a.auth, Store: a.store, LocalGroups: a.store, Logger: s.log,
		Sessions: s.sessions.Sessions, Limiter: s.sessions.Limiter,
		Metrics: s.metrics, MetricsHandler: promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}),
		Health: func(ctx context.Context) []web.DirectoryHealth {
			// The root DSE of the server in use gives its flavor and TLS.
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var out []web.DirectoryHealth
			for _, d := range a.dirs {
				info, _ := d.dir.Info(ctx)
				for _, h := range d.dir.Health() {
					dh := web.DirectoryHealth{URL: h.URL, Up: h.Up, LastError: h.LastError, LastChange: h.LastChange}
					if len(a.dirs) > 1 {
						dh.Directory = d.name()
					}
					if info != nil && info.URL == h.URL {
						dh.Flavor, dh.TLS = string(info.Flavor), info.TLS
					}
					out = append(out, dh)
				}
			}
			return out
		},
		Ready:       func(ctx context.Context) error { return readiness(ctx, a) },
		ReadyDetail: readyDetail(a),
	}
	job.webDeps(&deps)
	srv, err := web.New(a.cfg.Web, deps)
	if err != nil {
		return nil, usage(err)
	}
	return &wiring{a: a, job: job, handler: srv.Handler()}, nil
}

// ServeHTTP hands the request to the current wiring, which is not closed
// before the request ends.
func (s *server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	for {
		w := s.cur.Load()
		if w.serve(rw, r) {
			return
		}
	}
}

// serve serves r unless w was replaced meanwhile (then it is false).
func (w *wiring) serve(rw http.ResponseWriter, r *http.Request) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.retired {
		return false
	}
	w.handler.ServeHTTP(rw, r)
	return true
}

// retire closes w in the background once the requests it serves and the
// sync it runs have finished; Close waits for that.
func (s *server) retire(w *wiring) {
	s.retiring.Add(1)
	go func() {
		defer s.retiring.Done()
		w.mu.Lock() // waits for the requests in flight on w
		w.retired = true
		w.mu.Unlock()
		w.job.retire()
		w.a.closeDirs()
	}()
}

// Close stops the sync jobs (cancelling a running sync), waits for them and
// for the replaced wirings, then closes the directories and the store.
func (s *server) Close() {
	if w := s.cur.Load(); w != nil {
		w.job.Close()
		w.a.closeDirs()
	}
	s.retiring.Wait()
	s.store.Close()
}

// restartKeys are the keys a reload cannot apply: the listener and the
// store are opened once. Each reads its value from a config.
var restartKeys = []struct {
	key string
	get func(c *config.Config) any
}{
	{"web.listen", func(c *config.Config) any { return c.Web.Listen }},
	{"web.read_timeout", func(c *config.Config) any { return c.Web.ReadTimeout }},
	{"web.write_timeout", func(c *config.Config) any { return c.Web.WriteTimeout }},
	{"web.idle_timeout", func(c *config.Config) any { return c.Web.IdleTimeout }},
	{"web.max_connections", func(c *config.Config) any { return c.Web.MaxConnections }},
	{"store.driver", func(c *config.Config) any { return c.Store.Driver }},
	{"store.dsn", func(c *config.Config) any { return string(c.Store.DSN) }},
}

// keepRestartKeys returns the restart-only keys whose value in cfg differs
// from the running one, and sets them in cfg back to the running values.
func (s *server) keepRestartKeys(cfg *config.Config) []string {
	if s.listen != "" {
		cfg.Web.Listen = s.listen // --listen wins over every file
	}
	var changed []string
	for _, k := range restartKeys {
		if k.get(cfg) != k.get(s.started) {
			changed = append(changed, k.key)
		}
	}
	old := s.started
	cfg.Store = old.Store
	cfg.Web.Listen, cfg.Web.ReadTimeout, cfg.Web.WriteTimeout = old.Web.Listen, old.Web.ReadTimeout, old.Web.WriteTimeout
	cfg.Web.IdleTimeout, cfg.Web.MaxConnections = old.Web.IdleTimeout, old.Web.MaxConnections
	return changed
}

// reload reads the configuration file again. A valid one replaces the
// running wiring: a new directory pool and authenticator, the new sync
// schedule and web settings; requests and a sync in flight finish on the
// old wiring, which is closed afterwards. Keys that need a restart are
// logged and keep their running values. A file with problems, or one whose
// directory or schedule cannot be set up, is logged with its problems and
// changes nothing. The error is what was logged.
func (s *server) reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.log.Info("SIGHUP: reloading the configuration", "file", s.configPath)
	fail := func(err error) error {
		s.log.Error("configuration NOT reloaded; the running configuration is kept — fix the file and send SIGHUP again",
			"file", s.configPath, "problems", err)
		return err
	}
	cfg, err := config.Load(s.configPath)
	if err != nil {
		return fail(err)
	}
	if _, err := parseSchedule(cfg.Sync.Schedule); err != nil {
		return fail(err)
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn("configuration warning", "file", s.configPath, "warning", w)
	}
	if keys := s.keepRestartKeys(cfg); len(keys) > 0 {
		s.log.Warn("changed keys need a restart to take effect; they keep their running values and the rest is applied",
			"file", s.configPath, "needs_restart", strings.Join(keys, ", "))
	}
	a := &app{cfg: cfg, log: s.log, store: s.store, instance: s.instance}
	if err := a.openDirectory(ctx, true, s.metrics); err != nil {
		a.closeDirs()
		return fail(err)
	}
	job, err := newSyncJob(s.life, a, s.metrics)
	var w *wiring
	if err == nil {
		if w, err = s.wire(a, job); err != nil {
			job.Close()
		}
	}
	if err != nil {
		a.closeDirs()
		return fail(err)
	}
	old := s.cur.Swap(w)
	s.retire(old)
	if err := job.schedule(); err != nil { // parsed above: cannot fail
		return fail(fmt.Errorf("sync.schedule: %w", err))
	}
	s.log.Info("configuration reloaded", "file", s.configPath, "sync_schedule", cfg.Sync.Schedule,
		"directory_urls", strings.Join(cfg.Directory.URLs, ", "))
	return nil
}
