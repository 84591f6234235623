package web

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestWebAndAnEmbeddingProgramDoNotPullInPrometheus: web counts into the
// Metrics interface and serves Deps.MetricsHandler, so neither it nor a
// program that embeds its middleware (examples/protect) depends on
// Prometheus or on the metrics package — only the ldapbridge binary does.
func TestWebAndAnEmbeddingProgramDoNotPullInPrometheus(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	const module = "github.com/ldapbridge/ldapbridge"
	for _, pkg := range []string{module + "/web", module + "/examples/protect"} {
		// go list -deps lists what pkg needs to build, not its tests.
		out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/prometheus/") || dep == module+"/metrics" {
				t.Errorf("%s depends on %s; web must not import the metrics stack (see its package doc)", pkg, dep)
			}
		}
	}
	// The check can fail: the binary does pull them in.
	out, err := exec.Command(goBin, "list", "-deps", module+"/cmd/ldapbridge").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "github.com/prometheus/client_golang/prometheus\n") {
		t.Errorf("go list -deps cmd/ldapbridge lists no Prometheus (%v); the check above would pass vacuously", err)
	}
}

// TestNoMetricsHandlerServesNoMetrics: without Deps.MetricsHandler there is
// no /metrics (a 404 page), and sign-ins still work with no Deps.Metrics.
func TestNoMetricsHandlerServesNoMetrics(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Metrics, d.MetricsHandler = nil, nil })
	c := f.client()
	c.get("/metrics").wantStatus(t, http.StatusNotFound)
	c.mustLogin("bob", "bob-pw")
	f.client().login("bob", "wrong")
}
