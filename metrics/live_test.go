package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func gatherValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				out[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[f.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestLiveMetricsReadTheMirrorAndSurviveAReload(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if v := gatherValues(t, reg); v["ldapbridge_live_events_applied_total"] != 0 || v["ldapbridge_live_lag_seconds"] != 0 {
		t.Errorf("without a live mirror: %v", v)
	}
	first := LiveSnapshot{Lag: 1500 * time.Millisecond, Current: true, EventsApplied: 7, Reconnects: 2}
	m.ObserveLive(func() LiveSnapshot { return first })
	v := gatherValues(t, reg)
	if v["ldapbridge_live_lag_seconds"] != 1.5 || v["ldapbridge_live_current"] != 1 ||
		v["ldapbridge_live_events_applied_total"] != 7 || v["ldapbridge_live_reconnects_total"] != 2 {
		t.Errorf("live metrics %v; want lag 1.5, current 1, events 7, reconnects 2", v)
	}
	// A reload starts a new mirror from zero; the counters go on.
	m.ObserveLive(func() LiveSnapshot { return LiveSnapshot{EventsApplied: 1} })
	v = gatherValues(t, reg)
	if v["ldapbridge_live_current"] != 0 || v["ldapbridge_live_events_applied_total"] != 8 || v["ldapbridge_live_reconnects_total"] != 2 {
		t.Errorf("after a reload: %v; want current 0, events 8, reconnects 2", v)
	}
	var none *Metrics
	none.ObserveLive(nil)
}
