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
	syncLast    *prometheus.GaugeVec
	audit       *audit
	live        *live
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_logins_total",
			Help: "Sign-in attempts by directory (the one that decided; default for the single form, none when no directory did) and outcome (ok, bad_credentials, inactive, ...).",
		}, []string{"directory", "outcome"}),
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
			Help: "LDAP operations by directory, operation, server URL and result (ok or error).",
		}, []string{"directory", "op", "url", "result"}),
		ldapTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ldapbridge_ldap_operation_duration_seconds",
			Help:    "LDAP operation latency by directory and operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"directory", "op"}),
		syncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_sync_runs_total",
			Help: "Sync runs by directory, mode (full, incremental) and outcome (ok, aborted, cancelled, error).",
		}, []string{"directory", "mode", "outcome"}),
		syncTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ldapbridge_sync_duration_seconds",
			Help:    "Sync run duration by directory and mode.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900},
		}, []string{"directory", "mode"}),
		syncChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_sync_changes_total",
			Help: "Changes applied by sync, by directory and kind (users_created, memberships_added, ...).",
		}, []string{"directory", "kind"}),
		syncLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ldapbridge_sync_last_success_timestamp_seconds",
			Help: "Unix time of the last sync run of the directory that completed without abort or error.",
		}, []string{"directory"}),
	}
	m.audit = newAudit()
	m.live = newLive()
	for _, c := range append([]prometheus.Collector{m.logins, m.loginTime, m.rateLimited,
		m.ldapOps, m.ldapTime, m.syncRuns, m.syncTime, m.syncChanges, m.syncLast, m.live}, m.audit.collectors()...) {
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

// DefaultDirectory is the directory label of the single-directory form
// (config.DefaultDirectory; metrics does not import config).
const DefaultDirectory = "default"

// NoDirectory is the directory label of a sign-in no directory decided
// (with several directories: a name none of them holds, a name refused
// before any was asked, an error).
const NoDirectory = "none"

// ObserveLogin counts one sign-in attempt with the directory that decided
// it ("" counts as NoDirectory), its outcome (an auth outcome such as "ok"
// or "bad_credentials") and how long it took to decide. The web server
// calls it for every sign-in it handles.
func (m *Metrics) ObserveLogin(directory, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	if directory == "" {
		directory = NoDirectory
	}
	m.logins.WithLabelValues(directory, outcome).Inc()
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
// against the server url, under the directory label DefaultDirectory. Its
// signature matches ldapdir.Observer, so a *Metrics can be passed as
// ldapdir.Options.Observer; with several directories pass each one's
// ForDirectory view instead.
func (m *Metrics) ObserveOp(op, url string, d time.Duration, err error) {
	m.ForDirectory(DefaultDirectory).ObserveOp(op, url, d, err)
}

// ObserveSync records one sync run of the single directory (label
// DefaultDirectory); see Directory.ObserveSync.
func (m *Metrics) ObserveSync(mode, outcome string, d time.Duration, counts map[string]int) {
	m.ForDirectory(DefaultDirectory).ObserveSync(mode, outcome, d, counts)
}

// Directory is the view of m for one directory (config directories:; the
// single form's is DefaultDirectory): its LDAP operations (an
// ldapdir.Observer) and its sync runs, counted under its directory label.
// Nil-safe like Metrics.
type Directory struct {
	m    *Metrics
	name string
}

// ForDirectory returns the view of m labelled with the directory name.
func (m *Metrics) ForDirectory(name string) *Directory { return &Directory{m: m, name: name} }

// ObserveOp counts one LDAP operation of the directory.
func (d *Directory) ObserveOp(op, url string, dur time.Duration, err error) {
	if d == nil || d.m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	d.m.ldapOps.WithLabelValues(d.name, op, url, result).Inc()
	d.m.ldapTime.WithLabelValues(d.name, op).Observe(dur.Seconds())
}

// ObserveSync records one sync run of the directory: its mode (full or
// incremental), outcome (ok, aborted, cancelled or error), duration and
// change counts keyed by the names of `sync --json` (users_created,
// memberships_added, ...).
func (d *Directory) ObserveSync(mode, outcome string, dur time.Duration, counts map[string]int) {
	if d == nil || d.m == nil {
		return
	}
	m := d.m
	m.syncRuns.WithLabelValues(d.name, mode, outcome).Inc()
	m.syncTime.WithLabelValues(d.name, mode).Observe(dur.Seconds())
	for kind, n := range counts {
		if n > 0 {
			m.syncChanges.WithLabelValues(d.name, kind).Add(float64(n))
		}
	}
	if outcome == "ok" {
		m.syncLast.WithLabelValues(d.name).Set(float64(time.Now().Unix()))
	}
}
