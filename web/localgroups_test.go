package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// TestLocalGroupsCountForRequireGroupAndJSON: a local group's members pass
// RequireGroup, and the groups arrays and group lists in JSON show it.
func TestLocalGroupsCountForRequireGroupAndJSON(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	ctx := context.Background()
	editors := &ldapbridge.Group{Name: "editors", Source: ldapbridge.SourceLocal}
	if err := f.store.UpsertGroup(ctx, editors); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "alice"} {
		if err := f.store.AddMemberships(ctx, []ldapbridge.Membership{{GroupID: editors.ID, UserID: f.users[u].ID}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.RemoveMemberships(ctx, []ldapbridge.Membership{{GroupID: editors.ID, UserID: f.users["alice"].ID}}); err != nil {
		t.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })
	mux := http.NewServeMux()
	mux.Handle("/", f.srv.Handler())
	mux.Handle("/edit/", f.srv.RequireGroup("editors")(hello))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for user, want := range map[string]int{"bob": http.StatusOK, "alice": http.StatusForbidden} {
		c := f.client()
		c.base = ts.URL
		c.mustLogin(user, user+"-pw")
		if r := c.get("/edit/x"); r.StatusCode != want {
			t.Errorf("%s GET /edit/x: %d, want %d", user, r.StatusCode, want)
		}
		me := c.get("/api/me")
		if got := strings.Contains(me.body, `"editors"`); got != (user == "bob") {
			t.Errorf("%s /api/me mentions editors: %v: %s", user, got, me.body)
		}
		if user == "alice" { // staff: may read the group list
			gs := c.get("/api/groups")
			body := strings.Join(strings.Fields(gs.body), "")
			if !strings.Contains(body, `"name":"editors","source":"local"`) || !strings.Contains(body, `"source":"ldap"`) {
				t.Errorf("/api/groups lacks the sources: %s", gs.body)
			}
		}
	}
}

// TestAdminPagesManageLocalGroups: a superuser creates a local group, adds
// and removes members and deletes it; directory groups are refused; the
// others see the groups with their source but no forms, and their posts
// are refused.
func TestAdminPagesManageLocalGroups(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.LocalGroups = d.Store.(LocalGroups) })
	ctx := context.Background()
	admin := f.client()
	admin.mustLogin("alice", "alice-pw") // staff and superuser
	steps := []struct {
		path   string
		form   url.Values
		status int
		want   string // in the page the post leads to
	}{
		{"/admin/groups", url.Values{"name": {"editors"}}, http.StatusSeeOther, "Local group created."},
		{"/admin/groups", url.Values{"name": {"editors"}}, http.StatusConflict, "exists already"},
		{"/admin/groups", url.Values{"name": {"staff"}}, http.StatusConflict, "directory group named &#34;staff&#34; exists"},
		{"/admin/groups/editors/members", url.Values{"username": {"bob"}}, http.StatusSeeOther, "Member added."},
		{"/admin/groups/editors/members", url.Values{"username": {"zoe"}}, http.StatusBadRequest, "no user named"},
		{"/admin/groups/staff/members", url.Values{"username": {"bob"}}, http.StatusConflict, "members come from the directory"},
		{"/admin/groups/staff/delete", nil, http.StatusConflict, "members come from the directory"},
	}
	for _, st := range steps {
		r := admin.post(st.path, st.form)
		if r.StatusCode != st.status {
			t.Fatalf("POST %s %v: %d, want %d: %s", st.path, st.form, r.StatusCode, st.status, r.body)
		}
		body := r.body
		if r.StatusCode == http.StatusSeeOther {
			body = admin.get(r.Header.Get("Location")).body
		}
		if !strings.Contains(body, st.want) {
			t.Errorf("POST %s %v: page lacks %q:\n%s", st.path, st.form, st.want, body)
		}
	}
	if u, err := f.store.User(ctx, "bob"); err != nil || !strings.Contains(strings.Join(u.Groups, ","), "editors") {
		t.Fatalf("bob's groups after the add: %v %v", u.Groups, err)
	}
	page := admin.get("/admin/groups/editors").body
	for _, want := range []string{"local (members are managed here)", `action="/admin/groups/editors/members/remove"`, `action="/admin/groups/editors/delete"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the editors page lacks %q", want)
		}
	}
	if p := admin.get("/admin/groups/staff").body; strings.Contains(p, "/members\"") || !strings.Contains(p, "members come from the directory") {
		t.Errorf("the staff page offers member forms or lacks its source")
	}
	if p := admin.get("/admin/groups").body; !strings.Contains(p, "New local group") || !strings.Contains(p, ">local<") {
		t.Errorf("the groups page lacks the create form or the source column")
	}

	// bob is not staff: no admin pages at all.
	bob := f.client()
	bob.mustLogin("bob", "bob-pw")
	if r := bob.post("/admin/groups/editors/delete", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("bob deleting editors: %d, want 403", r.StatusCode)
	}

	r := admin.post("/admin/groups/editors/members/remove", url.Values{"username": {"bob"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove bob: %d %s", r.StatusCode, r.body)
	}
	if u, _ := f.store.User(ctx, "bob"); strings.Contains(strings.Join(u.Groups, ","), "editors") {
		t.Errorf("bob still in editors after the remove")
	}
	if r := admin.post("/admin/groups/editors/delete", nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/groups?done=deleted" {
		t.Fatalf("delete editors: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if _, err := f.store.Group(ctx, "editors"); err == nil {
		t.Error("editors still stored after the delete")
	}
}

// TestAdminGroupsReadOnlyWithoutLocalGroups: without Deps.LocalGroups the
// pages show no forms and posts are refused.
func TestAdminGroupsReadOnlyWithoutLocalGroups(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	admin := f.client()
	admin.mustLogin("alice", "alice-pw")
	if p := admin.get("/admin/groups").body; strings.Contains(p, "New local group") {
		t.Error("the create form is shown without Deps.LocalGroups")
	}
	if r := admin.post("/admin/groups", url.Values{"name": {"editors"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("create without Deps.LocalGroups: %d, want 404", r.StatusCode)
	}
}
