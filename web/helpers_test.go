package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// fakeAuth checks passwords from a map against users that already exist
// in the store, and can refuse named users with an outcome that comes after
// a correct password (inactive, require_group, ...).
type fakeAuth struct {
	store     ldapbridge.Store
	passwords map[string]string
	refuse    map[string]auth.Outcome

	mu    sync.Mutex
	calls int
}

func (f *fakeAuth) Authenticate(ctx context.Context, username, password string) (*auth.Result, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	res := &auth.Result{GroupDNs: []string{}, GroupNames: []string{}}
	pw, known := f.passwords[username]
	switch {
	case password == "":
		res.Outcome = auth.EmptyPassword
	case !known:
		res.Outcome = auth.UserNotFound
	case password != pw:
		res.Outcome = auth.BadCredentials
	case f.refuse[username] != "":
		res.Outcome = f.refuse[username]
		res.Authenticated = res.Outcome == auth.Inactive
	default:
		u, err := f.store.User(ctx, username)
		if err != nil {
			return nil, err
		}
		res.Outcome, res.Authenticated, res.Allowed, res.User = auth.OK, true, true, u
	}
	return res, nil
}

func (f *fakeAuth) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fixture is a running web app over a real in-memory SQLite store with
// alice (staff, superuser), bob (regular), carol (inactive) and dave (not
// in the required group).
type fixture struct {
	t        *testing.T
	store    *sqlite.Store
	auth     *fakeAuth
	srv      *Server
	ts       *httptest.Server
	sessions *memstore.MemStore
	users    map[string]*ldapbridge.User
	// metrics are the app's Deps.Metrics, served on /metrics as the
	// binary does.
	metrics *metrics.Metrics
}

// pngPixel is a 1×1 PNG.
var pngPixel, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

func defaultWebConfig() config.Web {
	return config.Web{
		SessionIdleTimeout: config.Duration(30 * time.Minute),
		SessionLifetime:    config.Duration(12 * time.Hour),
		LoginRateLimit: config.RateLimits{
			PerUser: config.Rate{N: 5, Per: time.Minute},
			PerIP:   config.Rate{N: 30, Per: time.Minute},
		},
	}
}

func newFixture(t *testing.T, cfg config.Web, edit func(*Deps)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	f := &fixture{t: t, store: st, users: map[string]*ldapbridge.User{}}
	f.auth = &fakeAuth{store: st,
		passwords: map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw"},
		refuse:    map[string]auth.Outcome{"carol": auth.Inactive, "dave": auth.RequireGroup}}
	staff := &ldapbridge.Group{Name: "staff", DN: "cn=staff,ou=Groups,dc=example,dc=com"}
	eng := &ldapbridge.Group{Name: "engineering", DN: "cn=engineering,ou=Groups,dc=example,dc=com"}
	for _, g := range []*ldapbridge.Group{staff, eng} {
		if err := st.UpsertGroup(ctx, g); err != nil {
			t.Fatalf("UpsertGroup: %v", err)
		}
	}
	for _, u := range []*ldapbridge.User{
		{Username: "alice", FirstName: "Alice", LastName: "Smith", Email: "alice@example.com", IsActive: true, IsStaff: true, IsSuperuser: true,
			Profile: map[string]string{"title": "CTO"}, Photo: pngPixel, HasPhoto: true},
		{Username: "bob", FirstName: "Bob", LastName: "Jones", Email: "bob@example.com", IsActive: true,
			Flags: map[string]bool{"can_deploy": true}, Profile: map[string]string{"department": "Engineering"}},
		{Username: "carol", FirstName: "Carol", IsActive: false},
		{Username: "dave", FirstName: "Dave", IsActive: true},
	} {
		u.Source, u.DN = ldapbridge.SourceLDAP, "uid="+u.Username+",ou=People,dc=example,dc=com"
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser %s: %v", u.Username, err)
		}
		f.users[u.Username] = u
	}
	mustSet := func(user string, gs ...*ldapbridge.Group) {
		ids := make([]int64, len(gs))
		for i, g := range gs {
			ids[i] = g.ID
		}
		if err := st.SetUserGroups(ctx, f.users[user].ID, ids); err != nil {
			t.Fatalf("SetUserGroups: %v", err)
		}
	}
	mustSet("alice", staff)
	mustSet("bob", eng)

	f.sessions = memstore.NewWithCleanupInterval(0)
	reg := prometheus.NewRegistry()
	if f.metrics, err = metrics.New(reg); err != nil {
		t.Fatalf("metrics.New: %v", err)
	}
	deps := Deps{Auth: f.auth, Store: st, Sessions: f.sessions,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: f.metrics, MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	if edit != nil {
		edit(&deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// client is a browser-like client: a cookie jar, no automatic redirects,
// and Sec-Fetch-Site: same-origin on every request.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, base: f.ts.URL, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) *response {
	c.t.Helper()
	if req.Header.Get("Sec-Fetch-Site") == "" {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(b)}
}

func (c *client) get(path string) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *client) postJSON(path string, v any) *response {
	c.t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

func (c *client) login(user, password string) *response {
	c.t.Helper()
	return c.post("/login", url.Values{"username": {user}, "password": {password}})
}

// mustLogin signs in and fails the test unless it redirects.
func (c *client) mustLogin(user, password string) {
	c.t.Helper()
	if r := c.login(user, password); r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d, want 303; body:\n%s", user, r.StatusCode, r.body)
	}
}

// sessionToken is the session cookie the jar holds, or "".
func (c *client) sessionToken() string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == "ldapbridge_session" {
			return ck.Value
		}
	}
	return ""
}

func (r *response) wantStatus(t *testing.T, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

func (r *response) wantBody(t *testing.T, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.body, s) {
			t.Errorf("%s %s: body lacks %q; body:\n%s", r.Request.Method, r.Request.URL.Path, s, r.body)
		}
	}
}
