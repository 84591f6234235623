package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
)

func TestStrictTransportSecurityOnlyOverTLS(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	ts := httptest.NewTLSServer(f.srv.Handler())
	defer ts.Close()
	for _, path := range []string{"/login", "/healthz", "/no-such-page"} {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != hstsValue {
			t.Errorf("GET %s over TLS: Strict-Transport-Security = %q, want %q", path, got, hstsValue)
		}
	}
	if got := f.client().get("/login").Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("plain HTTP sent Strict-Transport-Security %q; browsers ignore it there and it must not be sent", got)
	}
	for _, trust := range []bool{false, true} {
		cfg := defaultWebConfig()
		cfg.TrustProxy = trust
		f := newFixture(t, cfg, nil)
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/login", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		got := f.client().do(req).Header.Get("Strict-Transport-Security")
		if (got == hstsValue) != trust {
			t.Errorf("trust_proxy=%v behind X-Forwarded-Proto: https: Strict-Transport-Security = %q", trust, got)
		}
	}
}

func TestMetricsTokenGuardsMetrics(t *testing.T) {
	const token = "0123456789abcdef-metrics"
	cfg := defaultWebConfig()
	cfg.MetricsToken = config.Secret(token)
	f := newFixture(t, cfg, nil)
	get := func(auth string) *response {
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return f.client().do(req)
	}
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Bearer " + token + "x", "Bearer " + token[:10],
		"Basic " + token, token} {
		r := get(auth)
		r.wantStatus(t, http.StatusUnauthorized)
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") || strings.Contains(r.body, "ldapbridge_") {
			t.Errorf("Authorization %q: WWW-Authenticate %q, body %q", auth, r.Header.Get("WWW-Authenticate"), r.body)
		}
		if strings.Contains(r.body, token) {
			t.Errorf("the 401 body reveals the token: %q", r.body)
		}
	}
	for _, auth := range []string{"Bearer " + token, "bearer " + token} {
		r := get(auth)
		r.wantStatus(t, http.StatusOK)
		r.wantBody(t, "ldapbridge_login_duration_seconds_count")
	}
	// Without a token, /metrics stays open (as before), and the other
	// probes never need one.
	open := newFixture(t, defaultWebConfig(), nil)
	open.client().get("/metrics").wantStatus(t, http.StatusOK)
	f.client().get("/healthz").wantStatus(t, http.StatusOK)
}
