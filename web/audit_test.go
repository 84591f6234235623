package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// populateFake refreshes a user by changing its email in the store, as a
// directory change seen by users populate would.
type populateFake struct {
	store interface {
		User(ctx context.Context, name string) (*ldapbridge.User, error)
		UpdateUser(ctx context.Context, u *ldapbridge.User) error
	}
}

func (p populateFake) Populate(ctx context.Context, name string) (*auth.Result, error) {
	u, err := p.store.User(ctx, name)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return &auth.Result{Outcome: auth.UserNotFound}, nil
	}
	if err != nil {
		return nil, err
	}
	u.Email = "new-" + u.Email
	if err := p.store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	u, err = p.store.User(ctx, name)
	return &auth.Result{Outcome: auth.OK, Authenticated: true, Allowed: true, User: u}, err
}

// TestAuditPagesShowRunsChangesAndDecidePendingRemovals: a run's page lists
// its changes (filterable) and its held removals with Approve and Reject
// for superusers; deciding is a cross-origin protected POST recorded with
// the admin's name; a user's changes page lists what touched them; and
// Refresh from the directory (page and API) says what changed.
func TestAuditPagesShowRunsChangesAndDecidePendingRemovals(t *testing.T) {
	var decided []string
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.Audit = d.Store.(Audit)
		d.Refresher = populateFake{d.Store.(ldapbridge.Store)}
		d.Approvals = Approvals{
			Approve: func(_ context.Context, id int64, by string) (int, int, error) {
				decided = append(decided, fmt.Sprint("approve ", id, " by ", by))
				return 1, 2, nil
			},
			Reject: func(_ context.Context, id int64, by string) (int, error) {
				decided = append(decided, fmt.Sprint("reject ", id, " by ", by))
				return 3, nil
			},
		}
	})
	ctx := t.Context()
	st := f.store
	run := &ldapbridge.SyncRun{StartedAt: time.Now().UTC(), Mode: "full", Outcome: "aborted", Error: "over sync.max_removals"}
	if err := st.RecordSyncRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	bob, carol := f.users["bob"], f.users["carol"]
	if err := st.RecordChanges(ctx, []*ldapbridge.Change{
		{RunID: run.ID, Source: "sync", Kind: "user", Action: "deactivated", User: "carol", UserID: carol.ID, Reason: "not found by a complete read"},
		{RunID: run.ID, Source: "sync", Kind: "user", Action: "updated", User: "bob", UserID: bob.ID, Fields: []string{"email", "profile.title"}},
		{RunID: run.ID, Source: "sync", Kind: "membership", Action: "added", User: "bob", UserID: bob.ID, Group: "engineering"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordPending(ctx, run.ID, time.Now(), time.Now().Add(time.Hour), []ldapbridge.PendingRemoval{
		{UserID: bob.ID, User: "bob", Action: "deactivated", Reason: "gone"}}); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.mustLogin("alice", "alice-pw")
	page := fmt.Sprintf("/admin/sync/runs/%d", run.ID)
	r := c.get(page)
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, "Sync run", "not found by a complete read", "email, profile.title", "engineering", "3 changes", "Approve the removals", "1 removals wait for approval")
	r = c.get(page + "?action=deactivated")
	r.wantBody(t, "1 changes", "carol")
	if strings.Contains(r.body, "profile.title") {
		t.Errorf("the deactivated filter shows bob's update:\n%s", r.body)
	}
	c.get("/admin/sync/runs/999").wantStatus(t, http.StatusNotFound)

	// A cross-site POST is refused before it reaches the decision.
	cross, _ := http.NewRequest(http.MethodPost, c.base+page+"/approve", nil)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp := c.do(cross); resp.StatusCode != http.StatusForbidden || len(decided) != 0 {
		t.Errorf("cross-site approve: status %d, decided %v", resp.StatusCode, decided)
	}
	r = c.post(page+"/approve", nil)
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "removed=1&skipped=2") {
		t.Errorf("approve: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	c.post(page+"/reject", nil)
	if want := []string{fmt.Sprint("approve ", run.ID, " by alice"), fmt.Sprint("reject ", run.ID, " by alice")}; !slices.Equal(decided, want) {
		t.Errorf("decisions %v, want %v", decided, want)
	}
	c.get("/admin/sync/pending").wantBody(t, fmt.Sprintf("run %d", run.ID), "0 failed")
	c.get("/admin/users/bob/changes").wantBody(t, "Changes of bob", "email, profile.title", "Refresh from the directory")

	// Refresh: the API answers what changed; the button redirects to the
	// changes page saying so.
	r = c.post("/api/users/bob/refresh", nil)
	r.wantStatus(t, http.StatusOK)
	var out RefreshResult
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.Outcome != "ok" || !slices.Equal(out.Changed, []string{"email"}) || out.User == nil || out.GroupsAdded == nil {
		t.Errorf("refresh API: %v %s", err, r.body)
	}
	r = c.post("/admin/users/bob/refresh", nil)
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "changed+email") {
		t.Errorf("refresh button: %d %s", r.StatusCode, loc)
	}
	c.post("/api/users/nobody/refresh", nil).wantStatus(t, http.StatusNotFound)

	// Only superusers decide and refresh.
	bob.IsStaff = true
	if err := st.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	b := f.client()
	b.mustLogin("bob", "bob-pw")
	b.get(page).wantStatus(t, http.StatusOK)
	b.post(page+"/approve", nil).wantStatus(t, http.StatusForbidden)
	b.post("/api/users/bob/refresh", nil).wantStatus(t, http.StatusForbidden)
	if len(decided) != 2 {
		t.Errorf("a staff user's approve reached the decision: %v", decided)
	}
}
