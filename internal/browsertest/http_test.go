package browsertest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDemoRefusesCrossOriginSignIn proves that a sign-in form posted from
// another site is refused with 403 before any password is checked, while
// the same post from the app's own origin goes through.
func TestDemoRefusesCrossOriginSignIn(t *testing.T) {
	d := startDemo(t)
	ctx := withTimeout(t, 30*time.Second)
	jdoe := d.login(t, "jdoe")
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site fetch metadata", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"foreign origin without fetch metadata", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-site sibling origin", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other.127.0.0.1.nip.io"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": d.URL}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"username": {jdoe.Username}, "password": {jdoe.Password}}
			resp := postForm(ctx, t, noRedirects(nil), d.URL+"/login", form, tt.header)
			body := readBody(t, resp)
			if resp.StatusCode != tt.want {
				t.Fatalf("POST /login with %v: status %d, want %d; body:\n%s", tt.header, resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(body, "came from another site") {
				t.Errorf("the 403 page does not say why the request was refused:\n%s", body)
			}
			if tt.want == http.StatusForbidden && resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("a refused cross-origin sign-in set a cookie: %s", resp.Header.Get("Set-Cookie"))
			}
		})
	}
}

// TestDemoMetricsCountSignIns proves that /metrics shows the login series
// after one sign-in, labelled with its outcome, and the rate-limit series
// after a refused one.
func TestDemoMetricsCountSignIns(t *testing.T) {
	d := startDemo(t)
	ctx := withTimeout(t, 30*time.Second)

	before := metrics(ctx, t, d)
	if strings.Contains(before, `ldapbridge_logins_total{directory="default",outcome="ok"}`) {
		t.Fatalf("/metrics counts a successful login before any sign-in:\n%s", before)
	}

	jar, _ := cookiejar.New(nil)
	client := noRedirects(jar)
	bjones := d.login(t, "bjones")
	resp := postForm(ctx, t, client, d.URL+"/login", url.Values{"username": {bjones.Username}, "password": {bjones.Password}}, nil)
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: status %d, want 303", bjones.Username, resp.StatusCode)
	}
	resp = postForm(ctx, t, client, d.URL+"/login", url.Values{"username": {"jdoe"}, "password": {"wrong"}}, nil)
	readBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
	}

	after := metrics(ctx, t, d)
	for _, want := range []string{
		`ldapbridge_logins_total{directory="default",outcome="ok"} 1`,
		`ldapbridge_logins_total{directory="default",outcome="bad_credentials"} 1`,
		`ldapbridge_login_duration_seconds_count 2`,
		`ldapbridge_ldap_operations_total{directory="default",`,
		// the demo's sync at start
		`ldapbridge_sync_runs_total{directory="default",mode="full",outcome="ok"} 1`,
		`ldapbridge_sync_changes_total{directory="default",kind="users_created"}`,
		`ldapbridge_sync_duration_seconds_count{directory="default",mode="full"} 1`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("/metrics after one sync, one sign-in and one wrong password lacks %q:\n%s", want, grepLines(after, "ldapbridge_"))
		}
	}
}

func metrics(ctx context.Context, t *testing.T, d *demo) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d:\n%s", resp.StatusCode, body)
	}
	return body
}

func postForm(ctx context.Context, t *testing.T, c *http.Client, target string, form url.Values, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	return resp
}

// noRedirects is a client that returns redirects instead of following them.
func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return string(b)
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
