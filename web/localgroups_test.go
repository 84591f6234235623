package web

import (
	"context"
	"net/http"
	"net/http/httptest"
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
