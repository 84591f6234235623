package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LiveSnapshot is what the live mirror (sync.live) reports: how far the
// store is behind the directory, whether the mirror vouches for it, and
// its counters since it started.
type LiveSnapshot struct {
	Lag                       time.Duration
	Current                   bool
	EventsApplied, Reconnects int64
}

// live collects the live mirror's metrics from a snapshot function read
// at each scrape. A new mirror (after a reload) continues the counters.
type live struct {
	mu   sync.Mutex
	src  func() LiveSnapshot
	base LiveSnapshot // counters of the mirrors before src

	lag, current, events, reconnects *prometheus.Desc
}

func newLive() *live {
	return &live{
		lag: prometheus.NewDesc("ldapbridge_live_lag_seconds",
			"Seconds the store is behind the directory by the live mirror's account (sync.live): since the oldest change notified and not yet applied; in Active Directory's poll mode at least since the last poll that found the store current.", nil, nil),
		current: prometheus.NewDesc("ldapbridge_live_current",
			"1 while the live mirror vouches for the store (stream open or poll answering, last run succeeded, sync leader), else 0.", nil, nil),
		events: prometheus.NewDesc("ldapbridge_live_events_applied_total",
			"Directory change notifications (stream entries, highestCommittedUSN moves) that live sync runs applied.", nil, nil),
		reconnects: prometheus.NewDesc("ldapbridge_live_reconnects_total",
			"Times the live mirror's stream was opened again after it broke.", nil, nil),
	}
}

// ObserveLive makes the live mirror's snapshot function the source of the
// live metrics (nil: no live mirror). The counters of the previous source
// are kept, so a configuration reload does not reset them.
func (m *Metrics) ObserveLive(src func() LiveSnapshot) {
	if m == nil {
		return
	}
	l := m.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.src != nil {
		s := l.src()
		l.base.EventsApplied += s.EventsApplied
		l.base.Reconnects += s.Reconnects
	}
	l.src = src
}

func (l *live) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.lag
	ch <- l.current
	ch <- l.events
	ch <- l.reconnects
}

func (l *live) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	s, src := l.base, l.src
	l.mu.Unlock()
	if src != nil {
		now := src()
		s.Lag, s.Current = now.Lag, now.Current
		s.EventsApplied += now.EventsApplied
		s.Reconnects += now.Reconnects
		current := 0.0
		if s.Current {
			current = 1
		}
		ch <- prometheus.MustNewConstMetric(l.lag, prometheus.GaugeValue, s.Lag.Seconds())
		ch <- prometheus.MustNewConstMetric(l.current, prometheus.GaugeValue, current)
	}
	ch <- prometheus.MustNewConstMetric(l.events, prometheus.CounterValue, float64(s.EventsApplied))
	ch <- prometheus.MustNewConstMetric(l.reconnects, prometheus.CounterValue, float64(s.Reconnects))
}
