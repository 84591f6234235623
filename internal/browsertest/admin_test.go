package browsertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

// The admin tests run the web app in this process over a SQLite store
// filled with many users, groups and sync runs, which the demo does not
// have, and with a sync whose progress the test moves.

// passwordAuth signs in the users of a password map who are in the store.
type passwordAuth struct {
	store     ldapbridge.Store
	passwords map[string]string
}

func (a passwordAuth) Authenticate(ctx context.Context, username, password string) (*auth.Result, error) {
	res := &auth.Result{Outcome: auth.BadCredentials}
	if pw, ok := a.passwords[username]; !ok || password == "" || pw != password {
		return res, nil
	}
	u, err := a.store.User(ctx, username)
	if err != nil {
		return nil, err
	}
	res.Outcome, res.Authenticated, res.Allowed, res.User = auth.OK, true, true, u
	return res, nil
}

// explainer answers Explain for "newcomer" (in the directory, not stored)
// and says no entry matched for other names.
type explainer struct{}

func (explainer) Explain(_ context.Context, username string) (*auth.Explanation, error) {
	if username != "newcomer" {
		return &auth.Explanation{Outcome: auth.UserNotFound, Reason: "no entry matched"}, nil
	}
	return &auth.Explanation{Found: true, DN: "uid=newcomer,ou=People,dc=example,dc=com", StableID: "6f1c-22",
		GroupNames: []string{"team-007", "engineering"}, Outcome: auth.OK,
		Require: &auth.RuleVerdict{Rule: "cn=team-007,ou=Groups,dc=example,dc=com", Verdict: true},
		Flags:   map[string]bool{"is_active": true, "is_staff": false, "is_superuser": false}}, nil
}

// adminSite is the in-process web app of the admin tests.
type adminSite struct {
	URL   string
	store *sqlite.Store
	// progress counts the polls of the sync progress; finished ends the sync.
	polls    atomic.Int64
	finished atomic.Bool
}

