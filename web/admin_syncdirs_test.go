package web

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAdminSyncShowsEveryDirectorysRun: with several directories a "sync
// now" is one run per directory; the admin page states the last run of
// each directory (not only the newest row) and names each row's directory.
func TestAdminSyncShowsEveryDirectorysRun(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	runs := []SyncRun{
		{ID: 3, StartedAt: at, Mode: "full", Directory: "ext", Counts: map[string]int{"users_created": 2}, Outcome: "ok"},
		{ID: 2, StartedAt: at.Add(-time.Second), Mode: "full", Directory: "corp", Outcome: "failed", Aborted: true, AbortReason: "corp is down"},
		{ID: 1, StartedAt: at.Add(-time.Hour), Mode: "full", Directory: "ext", Counts: map[string]int{"users_created": 9}, Outcome: "ok"},
	}
	deps := func(dirs []string) func(d *Deps) {
		return func(d *Deps) {
			d.Directories = dirs
			d.Health = func(context.Context) []DirectoryHealth { return []DirectoryHealth{{URL: "ldap://a.example", Up: true}} }
			d.SyncHistory = func(context.Context, int) ([]SyncRun, error) { return runs, nil }
		}
	}
	f := newFixture(t, defaultWebConfig(), deps([]string{"corp", "ext"}))
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	p := c.get("/admin")
	p.wantBody(t, "Last sync of each directory:", `<th scope="col">Directory</th>`, `<td data-label="Directory">corp</td>`,
		`<td data-label="Directory">ext</td>`)
	i := strings.Index(p.body, "Last sync of each directory:")
	if i < 0 {
		t.Fatal("no per-directory summary")
	}
	summary, _, _ := strings.Cut(p.body[i:], "</ul>")
	corp, ext := strings.Index(summary, "directory corp:"), strings.Index(summary, "directory ext:")
	if corp < 0 || ext < 0 || corp > ext {
		t.Fatalf("the summary does not list corp then ext:\n%s", summary)
	}
	if !strings.Contains(summary, "corp is down") || !strings.Contains(summary, "2 users created") || strings.Contains(summary, "9 users created") {
		t.Errorf("the summary is not each directory's last run:\n%s", summary)
	}

	one := newFixture(t, defaultWebConfig(), deps(nil))
	b := one.client()
	b.mustLogin("alice", "alice-pw")
	body := b.get("/admin").body
	if strings.Contains(body, "Last sync of each directory") || strings.Contains(body, `<th scope="col">Directory</th>`) || !strings.Contains(body, "Last sync:") {
		t.Error("a single-directory deployment shows the per-directory summary or column, or lacks its last sync")
	}
}
