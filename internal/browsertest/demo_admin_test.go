package browsertest

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// localTime is how app.js writes a time: date, hours and minutes, zone.
var localTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d \S+$`)

// TestBrowserDemoAdminSyncNow drives the binary's own wiring of the admin
// pages: a superuser sees the demo's first sync in the history with the
// instance that ran it, starts another with "Sync now", and finds it at
// the top of the history once it has run; the service account the demo
// binds with, which the sync stores, is not listed among the users.
func TestBrowserDemoAdminSyncNow(t *testing.T) {
	chromiumPath(t)
	d := startDemo(t)
	b := newBrowser(t, d.URL)
	admin := d.login(t, "asmith")
	wantContains(t, "printed roles of asmith", admin.Roles, "superuser")
	b.open("/login")
	want(t, "sign in as asmith", b.signIn(admin.Username, admin.Password), http.StatusOK)

	want(t, "GET /admin", b.open("/admin"), http.StatusOK)
	rows := `document.querySelectorAll("table.history tbody tr").length`
	before := eval[int](b, rows)
	if before < 1 {
		t.Fatalf("the history shows %d runs; the demo syncs once at start", before)
	}
	wantContains(t, "first run", b.text("table.history tbody tr"), "users created")
	if ran := b.text(`table.history tbody tr td[data-label="Ran on"] code`); ran == "" {
		t.Error("the history does not say which instance ran the sync")
	}
	if got := b.text(`table.history time`); !localTime.MatchString(got) {
		t.Errorf("the run's start reads %q, want YYYY-MM-DD HH:MM and a zone", got)
	}

	// The progress endpoint of the binary answers (no sync runs now).
	want(t, "GET /admin/sync/progress", b.open("/admin/sync/progress"), http.StatusOK)
	wantContains(t, "progress JSON", b.text("body"), `"running": false`)

	want(t, "GET /admin", b.open("/admin"), http.StatusOK)
	want(t, "sync now", b.click(`form[action="/admin/sync"] button`), http.StatusOK)
	// The demo's sync is quick: the page shows its progress until it ends
	// and then the history (app.js navigates), or the history at once when
	// it ended before the page was rendered. The run is in the history
	// from its start, as running.
	newest := func() string { return b.text(`table.history tbody tr td[data-label="Result"]`) }
	panel := `document.querySelectorAll("#sync-progress").length`
	sawPanel := false
	deadline := time.Now().Add(20 * time.Second)
	for {
		if eval[int](b, panel) > 0 {
			sawPanel = true
		} else if eval[int](b, rows) == before+1 && newest() != "running" {
			break
		} else {
			b.open("/admin")
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync started with Sync now did not end within 20s: history rows %d (before %d), newest %q, page %s",
				eval[int](b, rows), before, newest(), b.path())
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("progress panel seen: %v; page after the sync: %s", sawPanel, b.path())
	want(t, "newest run's result", newest(), "ok")
	b.screenshot("demo-admin-after-sync")

	want(t, "GET /admin/users", b.open("/admin/users"), http.StatusOK)
	if users := b.text("main"); strings.Contains(users, "ldapbridge-svc") {
		t.Errorf("the demo's service account is listed among the users:\n%s", users)
	}
	want(t, "the API still knows the stored service account", b.open("/api/users?q=ldapbridge-svc"), http.StatusOK)
	wantContains(t, "API users", b.text("body"), `"username": "ldapbridge-svc"`)
}
