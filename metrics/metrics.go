// Package metrics holds the Prometheus collectors of ldapbridge: sign-ins
// and rate limiting, LDAP operations, and sync runs. The web app, the LDAP
// driver (through ldapdir.Observer) and the sync job report into one
// *Metrics; it must not import web, ldapdir, dirsync or a store driver, so
// anything may feed it without pulling those in.
package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of ldapbridge: logins, LDAP operations
// and sync runs. Other packages report into it through its Observe methods;
// all of them are safe for concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	logins      *prometheus.CounterVec
	loginTime   prometheus.Histogram
	rateLimited *prometheus.CounterVec
	ldapOps     *prometheus.CounterVec
	ldapTime    *prometheus.HistogramVec
	syncRuns    *prometheus.CounterVec
	syncTime    *prometheus.HistogramVec
	syncChanges *prometheus.CounterVec
	syncLast    prometheus.Gauge
	dirLogins   *prometheus.CounterVec
	dirOps      *prometheus.CounterVec
	dirSyncs    *prometheus.CounterVec
	audit       *audit
	live        *live
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_logins_total",
			Help: "Sign-in attempts by outcome (ok, bad_credentials, inactive, ...).",
		}, []string{"outcome"}),
		loginTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ldapbridge_login_duration_seconds",
			Help:    "Time to decide a sign-in attempt.",
			Buckets: prometheus.DefBuckets,
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_login_rate_limited_total",
			Help: "Sign-in attempts refused by the rate limiter, by limit (user or ip).",
		}, []string{"limit"}),
		ldapOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_ldap_operations_total",
			Help: "LDAP operations by operation, server URL and result (ok or error).",
		}, []string{"op", "url", "result"}),
		ldapTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ldapbridge_ldap_operation_duration_seconds",
			Help:    "LDAP operation latency by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"op"}),
		syncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_sync_runs_total",
			Help: "Sync runs by mode (full, incremental) and outcome (ok, aborted, cancelled, error).",
		}, []string{"mode", "outcome"}),
		syncTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ldapbridge_sync_duration_seconds",
			Help:    "Sync run duration by mode.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900},
		}, []string{"mode"}),
		syncChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_sync_changes_total",
			Help: "Changes applied by sync, by kind (users_created, memberships_added, ...).",
		}, []string{"kind"}),
		syncLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ldapbridge_sync_last_success_timestamp_seconds",
			Help: "Unix time of the last sync run that completed without abort or error.",
		}),
	}
	m.dirLogins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ldapbridge_directory_logins_total",
		Help: "Sign-in attempts each directory decided or was asked about, by directory (config directories:; default for the single form) and outcome.",
	}, []string{"directory", "outcome"})
	m.dirOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ldapbridge_directory_ldap_operations_total",
		Help: "LDAP operations by directory, operation and result (ok or error).",
	}, []string{"directory", "op", "result"})
	m.dirSyncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ldapbridge_directory_sync_runs_total",
		Help: "Sync runs by directory, mode and outcome.",
	}, []string{"directory", "mode", "outcome"})
	m.audit = newAudit()
	m.live = newLive()
	for _, c := range append([]prometheus.Collector{m.logins, m.loginTime, m.rateLimited,
		m.ldapOps, m.ldapTime, m.syncRuns, m.syncTime, m.syncChanges, m.syncLast, m.dirLogins, m.dirOps, m.dirSyncs, m.live}, m.audit.collectors()...) {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("metrics: already registered on this registry; create Metrics once and pass it in web.Deps.Metrics")
			}
			return nil, err
		}
	}
	return m, nil
}

// ObserveLogin counts one sign-in attempt with its outcome (an auth outcome
// such as "ok" or "bad_credentials") and how long it took to decide. The web
// server calls it for every sign-in it handles, so do not also pass the same
// Metrics as auth.Options.Observer there: logins would count twice.
func (m *Metrics) ObserveLogin(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(outcome).Inc()
	m.loginTime.Observe(d.Seconds())
}

// ObserveRateLimited counts one sign-in refused by the limit named "user" or "ip".
func (m *Metrics) ObserveRateLimited(limit string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(limit).Inc()
}

// ObserveOp counts one LDAP operation (dial, bind, search, check_password)
// against the server url. Its signature matches ldapdir.Observer, so a
// *Metrics can be passed as ldapdir.Options.Observer.
func (m *Metrics) ObserveOp(op, url string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.ldapOps.WithLabelValues(op, url, result).Inc()
	m.ldapTime.WithLabelValues(op).Observe(d.Seconds())
}

// ObserveSync records one sync run: its mode (full or incremental), outcome
// (ok, aborted, cancelled or error), duration and change counts keyed by the names of
// `sync --json` (users_created, memberships_added, ...).
func (m *Metrics) ObserveSync(mode, outcome string, d time.Duration, counts map[string]int) {
	if m == nil {
		return
	}
	m.syncRuns.WithLabelValues(mode, outcome).Inc()
	m.syncTime.WithLabelValues(mode).Observe(d.Seconds())
	for kind, n := range counts {
		if n > 0 {
			m.syncChanges.WithLabelValues(kind).Add(float64(n))
		}
	}
	if outcome == "ok" {
		m.syncLast.Set(float64(time.Now().Unix()))
	}
}

// Directory is the view of m for one directory (config directories:): its
// logins (an auth.Observer: pass it as auth.Options.Observer of that
// directory's Authenticator), its LDAP operations (an ldapdir.Observer,
// also counted in the metrics without the label) and its sync runs
// (ObserveDirectorySync). Nil-safe like Metrics.
type Directory struct {
	m    *Metrics
	name string
}

// ForDirectory returns the view of m labelled with the directory name.
func (m *Metrics) ForDirectory(name string) *Directory { return &Directory{m: m, name: name} }

// ObserveLogin counts one sign-in attempt this directory answered.
func (d *Directory) ObserveLogin(outcome string, _ time.Duration) {
	if d == nil || d.m == nil {
		return
	}
	d.m.dirLogins.WithLabelValues(d.name, outcome).Inc()
}

// ObserveOp counts one LDAP operation of the directory, with and without
// the directory label (Metrics.ObserveOp).
func (d *Directory) ObserveOp(op, url string, dur time.Duration, err error) {
	if d == nil || d.m == nil {
		return
	}
	d.m.ObserveOp(op, url, dur, err)
	result := "ok"
	if err != nil {
		result = "error"
	}
	d.m.dirOps.WithLabelValues(d.name, op, result).Inc()
}

// ObserveSync counts one sync run of the directory (Metrics.ObserveSync
// records the run without the label).
func (d *Directory) ObserveSync(mode, outcome string) {
	if d == nil || d.m == nil {
		return
	}
	d.m.dirSyncs.WithLabelValues(d.name, mode, outcome).Inc()
}
