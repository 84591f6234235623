package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestAdminGroupsSearchPagesAndMarksAccessRules(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.Access.Require = ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: "CN=Staff,ou=Groups,dc=example,dc=com"}, {DN: "cn=team-007,ou=Groups,dc=example,dc=com"}}}
		d.Access.Deny = ldapbridge.GroupQuery{DN: "cn=team-007,ou=Groups,dc=example,dc=com"}
		d.Access.Flags = map[string]ldapbridge.GroupQuery{"is_staff": {DN: "cn=staff,ou=Groups,dc=example,dc=com"}}
	})
	ctx := context.Background()
	for i := range 120 {
		g := &ldapbridge.Group{Name: fmt.Sprintf("team-%03d", i), DN: fmt.Sprintf("cn=team-%03d,ou=Groups,dc=example,dc=com", i)}
		if err := f.store.UpsertGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	parent, _ := f.store.Group(ctx, "team-001")
	child, _ := f.store.Group(ctx, "team-002")
	if err := f.store.SetGroupParents(ctx, child.ID, []int64{parent.ID}); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.mustLogin("bob", "bob-pw") // not staff
	c.get("/admin/groups").wantStatus(t, 403)

	a := f.client()
	a.mustLogin("alice", "alice-pw")
	p1 := a.get("/admin/groups")
	p1.wantStatus(t, 200)
	// 122 groups sorted by name: engineering, staff, team-000 … team-119.
	p1.wantBody(t, "Groups 1–50 of 122.", `href="/admin/groups/team-047"`, `href="/admin/groups?page=2"`,
		`<a href="/admin/groups/team-002">team-002</a>`, "<li>require</li><li>deny</li>", "<li>flag is_staff</li>")
	if strings.Contains(p1.body, `"/admin/groups/team-048"`) {
		t.Error("page 1 lists the 51st group")
	}
	if n := strings.Count(p1.body, "<tr><td data-label=\"Name\">"); n != 50 {
		t.Errorf("page 1 has %d rows, want 50", n)
	}
	p3 := a.get("/admin/groups?page=3")
	p3.wantBody(t, "Groups 101–122 of 122.", `href="/admin/groups/team-119"`, `href="/admin/groups?page=2"`)
	if strings.Contains(p3.body, `rel="next"`) {
		t.Error("the last page links to a next page")
	}
	s := a.get("/admin/groups?q=TEAM-11")
	s.wantBody(t, "Groups 1–10 of 10 matching (122 in all).", "team-110", "team-119")
	if strings.Contains(s.body, "team-010") {
		t.Error("search team-11 lists team-010")
	}
	r := a.get("/admin/groups?rules=1")
	r.wantBody(t, "Groups 1–2 of 2 matching", `href="/admin/groups/staff"`, `href="/admin/groups/team-007"`)
	a.get("/admin/groups?source=local").wantBody(t, "No group matches", "No group matches these filters.")
	a.get("/admin/groups/team-007").wantBody(t, "Access rules", "<li>require</li><li>deny</li>")
	a.get("/admin/groups/team-001").wantBody(t, "not named by any access rule", `<a href="/admin/groups/team-002">team-002</a>`)
	a.get("/admin/users/alice").wantBody(t, `<a href="/admin/groups/staff">staff</a>`)
}
