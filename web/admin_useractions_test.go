package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// explainByName answers Explain for the names it knows and "not found"
// for the others, recording the names asked.
type explainByName struct{ asked *[]string }

func (e explainByName) Explain(_ context.Context, username string) (*auth.Explanation, error) {
	*e.asked = append(*e.asked, username)
	if username != "newcomer" {
		return &auth.Explanation{Outcome: auth.UserNotFound, Reason: "no entry matched"}, nil
	}
	return &auth.Explanation{Found: true, DN: "uid=newcomer,ou=People,dc=example,dc=com", GroupNames: []string{"engineering"},
		Require: &auth.RuleVerdict{Rule: "cn=app,ou=Groups,dc=example,dc=com", Verdict: false}, Outcome: auth.RequireGroup,
		Reason: "not in cn=app"}, nil
}

func TestSuperuserEndsAllSessionsOfAUser(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	bob1, bob2, other := f.client(), f.client(), f.client()
	bob1.mustLogin("bob", "bob-pw")
	bob2.mustLogin("bob", "bob-pw")
	other.mustLogin("alice", "alice-pw")

	// bob becomes staff: staff see the user page but may not act.
	bob := f.users["bob"]
	bob.IsStaff = true
	if err := f.store.UpdateUser(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	page := bob1.get("/admin/users/carol")
	if strings.Contains(page.body, "/sessions/end") {
		t.Error("a staff user who is not a superuser is offered to end sessions")
	}
	bob1.post("/admin/users/carol/sessions/end", nil).wantStatus(t, http.StatusForbidden)

	a := f.client()
	a.mustLogin("alice", "alice-pw")
	a.get("/admin/users/bob").wantBody(t, `action="/admin/users/bob/sessions/end"`, "End all sessions")

	// A cross-site form post is refused before anything happens.
	req, _ := http.NewRequest(http.MethodPost, a.base+"/admin/users/bob/sessions/end", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	a.do(req).wantStatus(t, http.StatusForbidden)
	bob2.get("/profile").wantStatus(t, http.StatusOK)

	r := a.post("/admin/users/bob/sessions/end", nil)
	r.wantStatus(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/admin/users/bob?done=sessions&n=2" {
		t.Errorf("redirect after ending bob's sessions: %q", loc)
	}
	a.get("/admin/users/bob?done=sessions&n=2").wantBody(t, "2 sessions ended.")
	for i, c := range []*client{bob1, bob2} {
		if r := c.get("/profile"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("bob's session %d still works after its end: %d %s", i+1, r.StatusCode, r.Header.Get("Location"))
		}
	}
	other.get("/profile").wantStatus(t, http.StatusOK)
	a.get("/profile").wantStatus(t, http.StatusOK)
}

// hiddenStore is a session store that can neither list nor delete by data.
type hiddenStore struct{ scs.Store }

func TestEndSessionsNeedsAStoreThatCanFindThem(t *testing.T) {
	g := newFixture(t, defaultWebConfig(), nil)
	h := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Sessions = hiddenStore{g.store.Sessions()} })
	a := h.client()
	a.mustLogin("alice", "alice-pw")
	page := a.get("/admin/users/bob")
	page.wantBody(t, "needs a session store that can list sessions or find them by user")
	if strings.Contains(page.body, "/sessions/end") {
		t.Error("the end-sessions button shows with a session store that cannot find sessions")
	}
	a.post("/admin/users/bob/sessions/end", nil).wantStatus(t, http.StatusNotImplemented)
}

// The SQL session store keeps only token hashes; it ends a user's sessions
// by their data, on every instance that shares the database.
func TestSuperuserEndsAllSessionsWithTheSQLSessionStore(t *testing.T) {
	g := newFixture(t, defaultWebConfig(), nil)
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Sessions = g.store.Sessions() })
	bob1, bob2, other := f.client(), f.client(), f.client()
	bob1.mustLogin("bob", "bob-pw")
	bob2.mustLogin("bob", "bob-pw")
	other.mustLogin("alice", "alice-pw")
	a := f.client()
	a.mustLogin("alice", "alice-pw")
	r := a.post("/admin/users/bob/sessions/end", nil)
	r.wantStatus(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/admin/users/bob?done=sessions&n=2" {
		t.Errorf("redirect after ending bob's sessions: %q", loc)
	}
	for i, c := range []*client{bob1, bob2} {
		if r := c.get("/profile"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("bob's session %d still works after its end: %d", i+1, r.StatusCode)
		}
	}
	other.get("/profile").wantStatus(t, http.StatusOK)
	a.get("/profile").wantStatus(t, http.StatusOK)
}

