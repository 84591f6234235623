package metrics

import "github.com/prometheus/client_golang/prometheus"

// audit holds the collectors of the sync audit: removals waiting for
// approval, approval decisions, change hooks and webhook deliveries.
type audit struct {
	pending    prometheus.Gauge
	decisions  *prometheus.CounterVec
	hookErrors prometheus.Counter
	deliveries *prometheus.CounterVec
	outbox     *prometheus.GaugeVec
}

func newAudit() *audit {
	return &audit{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ldapbridge_sync_pending_removals",
			Help: "Removals held by sync.max_removals that wait for approval (sync approve / the admin sync page).",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_sync_pending_decisions_total",
			Help: "Decisions on pending removals: approved or rejected.",
		}, []string{"decision"}),
		hookErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ldapbridge_change_hook_errors_total",
			Help: "OnChange hook calls that returned an error (the change stays).",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ldapbridge_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: delivered, retry (will be retried), failed (no attempts left).",
		}, []string{"result"}),
		outbox: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ldapbridge_webhook_events",
			Help: "Webhook events in the outbox by status: pending, delivered, failed (ldapbridge events retry).",
		}, []string{"status"}),
	}
}

func (a *audit) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.pending, a.decisions, a.hookErrors, a.deliveries, a.outbox}
}

// SetPendingRemovals sets the number of removals waiting for approval.
func (m *Metrics) SetPendingRemovals(n int) {
	if m != nil {
		m.audit.pending.Set(float64(n))
	}
}

// ObserveDecision counts one decision on pending removals: "approved" or
// "rejected".
func (m *Metrics) ObserveDecision(decision string) {
	if m != nil {
		m.audit.decisions.WithLabelValues(decision).Inc()
	}
}

// ObserveHookErrors counts OnChange hook errors.
func (m *Metrics) ObserveHookErrors(n int) {
	if m != nil && n > 0 {
		m.audit.hookErrors.Add(float64(n))
	}
}

// ObserveDelivery counts one webhook delivery attempt by result:
// delivered, retry or failed.
func (m *Metrics) ObserveDelivery(result string) {
	if m != nil {
		m.audit.deliveries.WithLabelValues(result).Inc()
	}
}

// SetOutbox sets the number of outbox events per status.
func (m *Metrics) SetOutbox(counts map[string]int64) {
	if m != nil {
		for status, n := range counts {
			m.audit.outbox.WithLabelValues(status).Set(float64(n))
		}
	}
}
