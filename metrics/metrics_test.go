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
