package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/auth"
)

func TestEveryResponseCarriesSecurityHeaders(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	}
	for _, path := range []string{"/", "/login", "/healthz", "/readyz", "/metrics", "/no/such/page", "/api/me", "/static/style.css", "/admin"} {
		r := c.get(path)
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
	}
}

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	for _, path := range []string{"/", "/login?x", "/profile", "/admin", "/admin/users", "/admin/users/bob", "/admin/groups", "/nope"} {
		r := c.get(path)
		// The one script allowed is the static file, loaded by URL.
		const appJS = `<script src="/static/app.js" defer></script>`
		if r.StatusCode != http.StatusSeeOther && strings.Count(r.body, appJS) != 1 {
			t.Errorf("%s does not load %s once", path, appJS)
		}
		body := strings.Replace(r.body, appJS, "", 1)
		for _, bad := range []string{"<script", "style=", "<style", "onclick", "http://", "https://"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestAnonymousVisitorsAreSentToSignIn(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	for _, path := range []string{"/profile", "/profile/photo", "/admin", "/admin/users?q=b"} {
		r := c.get(path)
		r.wantStatus(t, http.StatusSeeOther)
		if want := "/login?next=" + url.QueryEscape(path); r.Header.Get("Location") != want {
			t.Errorf("%s: redirect to %q, want %q", path, r.Header.Get("Location"), want)
		}
	}
	home := c.get("/")
	home.wantStatus(t, http.StatusOK)
	home.wantBody(t, `href="/login"`)
	login := c.get("/login?next=/admin")
	login.wantStatus(t, http.StatusOK)
	login.wantBody(t, `<label for="username">Username</label>`, `<label for="password">Password</label>`,
		`autocomplete="current-password"`, `name="next" value="/admin"`)
}

func TestSignedInVisitorIsSentAwayFromTheLoginForm(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	r := c.get("/login")
	r.wantStatus(t, http.StatusSeeOther)
	home := c.get("/")
	home.wantBody(t, "Welcome, Bob Jones", `action="/logout"`)
	if strings.Contains(home.body, `href="/admin"`) {
		t.Error("a regular user's home page links to /admin")
	}
}

func TestProfileShowsMappedAndProfileFields(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	r := c.get("/profile")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, "Bob Jones", "bob@example.com", "<dt>Department</dt><dd>Engineering</dd>", "engineering", "can_deploy")
	if strings.Contains(r.body, `src="/profile/photo"`) {
		t.Error("profile shows a photo for a user without one")
	}
	c.get("/profile/photo").wantStatus(t, http.StatusNotFound)

	a := f.client()
	a.mustLogin("alice", "alice-pw")
	a.get("/profile").wantBody(t, `src="/profile/photo"`, "CTO")
	photo := a.get("/profile/photo")
	photo.wantStatus(t, http.StatusOK)
	if ct := photo.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("photo Content-Type = %q, want image/png", ct)
	}
	if photo.body != string(pngPixel) {
		t.Error("photo bytes differ from the stored photo")
	}
}

