package metrics

import (
	"errors"
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
	m.ObserveLogin("default", "ok", time.Millisecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		if f.GetName() == "ldapbridge_logins_total" {
			found = len(f.GetMetric()) == 1 && f.GetMetric()[0].GetCounter().GetValue() == 1 &&
				f.GetMetric()[0].GetLabel()[0].GetName() == "directory" && f.GetMetric()[0].GetLabel()[0].GetValue() == "default"
		}
	}
	if !found {
		t.Error("ldapbridge_logins_total{directory=\"default\",outcome=\"ok\"} is not 1")
	}
	var none *Metrics
	none.ObserveLogin("", "ok", 0)
	none.ForDirectory("x").ObserveSync("full", "ok", 0, nil)
	none.ForDirectory("x").ObserveOp("bind", "ldap://h", 0, nil)
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

// TestEveryCollectorCarriesTheDirectory: logins, LDAP operations and sync
// runs are labelled with their directory: a *Metrics call counts under
// "default" (a login no directory decided under "none"), a ForDirectory
// view under its name.
func TestEveryCollectorCarriesTheDirectory(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveLogin("ext", "ok", time.Millisecond)
	m.ObserveLogin("", "user_not_found", time.Millisecond)
	m.ObserveOp("bind", "ldap://a", 0, nil)
	m.ForDirectory("ext").ObserveOp("search", "ldap://b", 0, errors.New("down"))
	m.ObserveSync("full", "ok", 0, map[string]int{"users_created": 2})
	m.ForDirectory("ext").ObserveSync("incremental", "aborted", 0, map[string]int{"users_created": 1})
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range x.GetLabel() {
				key += "/" + l.GetName() + "=" + l.GetValue()
			}
			got[key] = x.GetCounter().GetValue() + float64(x.GetHistogram().GetSampleCount())
			if x.GetGauge() != nil {
				got[key] = 1
			}
		}
	}
	for _, k := range []string{
		"ldapbridge_logins_total/directory=ext/outcome=ok",
		"ldapbridge_logins_total/directory=none/outcome=user_not_found",
		"ldapbridge_ldap_operations_total/directory=default/op=bind/result=ok/url=ldap://a",
		"ldapbridge_ldap_operations_total/directory=ext/op=search/result=error/url=ldap://b",
		"ldapbridge_ldap_operation_duration_seconds/directory=ext/op=search",
		"ldapbridge_sync_runs_total/directory=default/mode=full/outcome=ok",
		"ldapbridge_sync_runs_total/directory=ext/mode=incremental/outcome=aborted",
		"ldapbridge_sync_duration_seconds/directory=ext/mode=incremental",
		"ldapbridge_sync_changes_total/directory=ext/kind=users_created",
		"ldapbridge_sync_last_success_timestamp_seconds/directory=default",
	} {
		if got[k] != 1 {
			t.Errorf("%s = %v, want 1 (have %v)", k, got[k], got)
		}
	}
	if got["ldapbridge_sync_changes_total/directory=default/kind=users_created"] != 2 {
		t.Error("default's users_created is not 2")
	}
	if _, ok := got["ldapbridge_sync_last_success_timestamp_seconds/directory=ext"]; ok {
		t.Error("an aborted run set ext's last success time")
	}
}
