package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/apijson"
)

func decode[T any](t *testing.T, r *response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%s: invalid JSON: %v\n%s", r.Request.URL.Path, err, r.body)
	}
	return v
}

func TestAPILogin(t *testing.T) {
	tests := []struct {
		name, user, password string
		want                 int
		wantErr              string
	}{
		{"ok", "bob", "bob-pw", http.StatusOK, ""},
		{"wrong password", "bob", "x", http.StatusUnauthorized, "Invalid username or password."},
		{"unknown user", "zed", "x", http.StatusUnauthorized, "Invalid username or password."},
		{"inactive", "carol", "carol-pw", http.StatusUnauthorized, "Your account is inactive."},
	}
	f := newFixture(t, defaultWebConfig(), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client()
			r := c.postJSON("/api/login", map[string]string{"username": tt.user, "password": tt.password})
			r.wantStatus(t, tt.want)
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.want != http.StatusOK {
				if got := decode[apiError](t, r).Error; !strings.HasPrefix(got, tt.wantErr) {
					t.Errorf("error = %q, want %q", got, tt.wantErr)
				}
				c.get("/api/me").wantStatus(t, http.StatusUnauthorized)
				return
			}
			if got := decode[loginResponse](t, r).User.Username; got != "bob" {
				t.Errorf("user = %q", got)
			}
			me := decode[map[string]any](t, c.get("/api/me"))
			if me["username"] != "bob" || me["email"] != "bob@example.com" {
				t.Errorf("/api/me = %v", me)
			}
			c.postJSON("/api/logout", nil).wantStatus(t, http.StatusNoContent)
			c.get("/api/me").wantStatus(t, http.StatusUnauthorized)
		})
	}
	bad := f.client().postJSON("/api/login", "not an object")
	bad.wantStatus(t, http.StatusBadRequest)
}

func TestAPIUserJSONFollowsTheCLIShape(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	one := decode[map[string]any](t, c.get("/api/users/bob"))
	for _, k := range []string{"username", "source", "dn", "stable_id", "first_name", "last_name", "email",
		"is_active", "is_staff", "is_superuser", "flags", "profile", "has_photo", "direct_groups", "groups",
		"last_login_at", "last_synced_at"} {
		if _, ok := one[k]; !ok {
			t.Errorf("/api/users/bob lacks %q", k)
		}
	}
	if g, _ := one["groups"].([]any); len(g) != 1 || g[0] != "engineering" {
		t.Errorf("groups = %v, want [engineering]", one["groups"])
	}
	carol := decode[map[string]any](t, c.get("/api/users/carol"))
	for _, k := range []string{"flags", "profile", "direct_groups", "groups"} {
		if carol[k] == nil {
			t.Errorf("carol's %s is null, want an empty value", k)
		}
	}
	c.get("/api/users/nobody").wantStatus(t, http.StatusNotFound)

	list := decode[[]map[string]any](t, c.get("/api/users?q=o&limit=2"))
	if len(list) != 2 {
		t.Fatalf("limit=2 gave %d users", len(list))
	}
	if _, has := list[0]["groups"]; has {
		t.Error("the user list carries group lists")
	}
	all := decode[[]map[string]any](t, c.get("/api/users"))
	if len(all) != 4 {
		t.Errorf("/api/users gave %d users, want 4", len(all))
	}
	c.get("/api/users?limit=0").wantStatus(t, http.StatusBadRequest)

	groups := decode[[]apijson.Group](t, c.get("/api/groups"))
	if len(groups) != 2 || groups[0].Name != "engineering" || groups[0].DirectMembers != 1 || groups[0].MemberGroups == nil {
		t.Errorf("/api/groups = %+v", groups)
	}
}

func TestAPIRoutesNeedSignIn(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	for _, path := range []string{"/api/me", "/api/users", "/api/users/bob", "/api/groups"} {
		r := c.get(path)
		r.wantStatus(t, http.StatusUnauthorized)
		r.wantBody(t, "/api/login")
	}
}