func TestPhotoThatIsNotAnImageIsNotServed(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	bob := f.users["bob"]
	bob.Photo, bob.HasPhoto = []byte("<html><script>alert(1)</script></html>"), true
	if err := f.store.UpdateUser(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	r := c.get("/profile/photo")
	r.wantStatus(t, http.StatusNotFound)
	if strings.Contains(r.body, "<script>") {
		t.Error("the stored HTML was served")
	}
}

func TestAdminIsForStaffOnly(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	for _, path := range []string{"/admin", "/admin/users", "/admin/users/alice", "/admin/groups", "/admin/groups/engineering"} {
		r := c.get(path)
		r.wantStatus(t, http.StatusForbidden)
		r.wantBody(t, "403", "The admin area is for staff only.", `href="/static/style.css"`)
	}
	for _, path := range []string{"/api/users", "/api/groups/engineering"} {
		api := c.get(path)
		api.wantStatus(t, http.StatusForbidden)
		api.wantBody(t, `"error"`)
	}
	c.post("/admin/sync", nil).wantStatus(t, http.StatusForbidden)
}

func TestStaffSeesUsersAndGroups(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	users := c.get("/admin/users")
	users.wantStatus(t, http.StatusOK)
	users.wantBody(t, `href="/admin/users/bob"`, "bob@example.com", `href="/admin/users/carol"`, "inactive")

	search := c.get("/admin/users?q=jones")
	search.wantBody(t, "bob@example.com")
	if strings.Contains(search.body, "alice@example.com") {
		t.Error("search for jones lists alice")
	}
	c.get("/admin/users?q=nobody-matches").wantBody(t, "No users match")

	detail := c.get("/admin/users/bob")
	detail.wantStatus(t, http.StatusOK)
	detail.wantBody(t, "Bob Jones", "uid=bob,ou=People,dc=example,dc=com", "Direct", "Effective", "engineering", "can_deploy")
	c.get("/admin/users/nobody").wantStatus(t, http.StatusNotFound)
	photo := c.get("/admin/users/alice/photo")
	photo.wantStatus(t, http.StatusOK)

	groups := c.get("/admin/groups")
	groups.wantStatus(t, http.StatusOK)
	groups.wantBody(t, "staff", "engineering", "cn=engineering,ou=Groups,dc=example,dc=com", `href="/admin/groups/engineering"`)

	group := c.get("/admin/groups/engineering")
	group.wantStatus(t, http.StatusOK)
	group.wantBody(t, "cn=engineering,ou=Groups,dc=example,dc=com", `href="/admin/users/bob"`, "Bob Jones")
	c.get("/admin/groups/nope").wantStatus(t, http.StatusNotFound)
	api := c.get("/api/groups/engineering")
	api.wantStatus(t, http.StatusOK)
	var gd apijson.GroupDetail
	if err := json.Unmarshal([]byte(api.body), &gd); err != nil || len(gd.Members) != 1 || gd.Members[0] != "bob" || gd.DirectMembers != 1 {
		t.Errorf("/api/groups/engineering = %+v (%v)", gd, err)
	}
}

func TestAdminUserListPages(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	ctx := context.Background()
	for i := 0; i < adminPageSize+3; i++ {
		u := &ldapbridge.User{Username: "user" + string(rune('a'+i/10)) + string(rune('0'+i%10)), Source: ldapbridge.SourceLDAP, IsActive: true}
		if err := f.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	p1 := c.get("/admin/users?q=user")
	p1.wantBody(t, `href="/admin/users?page=2&amp;q=user"`, "usera0")
	if strings.Contains(p1.body, "Previous") {
		t.Error("page 1 links to a previous page")
	}
	p2 := c.get("/admin/users?page=2&q=user")
	p2.wantBody(t, "Previous", "userc7")
	if strings.Contains(p2.body, "Next") || strings.Contains(p2.body, ">usera0<") {
		t.Error("page 2 has a next link or repeats page 1")
	}
}

type fakeExplainer struct{ err error }

func (e fakeExplainer) Explain(_ context.Context, username string) (*auth.Explanation, error) {
	if e.err != nil {
		return nil, e.err
	}
	return &auth.Explanation{Found: true, DN: "uid=" + username + ",ou=People,dc=example,dc=com",
		GroupNames: []string{"engineering"},
		Require:    &auth.RuleVerdict{Rule: "cn=app,ou=Groups,dc=example,dc=com", Verdict: true},
		Deny:       &auth.RuleVerdict{Rule: "cn=banned,ou=Groups,dc=example,dc=com", Verdict: false},
		Flags:      map[string]bool{"is_staff": false, "can_deploy": true},
		Outcome:    auth.OK}, nil
}

func TestAdminUserShowsExplainVerdicts(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Explain = fakeExplainer{} })
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	r := c.get("/admin/users/bob")
	r.wantBody(t, "What the directory says now", "require: <code>cn=app,ou=Groups,dc=example,dc=com</code>",
		"deny: <code>cn=banned", "not denied", "flag can_deploy", "<strong>ok</strong>")

	g := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.Explain = fakeExplainer{err: errors.New("dial ldap://127.0.0.1:1: connection refused")}
	})
	c = g.client()
	c.mustLogin("alice", "alice-pw")
	c.get("/admin/users/bob").wantBody(t, "The directory could not be asked: dial ldap://127.0.0.1:1: connection refused")
}

func TestAdminShowsHealthHistoryAndSyncNowForSuperusers(t *testing.T) {
	synced := make(chan struct{}, 1)
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.Health = func(context.Context) []DirectoryHealth {
			return []DirectoryHealth{{URL: "ldaps://a.example:636", Up: true, Flavor: "openldap", TLS: "TLS 1.3, TLS_AES_128_GCM_SHA256"}, {URL: "ldaps://b.example:636", LastError: "i/o timeout"}}
		}
		d.SyncHistory = func(context.Context, int) ([]SyncRun, error) {
			return []SyncRun{{StartedAt: time.Now(), Mode: "full", Duration: 2 * time.Second,
				Counts: map[string]int{"users_created": 7}}, {Mode: "incremental", Aborted: true, AbortReason: "would remove 40 users"}}, nil
		}
		d.StartSync = func(by string) error {
			if by != "alice" {
				t.Errorf("StartSync by %q, want alice", by)
			}
			synced <- struct{}{}
			return nil
		}
	})
	// bob becomes staff but not superuser.
	bob := f.users["bob"]
	bob.IsStaff = true
	if err := f.store.UpdateUser(context.Background(), bob); err != nil {
		t.Fatal(err)
	}

	a := f.client()
	a.mustLogin("alice", "alice-pw")
	page := a.get("/admin")
	page.wantBody(t, "ldaps://a.example:636", "ldaps://b.example:636", "i/o timeout", "down", "openldap", "TLS 1.3, TLS_AES_128_GCM_SHA256",
		"7 users created", "would remove 40 users", `action="/admin/sync"`, "Sync now")
	r := a.post("/admin/sync", nil)
	r.wantStatus(t, http.StatusSeeOther)
	select {
	case <-synced:
	case <-time.After(5 * time.Second):
		t.Fatal("StartSync was not called")
	}
	a.get("/admin?sync=started").wantBody(t, "Sync started.")

	b := f.client()
	b.mustLogin("bob", "bob-pw")
	if strings.Contains(b.get("/admin").body, `action="/admin/sync"`) {
		t.Error("a staff user who is not a superuser sees the sync button")
	}
	b.post("/admin/sync", nil).wantStatus(t, http.StatusForbidden)
}

