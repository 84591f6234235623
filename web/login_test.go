package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge/config"
)

func TestLoginRenewsTheSessionToken(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	// A token planted before sign-in (session fixation) must not survive it.
	const planted = "planted-token-from-an-attacker-0123456789"
	b, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sessions.Commit(planted, b, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	u, _ := url.Parse(f.ts.URL)
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "ldapbridge_session", Value: planted, Path: "/"}})

	r := c.login("alice", "alice-pw")
	r.wantStatus(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/" {
		t.Errorf("redirect to %q, want /", loc)
	}
	tok := c.sessionToken()
	if tok == "" || tok == planted {
		t.Fatalf("session token after login = %q, want a new one (planted %q)", tok, planted)
	}
	if _, found, _ := f.sessions.Find(planted); found {
		t.Error("the pre-login session is still in the store after sign-in")
	}
	setCookie := r.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, attr)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure on plain HTTP; browsers would drop it", setCookie)
	}
	c.get("/profile").wantStatus(t, http.StatusOK)
}

func TestRefusedSignInsShowTheRightMessage(t *testing.T) {
	tests := []struct {
		name, user, password, want string
	}{
		{"wrong password", "bob", "nope", "Invalid username or password."},
		{"unknown user", "zed", "whatever", "Invalid username or password."},
		{"empty password", "bob", "", "Invalid username or password."},
		{"inactive after a correct password", "carol", "carol-pw", "Your account is inactive."},
		{"not in the required group after a correct password", "dave", "dave-pw", "is not allowed to sign in"},
	}
	f := newFixture(t, defaultWebConfig(), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client()
			r := c.login(tt.user, tt.password)
			r.wantStatus(t, http.StatusUnauthorized)
			r.wantBody(t, tt.want, `role="alert"`, `<label for="username">`)
			if tok := c.sessionToken(); tok != "" {
				t.Errorf("a refused sign-in set a session cookie %q", tok)
			}
			if tt.want == "Invalid username or password." && strings.Contains(r.body, "inactive") {
				t.Error("the neutral refusal mentions the account state")
			}
		})
	}
}

func TestSignInRedirectsOnlyToLocalPaths(t *testing.T) {
	tests := []struct{ next, want string }{
		{"/admin/users?q=x", "/admin/users?q=x"},
		{"//evil.example/x", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"", "/"},
	}
	f := newFixture(t, defaultWebConfig(), nil)
	for _, tt := range tests {
		c := f.client()
		r := c.post("/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {tt.next}})
		r.wantStatus(t, http.StatusSeeOther)
		if got := r.Header.Get("Location"); got != tt.want {
			t.Errorf("next=%q: redirect to %q, want %q", tt.next, got, tt.want)
		}
	}
}

var retryRE = regexp.MustCompile(`Too many sign-in attempts\. Try again in (\d+) seconds\.`)

func TestSixWrongPasswordsForOneUserAreRateLimited(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	for i := 1; i <= 5; i++ {
		c.login("bob", "wrong").wantStatus(t, http.StatusUnauthorized)
	}
	calls := f.auth.callCount()
	r := c.login("bob", "bob-pw") // even the right password waits
	r.wantStatus(t, http.StatusTooManyRequests)
	m := retryRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("rate-limited page lacks the message; body:\n%s", r.body)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > 60 {
		t.Errorf("retry in %d seconds, want 1..60", n)
	}
	if f.auth.callCount() != calls {
		t.Error("the authenticator was called for a rate-limited attempt")
	}
	api := c.postJSON("/api/login", map[string]string{"username": "bob", "password": "bob-pw"})
	api.wantStatus(t, http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(api.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q, want seconds in 1..60", api.Header.Get("Retry-After"))
	}
	api.wantBody(t, `"error": "Too many sign-in attempts.`)
	// Another user from the same address is not affected by bob's limit.
	f.client().login("alice", "alice-pw").wantStatus(t, http.StatusSeeOther)
}

func TestSuccessfulSignInResetsTheUserLimit(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	for i := 0; i < 4; i++ {
		c.login("bob", "wrong").wantStatus(t, http.StatusUnauthorized)
	}
	c.mustLogin("bob", "bob-pw")
	c = f.client()
	for i := 0; i < 4; i++ {
		c.login("bob", "wrong").wantStatus(t, http.StatusUnauthorized)
	}
}

func TestAllAttemptsFromOneAddressAreRateLimited(t *testing.T) {
	cfg := defaultWebConfig()
	cfg.LoginRateLimit.PerIP.N = 3
	f := newFixture(t, cfg, nil)
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	c.login("bob", "wrong").wantStatus(t, http.StatusUnauthorized)
	c.login("zed", "wrong").wantStatus(t, http.StatusUnauthorized)
	r := c.login("dave", "wrong")
	r.wantStatus(t, http.StatusTooManyRequests)
	r.wantBody(t, "Too many sign-in attempts.")
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"cross-site fetch metadata", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site but another origin", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"Origin of another host", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
	}
	f := newFixture(t, defaultWebConfig(), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := f.auth.callCount()
			req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/login",
				strings.NewReader(url.Values{"username": {"alice"}, "password": {"alice-pw"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			if tt.headers["Sec-Fetch-Site"] == "" {
				req.Header.Del("Sec-Fetch-Site") // an older browser: Origin decides
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusForbidden && f.auth.callCount() != calls {
				t.Error("a cross-origin sign-in reached the authenticator")
			}
		})
	}
}

func TestCrossOriginRefusalIsAHelpfulPage(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	r := c.do(req)
	r.wantStatus(t, http.StatusForbidden)
	r.wantBody(t, "came from another site", `<link rel="stylesheet" href="/static/style.css">`)
}

func TestMemoryLimiterSlidesItsWindow(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := NewMemoryLimiter()
	l.now = func() time.Time { return now }
	rate := config.Rate{N: 3, Per: time.Minute}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
			t.Fatalf("event %d refused within the limit", i+1)
		}
		now = now.Add(10 * time.Second)
	}
	// Events at 0s, 10s, 20s; now 30s: refused until 60s.
	ok, retry, err := l.Allow(ctx, "k", rate)
	if ok || err != nil || retry != 30*time.Second {
		t.Fatalf("Allow over the limit = %v, %v, %v; want false, 30s, nil", ok, retry, err)
	}
	if ok, _, _ := l.Allow(ctx, "other", rate); !ok {
		t.Error("a different key was refused")
	}
	now = now.Add(30 * time.Second)
	if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
		t.Error("refused after the oldest event left the window")
	}
	if ok, _, _ := l.Allow(ctx, "k", rate); ok {
		t.Error("allowed a fourth event within one window")
	}
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
		t.Error("refused after Reset")
	}
}

func TestClientAddressUsesForwardedForOnlyWithTrustProxy(t *testing.T) {
	tests := []struct {
		trust bool
		xff   []string
		want  string
	}{
		{false, []string{"9.9.9.9"}, "10.0.0.1"},
		{true, nil, "10.0.0.1"},
		{true, []string{"9.9.9.9, 203.0.113.7"}, "203.0.113.7"},
		{true, []string{"9.9.9.9", "203.0.113.8"}, "203.0.113.8"},
		{true, []string{"not-an-ip"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		s := &Server{cfg: config.Web{TrustProxy: tt.trust}}
		r, _ := http.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = "10.0.0.1:4321"
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientIP(r); got != tt.want {
			t.Errorf("trust=%v xff=%q: clientIP = %q, want %q", tt.trust, tt.xff, got, tt.want)
		}
	}
}
