package web

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAdminShowsAndServesTheRunningSyncsProgress(t *testing.T) {
	var mu sync.Mutex
	p := SyncProgress{Running: true, Phase: "users", Read: 1200, Applied: 340, StartedAt: time.Now().Add(-90 * time.Second), StartedBy: "schedule"}
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.SyncHistory = func(context.Context, int) ([]SyncRun, error) { return nil, nil }
		d.SyncProgress = func() SyncProgress { mu.Lock(); defer mu.Unlock(); return p }
	})
	bob := f.client()
	bob.mustLogin("bob", "bob-pw")
	bob.get("/admin/sync/progress").wantStatus(t, 403)

	c := f.client()
	c.mustLogin("alice", "alice-pw")
	page := c.get("/admin")
	page.wantBody(t, `id="sync-progress"`, `data-poll="/admin/sync/progress"`, "started by <span data-field=\"started_by\">schedule</span>",
		`<dd data-field="phase">users</dd>`, `<dd data-field="read">1200</dd>`, `<dd data-field="applied">340</dd>`)

	r := c.get("/admin/sync/progress")
	r.wantStatus(t, 200)
	var got syncProgressJSON
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("progress JSON: %v\n%s", err, r.body)
	}
	if !got.Running || got.Phase != "users" || got.Read != 1200 || got.Applied != 340 || got.StartedBy != "schedule" || got.Seconds < 89 {
		t.Errorf("progress = %+v", got)
	}

	mu.Lock()
	p = SyncProgress{}
	mu.Unlock()
	if page := c.get("/admin"); page.StatusCode != 200 || strings.Contains(page.body, `id="sync-progress"`) {
		t.Error("the progress panel shows while no sync runs")
	}
	idle := c.get("/admin/sync/progress")
	idle.wantBody(t, `"running": false`)
	if strings.Contains(idle.body, "started_at") {
		t.Errorf("the idle progress has a start time: %s", idle.body)
	}
	c.get("/admin?sync=done").wantBody(t, "The sync has finished")
}

func TestSyncProgressEndpointWithoutReporter(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	c.get("/admin/sync/progress").wantStatus(t, 404)
}