func TestSyncButtonIsHiddenWithoutStartSync(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	if strings.Contains(c.get("/admin").body, "/admin/sync") {
		t.Error("the sync button is shown without Deps.StartSync")
	}
	c.post("/admin/sync", nil).wantStatus(t, http.StatusNotFound)
}

func TestLogoutClearsTheSession(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	old := c.sessionToken()
	r := c.post("/logout", nil)
	r.wantStatus(t, http.StatusSeeOther)
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout Set-Cookie %q does not expire the cookie", r.Header.Get("Set-Cookie"))
	}
	if _, found, _ := f.sessions.Find(old); found {
		t.Error("the session is still in the store after sign-out")
	}
	c.get("/login?signed_out=1").wantBody(t, "You have signed out.")
	// Replaying the old cookie gets nowhere.
	replay := f.client()
	u, _ := url.Parse(f.ts.URL)
	replay.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "ldapbridge_session", Value: old, Path: "/"}})
	replay.get("/profile").wantStatus(t, http.StatusSeeOther)
}

func TestDeactivatedOrDeletedUserIsSignedOutOnTheNextRequest(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(f *fixture) error
	}{
		{"made inactive", func(f *fixture) error {
			u := f.users["bob"]
			u.IsActive = false
			return f.store.UpdateUser(context.Background(), u)
		}},
		{"deleted", func(f *fixture) error { return f.store.DeleteUser(context.Background(), f.users["bob"].ID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, defaultWebConfig(), nil)
			c := f.client()
			c.mustLogin("bob", "bob-pw")
			tok := c.sessionToken()
			c.get("/profile").wantStatus(t, http.StatusOK)
			if err := tt.revoke(f); err != nil {
				t.Fatal(err)
			}
			r := c.get("/profile")
			r.wantStatus(t, http.StatusSeeOther)
			if !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Errorf("redirect to %q, want /login", r.Header.Get("Location"))
			}
			if _, found, _ := f.sessions.Find(tok); found {
				t.Error("the revoked session is still in the store")
			}
			c.get("/api/me").wantStatus(t, http.StatusUnauthorized)
		})
	}
}

func TestSessionCookieIsSecureOverTLS(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	ts := httptest.NewTLSServer(f.srv.Handler())
	defer ts.Close()
	hc := ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.PostForm(ts.URL+"/login", url.Values{"username": {"bob"}, "password": {"bob-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "; Secure") {
		t.Errorf("Set-Cookie over TLS = %q, want Secure", sc)
	}
}

func TestForwardedProtoCountsOnlyWithTrustProxy(t *testing.T) {
	for _, trust := range []bool{false, true} {
		cfg := defaultWebConfig()
		cfg.TrustProxy = trust
		f := newFixture(t, cfg, nil)
		req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/login",
			strings.NewReader(url.Values{"username": {"bob"}, "password": {"bob-pw"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https")
		r := f.client().do(req)
		if got := strings.Contains(r.Header.Get("Set-Cookie"), "Secure"); got != trust {
			t.Errorf("trust_proxy=%v: Secure cookie = %v", trust, got)
		}
	}
}

func TestErrorPagesUseTheLayout(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	r := f.client().get("/no/such/page")
	r.wantStatus(t, http.StatusNotFound)
	r.wantBody(t, "404", "There is no page at /no/such/page.", `href="/static/style.css"`, `href="/"`)
	css := f.client().get("/static/style.css")
	css.wantStatus(t, http.StatusOK)
	if !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css Content-Type = %q", css.Header.Get("Content-Type"))
	}
}

type failingStore struct{ Store }

func (failingStore) UserByID(context.Context, int64) (*ldapbridge.User, error) {
	return nil, errors.New("database is locked")
}

func TestStoreFailureIsA500PageWithoutDetails(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	broken, err := New(defaultWebConfig(), Deps{Auth: f.auth, Store: failingStore{f.store}, Sessions: f.sessions, Logger: f.srv.log})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(broken.Handler())
	defer ts.Close()
	c.base = ts.URL
	u, _ := url.Parse(ts.URL)
	old, _ := url.Parse(f.ts.URL)
	c.hc.Jar.SetCookies(u, c.hc.Jar.Cookies(old))
	r := c.get("/profile")
	r.wantStatus(t, http.StatusInternalServerError)
	r.wantBody(t, "store is unavailable")
	if strings.Contains(r.body, "database is locked") {
		t.Error("the 500 page leaks the store error")
	}
}