func TestMetricsCountLoginsByOutcome(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	f.client().login("bob", "wrong")
	f.client().login("bob", "wrong")
	f.metrics.ObserveOp("bind", "ldap://127.0.0.1:389", 0, errors.New("x"))
	f.metrics.ObserveSync("full", "ok", 0, map[string]int{"users_created": 3})
	m := c.get("/metrics")
	m.wantStatus(t, http.StatusOK)
	for _, re := range []string{
		`ldapbridge_logins_total\{directory="default",outcome="ok"\} 1\n`,
		`ldapbridge_logins_total\{directory="default",outcome="bad_credentials"\} 2\n`,
		`ldapbridge_login_duration_seconds_count 3\n`,
		`ldapbridge_ldap_operations_total\{directory="default",op="bind",result="error",url="ldap://127.0.0.1:389"\} 1\n`,
		`ldapbridge_sync_changes_total\{directory="default",kind="users_created"\} 3\n`,
		`ldapbridge_sync_runs_total\{directory="default",mode="full",outcome="ok"\} 1\n`,
		`ldapbridge_sync_last_success_timestamp_seconds\{directory="default"\} [0-9.e+]+\n`,
	} {
		if !regexp.MustCompile(re).MatchString(m.body) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ready := errors.New("store: ping: connection refused")
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Ready = func(context.Context) error { return ready } })
	c := f.client()
	c.get("/healthz").wantStatus(t, http.StatusOK)
	r := c.get("/readyz")
	r.wantStatus(t, http.StatusServiceUnavailable)
	r.wantBody(t, "connection refused")
	ready = nil
	c.get("/readyz").wantStatus(t, http.StatusOK)
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	if _, err := New(defaultWebConfig(), Deps{Store: f.store}); err == nil || !strings.Contains(err.Error(), "Deps.Auth") {
		t.Errorf("New without Auth: %v", err)
	}
	if _, err := New(defaultWebConfig(), Deps{Auth: f.auth}); err == nil || !strings.Contains(err.Error(), "Deps.Store") {
		t.Errorf("New without Store: %v", err)
	}
}

func TestMiddlewareProtectsAnotherApp(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	s := f.srv
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("hello " + u.Username))
	})
	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	mux.Handle("/app/", s.RequireLogin(hello))
	mux.Handle("/eng/", s.RequireGroup("engineering", "platform")(hello))
	mux.Handle("/deploy/", s.RequireFlag("can_deploy")(hello))
	mux.Handle("/super/", s.RequireFlag("is_superuser")(hello))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	tests := []struct {
		user, path string
		want       int
	}{
		{"", "/app/x", http.StatusSeeOther},
		{"", "/eng/x", http.StatusSeeOther},
		{"bob", "/app/x", http.StatusOK},
		{"bob", "/eng/x", http.StatusOK},
		{"bob", "/deploy/x", http.StatusOK},
		{"bob", "/super/x", http.StatusForbidden},
		{"alice", "/eng/x", http.StatusForbidden},
		{"alice", "/deploy/x", http.StatusForbidden},
		{"alice", "/super/x", http.StatusOK},
	}
	for _, tt := range tests {
		c := f.client()
		c.base = ts.URL
		if tt.user != "" {
			c.mustLogin(tt.user, tt.user+"-pw")
		}
		r := c.get(tt.path)
		if r.StatusCode != tt.want {
			t.Errorf("%q GET %s: status %d, want %d", tt.user, tt.path, r.StatusCode, tt.want)
			continue
		}
		if tt.want == http.StatusOK && r.body != "hello "+tt.user {
			t.Errorf("%q GET %s: body %q", tt.user, tt.path, r.body)
		}
		if tt.want == http.StatusSeeOther && r.Header.Get("Location") != "/login?next=%2F"+strings.TrimPrefix(strings.ReplaceAll(tt.path, "/", "%2F"), "%2F") {
			t.Errorf("GET %s: redirect to %q", tt.path, r.Header.Get("Location"))
		}
	}
	// Cross-origin posts to a protected handler are refused too.
	c := f.client()
	c.base = ts.URL
	c.mustLogin("bob", "bob-pw")
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/app/x", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	c.do(req).wantStatus(t, http.StatusForbidden)
}
