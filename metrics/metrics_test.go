package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewRefusesASecondRegistrationAndNilIsSafe(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); err == nil || !strings.Contains(err.Error(), "create Metrics once") {
		t.Errorf("second New on one registry: %v", err)
	}
	m.ObserveLogin("ok", time.Millisecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		if f.GetName() == "ldapbridge_logins_total" {
			found = len(f.GetMetric()) == 1 && f.GetMetric()[0].GetCounter().GetValue() == 1
		}
	}
	if !found {
		t.Error("ldapbridge_logins_total{outcome=\"ok\"} is not 1")
	}
	var none *Metrics
	none.ObserveLogin("ok", 0)
	none.ObserveRateLimited("ip")
	none.ObserveOp("bind", "ldap://h", 0, nil)
	none.ObserveSync("full", "ok", 0, map[string]int{"users_created": 1})
}

func TestAuditMetricsAreRegisteredAndSet(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.SetPendingRemovals(8997)
	m.ObserveDecision("approved")
	m.ObserveDecision("rejected")
	m.ObserveDecision("rejected")
	m.ObserveHookErrors(2)
	m.ObserveDelivery("retry")
	m.SetOutbox(map[string]int64{"failed": 1})
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range x.GetLabel() {
				key += "/" + l.GetValue()
			}
			got[key] = x.GetGauge().GetValue() + x.GetCounter().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"ldapbridge_sync_pending_removals": 8997, "ldapbridge_sync_pending_decisions_total/approved": 1,
		"ldapbridge_sync_pending_decisions_total/rejected": 2, "ldapbridge_change_hook_errors_total": 2,
		"ldapbridge_webhook_deliveries_total/retry": 1, "ldapbridge_webhook_events/failed": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	var nilM *Metrics
	nilM.SetPendingRemovals(1) // a nil *Metrics does nothing
}