func TestSuperuserDeactivatesAndReactivatesALocalAccount(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.LocalUsers = nil })
	ctx := context.Background()
	erin := &ldapbridge.User{Username: "erin", FirstName: "Erin", IsActive: true, Source: ldapbridge.SourceLocal}
	if err := f.store.CreateUser(ctx, erin); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.mustLogin("alice", "alice-pw")
	if strings.Contains(a.get("/admin/users/erin").body, "/deactivate") {
		t.Error("deactivate is offered without Deps.LocalUsers")
	}
	a.post("/admin/users/erin/deactivate", nil).wantStatus(t, http.StatusNotFound)

	f = newFixture(t, defaultWebConfig(), nil)
	f.srv.deps.LocalUsers = f.store
	if err := f.store.CreateUser(ctx, &ldapbridge.User{Username: "erin", FirstName: "Erin", IsActive: true, Source: ldapbridge.SourceLocal}); err != nil {
		t.Fatal(err)
	}
	f.auth.passwords["erin"] = "erin-pw"
	e := f.client()
	e.mustLogin("erin", "erin-pw")
	e.get("/profile").wantStatus(t, http.StatusOK)

	a = f.client()
	a.mustLogin("alice", "alice-pw")
	a.get("/admin/users/erin").wantBody(t, `action="/admin/users/erin/deactivate"`)
	if strings.Contains(a.get("/admin/users/bob").body, "/deactivate") {
		t.Error("deactivate is offered for a directory account")
	}
	a.post("/admin/users/bob/deactivate", nil).wantStatus(t, http.StatusConflict)

	r := a.post("/admin/users/erin/deactivate", nil)
	r.wantStatus(t, http.StatusSeeOther)
	u, err := f.store.User(ctx, "erin")
	if err != nil || u.IsActive || u.Allowed() || !strings.Contains(u.VerdictReason, "alice") {
		t.Fatalf("erin after deactivation: %+v, %v", u, err)
	}
	a.get(r.Header.Get("Location")).wantBody(t, "Account deactivated", `action="/admin/users/erin/reactivate"`)
	if r := e.get("/profile"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("erin's session still works after deactivation: %d", r.StatusCode)
	}

	a.post("/admin/users/erin/reactivate", nil).wantStatus(t, http.StatusSeeOther)
	if u, err := f.store.User(ctx, "erin"); err != nil || !u.IsActive || !u.Allowed() {
		t.Fatalf("erin after reactivation: %+v, %v", u, err)
	}

	// Staff who are not superusers may not; and no one deactivates themself.
	bob := f.users["bob"]
	bob.IsStaff = true
	if err := f.store.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	b := f.client()
	b.mustLogin("bob", "bob-pw")
	b.post("/admin/users/erin/deactivate", url.Values{}).wantStatus(t, http.StatusForbidden)
	alice := f.users["alice"]
	alice.Source = ldapbridge.SourceLocal
	if err := f.store.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	a.post("/admin/users/alice/deactivate", nil).wantStatus(t, http.StatusConflict)
}

func TestAdminTestsAnyDirectoryUsername(t *testing.T) {
	var asked []string
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Explain = explainByName{asked: &asked} })
	a := f.client()
	a.mustLogin("alice", "alice-pw")
	a.get("/admin/users").wantBody(t, `href="/admin/explain"`)
	a.get("/admin").wantBody(t, `href="/admin/explain"`)
	g := newFixture(t, defaultWebConfig(), nil)
	n := g.client()
	n.mustLogin("alice", "alice-pw")
	for _, path := range []string{"/admin", "/admin/users"} {
		if strings.Contains(n.get(path).body, `href="/admin/explain"`) {
			t.Errorf("%s links to /admin/explain without Deps.Explain", path)
		}
	}
	n.get("/admin/explain?username=bob").wantStatus(t, http.StatusNotFound)
	a.get("/admin/explain").wantBody(t, `name="username"`)
	r := a.get("/admin/explain?username=newcomer")
	r.wantBody(t, "No user of this name is stored here yet", "uid=newcomer,ou=People,dc=example,dc=com",
		"<strong>require_group</strong> (not in cn=app)", "not met", `<a href="/admin/groups/engineering">engineering</a>`)
	a.get("/admin/explain?username=bob").wantBody(t, `Stored here as <a href="/admin/users/bob">bob</a>`,
		"The directory has no entry for this username (no entry matched).")
	if strings.Join(asked, ",") != "newcomer,bob" {
		t.Errorf("Explain was asked for %v, want newcomer then bob", asked)
	}
	a.get("/admin/explain?username="+strings.Repeat("x", MaxUsernameLength+1)).wantStatus(t, http.StatusBadRequest)

	b := f.client()
	b.mustLogin("bob", "bob-pw")
	b.get("/admin/explain?username=newcomer").wantStatus(t, http.StatusForbidden)
}
