package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSyncHistoryReadsAsWordsAndPages(t *testing.T) {
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var runs []SyncRun
	for i := range 45 {
		r := SyncRun{StartedAt: start.Add(-time.Duration(i) * time.Hour), Mode: "incremental", Duration: 1500 * time.Millisecond,
			Outcome: "ok", Instance: fmt.Sprintf("host-%d:42", i), Counts: map[string]int{"users_unchanged": 9}}
		switch i {
		case 0:
			r.Counts = map[string]int{"users_created": 3, "users_updated": 1, "memberships_added": 2, "users_unchanged": 5}
		case 1:
			r.Outcome, r.Aborted, r.AbortReason = "aborted", true, "would remove 40 users"
		}
		runs = append(runs, r)
	}
	var limits []int
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.Health = func(context.Context) []DirectoryHealth { return []DirectoryHealth{{URL: "ldap://a.example", Up: true}} }
		d.SyncHistory = func(_ context.Context, limit int) ([]SyncRun, error) {
			limits = append(limits, limit)
			if limit > 0 && limit < len(runs) {
				return runs[:limit], nil
			}
			return runs, nil
		}
	})
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	p1 := c.get("/admin")
	p1.wantBody(t, "3 users created", "1 user updated", "2 memberships added", "no changes", "would remove 40 users",
		"host-0:42", "host-19:42", `<time datetime="2026-03-01T08:00:00Z">2026-03-01 08:00 UTC</time>`,
		`href="/admin?runs=2#history"`, "Older runs", "1.5s", "Last sync:")
	for _, not := range []string{"users_created", "host-20:42", "users unchanged", "Newer runs"} {
		if strings.Contains(p1.body, not) {
			t.Errorf("page 1 of the history shows %q", not)
		}
	}
	p3 := c.get("/admin?runs=3")
	p3.wantBody(t, "host-40:42", "host-44:42", `href="/admin?runs=2#history"`, "Newer runs", "Page 3")
	if strings.Contains(p3.body, "host-39:42") || strings.Contains(p3.body, "Older runs") {
		t.Error("page 3 of 45 runs shows a run of page 2 or a link to a page 4")
	}
	if got := fmt.Sprint(limits); got != "[21 61]" {
		t.Errorf("history limits asked: %s, want [21 61] (one more than the pages shown)", got)
	}
}

func TestDirectoryPanelSaysNeverSynced(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.Health = func(context.Context) []DirectoryHealth {
			return []DirectoryHealth{{URL: "ldap://a.example", Up: true}}
		}
		d.SyncHistory = func(context.Context, int) ([]SyncRun, error) { return nil, nil }
	})
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	page := c.get("/admin")
	page.wantBody(t, "never synced", "No sync has run yet.")
	if strings.Contains(page.body, ">never<") {
		t.Error(`the directory panel still says "never" for an unknown state change`)
	}
}

func TestCountLabel(t *testing.T) {
	for key, want := range map[string]string{"users_created": "1 user created", "groups_deleted": "1 group deleted", "ldap_searches": "1 ldap searches"} {
		if got := countLabel(key, 1); got != want {
			t.Errorf("countLabel(%q, 1) = %q, want %q", key, got, want)
		}
	}
	if got := countLabel("memberships_removed", 4); got != "4 memberships removed" {
		t.Errorf("countLabel(memberships_removed, 4) = %q", got)
	}
}