// firstRun is when the newest recorded sync run started.
var firstRun = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func startAdminSite(t *testing.T) *adminSite {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	site := &adminSite{store: st}
	var parent *ldapbridge.Group
	for i := range 130 {
		g := &ldapbridge.Group{Name: fmt.Sprintf("team-%03d", i), DN: fmt.Sprintf("cn=team-%03d,ou=Groups,dc=example,dc=com", i)}
		if err := st.UpsertGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			parent = g
		}
		if i == 2 {
			if err := st.SetGroupParents(ctx, g.ID, []int64{parent.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	users := []*ldapbridge.User{
		{Username: "alice", FirstName: "Alice", LastName: "Smith", Email: "alice@example.com", IsActive: true, IsStaff: true, IsSuperuser: true},
		{Username: "bob", FirstName: "Bob", LastName: "Jones", Email: "bob@example.com", IsActive: true},
		{Username: "erin", FirstName: "Erin", LastName: "Local", IsActive: true, Source: ldapbridge.SourceLocal},
		{Username: "svc-ldapbridge", IsActive: true, DN: "uid=svc-ldapbridge,ou=People,dc=example,dc=com"},
	}
	for i := range 60 {
		users = append(users, &ldapbridge.User{Username: fmt.Sprintf("user%02d", i), FirstName: "Person", LastName: fmt.Sprintf("N%02d", 59-i),
			Email: fmt.Sprintf("user%02d@example.com", i), IsActive: i%7 != 0, IsStaff: i%10 == 0})
	}
	last := firstRun.Add(-30 * time.Minute)
	for _, u := range users {
		if u.Source == "" {
			u.Source = ldapbridge.SourceLDAP
		}
		if u.DN == "" && u.Source == ldapbridge.SourceLDAP {
			u.DN = "uid=" + u.Username + ",ou=People,dc=example,dc=com"
		}
		u.LastLoginAt = &last
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var runs []web.SyncRun
	for i := range 45 {
		r := web.SyncRun{StartedAt: firstRun.Add(-time.Duration(i) * time.Hour), Mode: "incremental", Duration: 1200 * time.Millisecond,
			Outcome: "ok", Instance: "app-1:4242", Counts: map[string]int{"users_unchanged": 64}}
		switch i {
		case 0:
			r.Counts = map[string]int{"users_created": 3, "users_updated": 1, "memberships_added": 5}
		case 2:
			r.Outcome, r.Aborted, r.AbortReason = "aborted", true, "would remove 40 users, over sync.max_removals 10"
		case 44:
			r.Mode = "full"
		}
		runs = append(runs, r)
	}
	started := time.Now()
	cfg := config.Web{SessionIdleTimeout: config.Duration(time.Hour), SessionLifetime: config.Duration(12 * time.Hour),
		LoginRateLimit: config.RateLimits{PerUser: config.Rate{N: 50, Per: time.Minute}, PerIP: config.Rate{N: 500, Per: time.Minute}}}
	srv, err := web.New(cfg, web.Deps{
		Auth:    passwordAuth{store: st, passwords: map[string]string{"alice": "alice-pw", "bob": "bob-pw", "erin": "erin-pw"}},
		Explain: explainer{}, Store: st, LocalGroups: st, LocalUsers: st, Sessions: memstore.NewWithCleanupInterval(0),
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		ServiceAccountDN: "uid=svc-ldapbridge,ou=People,dc=example,dc=com",
		Access: config.Access{Require: ldapbridge.GroupQuery{DN: "cn=team-007,ou=Groups,dc=example,dc=com"},
			Flags: map[string]ldapbridge.GroupQuery{"is_staff": {DN: "cn=team-010,ou=Groups,dc=example,dc=com"}}},
		Health: func(context.Context) []web.DirectoryHealth {
			return []web.DirectoryHealth{{URL: "ldaps://ldap1.example.com:636", Up: true, Flavor: "openldap", TLS: "TLS 1.3"},
				{URL: "ldaps://ldap2.example.com:636", LastError: "dial tcp 10.0.0.2:636: i/o timeout", LastChange: firstRun.Add(-5 * time.Minute)}}
		},
		SyncHistory: func(_ context.Context, limit int) ([]web.SyncRun, error) {
			if limit > 0 && limit < len(runs) {
				return runs[:limit], nil
			}
			return runs, nil
		},
		SyncProgress: func() web.SyncProgress {
			if site.finished.Load() {
				return web.SyncProgress{}
			}
			n := int(site.polls.Add(1))
			return web.SyncProgress{Running: true, Phase: "users", Read: 1000 + 250*n, Applied: 400 + 100*n, StartedAt: started, StartedBy: "schedule"}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	site.URL = ts.URL
	return site
}

// setTimezone makes the tab's clock read in zone (an IANA name).
func (b *browser) setTimezone(zone string) {
	b.t.Helper()
	err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	}))
	if err != nil {
		b.t.Fatalf("set the time zone to %s: %v", zone, err)
	}
}

// checkFits fails the test when the current page needs horizontal
// scrolling at a phone's 390 px (the page itself, or any table in it), or
// when a cell of a table shown as cards holds more than one part.
func (b *browser) checkFits(what string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		b.t.Fatal(err)
	}
	wide := eval[string](b, `(function () {
		var out = [];
		if (document.documentElement.scrollWidth > 390) { out.push("page " + document.documentElement.scrollWidth + "px"); }
		document.querySelectorAll(".scroll").forEach(function (el, i) {
			if (el.scrollWidth > el.clientWidth + 1) { out.push("table " + i + " " + el.scrollWidth + "px in " + el.clientWidth + "px"); }
		});
		// A card cell is a two-column grid (label, value): a value of
		// several nodes would spill into rows of its own.
		document.querySelectorAll("table.cards td[data-label]").forEach(function (td) {
			var n = 0;
			td.childNodes.forEach(function (c) { if (c.nodeType === 1 || c.textContent.trim() !== "") { n++; } });
			if (n > 1) { out.push("cell " + td.dataset.label + " has " + n + " parts"); }
		});
		return out.join(", ");
	})()`)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		b.t.Fatal(err)
	}
	if wide != "" {
		b.t.Errorf("%s does not fit 390 px: %s", what, wide)
	}
}

// click clicks the element and returns the status of the page it loads.
func (b *browser) click(sel string) int {
	b.t.Helper()
	return b.step("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// TestBrowserAdminSyncHistoryAndLiveProgress: the sync history reads in
// words, pages, shows local times with their zone, and the running sync's
// progress updates by itself until the sync ends and the page shows the
// history.
func TestBrowserAdminSyncHistoryAndLiveProgress(t *testing.T) {
	chromiumPath(t)
	site := startAdminSite(t)
	b := newBrowser(t, site.URL)
	b.setTimezone("Asia/Kolkata") // UTC+5:30 all year, no daylight saving
	want(t, "GET /login", b.open("/login"), http.StatusOK)
	want(t, "sign in as alice", b.signIn("alice", "alice-pw"), http.StatusOK)
	want(t, "GET /admin", b.open("/admin"), http.StatusOK)

	main := b.text("main")
	for _, s := range []string{"3 users created", "1 user updated", "5 memberships added", "no changes", "would remove 40 users", "app-1:4242", "Last sync:"} {
		wantContains(t, "admin page", main, s)
	}
	if strings.Contains(main, "users_created") {
		t.Errorf("the history still shows raw counter names:\n%s", main)
	}
	// 08:00 UTC is 13:30 in Kolkata; the UTC text stays as the tooltip.
	first := `document.querySelector("table.history time")`
	want(t, "first run's time attribute", eval[string](b, first+`.getAttribute("datetime")`), "2026-03-01T08:00:00Z")
	local := eval[string](b, first+`.textContent`)
	if !strings.HasPrefix(local, "2026-03-01 13:30 ") || strings.Contains(local, "UTC") || len(local) <= len("2026-03-01 13:30 ") {
		t.Errorf("first run's time reads %q; want 2026-03-01 13:30 and the zone's name, not UTC", local)
	}
	want(t, "first run's tooltip", eval[string](b, first+`.title`), "2026-03-01 08:00 UTC")

	// The progress panel updates by itself, without a reload.
	eval[bool](b, `(window.sameDocument = true)`)
	read0 := b.text(`#sync-progress [data-field="read"]`)
	wantContains(t, "progress panel", b.text("#sync-progress"), "started by schedule")
	b.screenshot("admin-sync-running")
	b.checkFits("the admin page")
	deadline := time.Now().Add(8 * time.Second)
	for b.text(`#sync-progress [data-field="read"]`) == read0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	read1 := b.text(`#sync-progress [data-field="read"]`)
	if read1 == read0 {
		t.Fatalf("the entries-read count stayed %s for 8s: the panel does not update", read0)
	}
	want(t, "same document after the progress updated", eval[bool](b, `window.sameDocument === true`), true)
	if polls := site.polls.Load(); polls < 2 {
		t.Errorf("the progress endpoint was asked %d times", polls)
	}

	// When the sync ends, the page shows the history.
	site.finished.Store(true)
	deadline = time.Now().Add(8 * time.Second)
	for b.path() != "/admin?sync=done" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	want(t, "page after the sync ended", b.path(), "/admin?sync=done")
	time.Sleep(300 * time.Millisecond) // let the new page load
	wantContains(t, "notice after the sync ended", b.text("main"), "The sync has finished")
	if n := eval[int](b, `document.querySelectorAll("#sync-progress").length`); n != 0 {
		t.Errorf("the progress panel still shows after the sync ended")
	}

	// Older runs are a page away.
	want(t, "older runs", b.click(`a[rel="next"]`), http.StatusOK)
	want(t, "page of older runs", b.path(), "/admin?runs=2")
	wantContains(t, "older runs", b.text("table.history"), "2026-02-28")
	b.screenshot("admin-sync-history-page-2")
	b.checkFits("page 2 of the sync history")
}

// TestBrowserAdminGroupsAndUsers: the groups list pages and searches and
// marks the groups access rules name; the users list counts, filters and
// sorts, without the service account.
func TestBrowserAdminGroupsAndUsers(t *testing.T) {
	chromiumPath(t)
	site := startAdminSite(t)
	b := newBrowser(t, site.URL)
	b.open("/login")
	want(t, "sign in as alice", b.signIn("alice", "alice-pw"), http.StatusOK)

	want(t, "GET /admin/groups", b.open("/admin/groups"), http.StatusOK)
	want(t, "group rows on page 1", eval[int](b, `document.querySelectorAll("main tbody tr").length`), 50)
	wantContains(t, "groups summary", b.text(".summary"), "Groups 1–50 of 130.")
	wantContains(t, "rules of team-007", b.text("main tbody"), "require")
	b.screenshot("admin-groups")
	b.checkFits("the groups list")
	want(t, "next page of groups", b.click(`a[rel="next"]`), http.StatusOK)
	wantContains(t, "groups summary, page 2", b.text(".summary"), "Groups 51–100 of 130.")

	b.open("/admin/groups?q=team-01")
	wantContains(t, "search team-01", b.text(".summary"), "Groups 1–10 of 10 matching")
	b.open("/admin/groups?rules=1")
	want(t, "groups used by rules", eval[int](b, `document.querySelectorAll("main tbody tr").length`), 2)
	b.screenshot("admin-groups-used-by-rules")
	want(t, "member group link", b.open("/admin/groups/team-001"), http.StatusOK)
	want(t, "follow the member group link", b.click(`main a[href="/admin/groups/team-002"]`), http.StatusOK)
	want(t, "member group page", b.text("main h1"), "team-002")

	want(t, "GET /admin/users", b.open("/admin/users"), http.StatusOK)
	wantContains(t, "users summary", b.text(".summary"), "Users 1–25 of 63.")
	if strings.Contains(b.text("main"), "svc-ldapbridge") {
		t.Error("the service account is listed among the users")
	}
	b.screenshot("admin-users")
	b.checkFits("the users list")
	// Sorting by name: the column heading is a link, and aria-sort follows.
	want(t, "sort by name", b.click(`th a[href="/admin/users?sort=name"]`), http.StatusOK)
	want(t, "aria-sort of Name", eval[string](b, `document.querySelector('th[aria-sort]').innerText.trim()`), "Name ▲")
	want(t, "first user by last name", b.text("main tbody tr td"), "bob")
	want(t, "sort by name, descending", b.click(`th[aria-sort] a`), http.StatusOK)
	want(t, "first user by last name, descending", b.text("main tbody tr td"), "alice")
	// Filters: staff only.
	b.step("filter staff", chromedp.SetValue(chromedp.CSS("#f-staff"), "yes"), chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)))
	wantContains(t, "staff filter", b.text(".summary"), "of 7 matching (63 users in all)")
	b.screenshot("admin-users-staff")
	b.checkFits("the filtered users list")
}

// TestBrowserAdminUserActions: a superuser ends a user's sessions,
// deactivates and reactivates a local account, and tests a directory
// username that is not stored.
func TestBrowserAdminUserActions(t *testing.T) {
	chromiumPath(t)
	site := startAdminSite(t)

	// erin signs in with a plain HTTP client, as another browser would.
	jar, _ := cookiejar.New(nil)
	erin := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := withTimeout(t, 30*time.Second)
	resp := postForm(ctx, t, erin, site.URL+"/login", url.Values{"username": {"erin"}, "password": {"erin-pw"}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	readBody(t, resp)
	want(t, "erin's sign-in", resp.StatusCode, http.StatusSeeOther)
	erinProfile := func() int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, site.URL+"/profile", nil)
		r, err := erin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, r)
		return r.StatusCode
	}
	want(t, "erin's profile", erinProfile(), http.StatusOK)

	b := newBrowser(t, site.URL)
	b.open("/login")
	want(t, "sign in as alice", b.signIn("alice", "alice-pw"), http.StatusOK)
	want(t, "GET /admin/users/erin", b.open("/admin/users/erin"), http.StatusOK)
	b.screenshot("admin-user-actions")
	b.checkFits("a user's page")
	want(t, "end erin's sessions", b.click(`form[action="/admin/users/erin/sessions/end"] button`), http.StatusOK)
	wantContains(t, "notice", b.text("main"), "1 session ended.")
	want(t, "erin's profile after her sessions ended", erinProfile(), http.StatusSeeOther)

	want(t, "deactivate erin", b.click(`form[action="/admin/users/erin/deactivate"] button`), http.StatusOK)
	wantContains(t, "notice", b.text("main"), "Account deactivated")
	wantContains(t, "roles", b.text("main"), "inactive")
	b.screenshot("admin-user-deactivated")
	want(t, "reactivate erin", b.click(`form[action="/admin/users/erin/reactivate"] button`), http.StatusOK)
	wantContains(t, "notice", b.text("main"), "Account reactivated.")

	want(t, "GET /admin/users", b.open("/admin/users"), http.StatusOK)
	want(t, "test a username", b.click(`a[href="/admin/explain"]`), http.StatusOK)
	b.step("test newcomer", chromedp.SendKeys(chromedp.ID("explain-username"), "newcomer"), chromedp.Click(chromedp.CSS(`form[action="/admin/explain"] button`)))
	want(t, "explain page", b.path(), "/admin/explain?username=newcomer")
	main := b.text("main")
	for _, s := range []string{"No user of this name is stored here yet", "uid=newcomer,ou=People,dc=example,dc=com", "A sign-in with the right password would give: ok", "team-007"} {
		wantContains(t, "explain page", main, s)
	}
	b.screenshot("admin-explain")
	b.checkFits("the explain page")
}
