package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestAdminUsersCountFilterSortAndHideTheServiceAccount(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		d.ServiceAccountDN = "UID=svc-ldapbridge,ou=People,dc=example,dc=com"
	})
	ctx := context.Background()
	for i := range 30 {
		u := &ldapbridge.User{Username: fmt.Sprintf("user%02d", i), FirstName: "User", LastName: fmt.Sprintf("Z%02d", 29-i),
			IsActive: i%3 != 0, IsStaff: i%5 == 0, Source: ldapbridge.SourceLDAP, DN: fmt.Sprintf("uid=user%02d,ou=People,dc=example,dc=com", i)}
		if i >= 25 {
			u.Source, u.DN = ldapbridge.SourceLocal, ""
		}
		if err := f.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	svc := &ldapbridge.User{Username: "svc-ldapbridge", IsActive: true, Source: ldapbridge.SourceLDAP, DN: "uid=svc-ldapbridge,ou=People,dc=example,dc=com"}
	if err := f.store.CreateUser(ctx, svc); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.mustLogin("alice", "alice-pw")

	// 4 fixture users + 30; the service account is not counted.
	p1 := c.get("/admin/users")
	p1.wantBody(t, "Users 1–25 of 34.", `href="/admin/users?page=2"`, `aria-sort="ascending"`)
	if strings.Contains(p1.body, "svc-ldapbridge") {
		t.Error("the service account (directory.bind_dn) is listed as a user")
	}
	c.get("/admin/users?page=2").wantBody(t, "Users 26–34 of 34.", "user29")
	c.get("/admin/users?q=svc").wantBody(t, "No user matches (34 users in all).")

	// staff: alice and user00, 05, 10, 15, 20, 25.
	st := c.get("/admin/users?staff=yes")
	st.wantBody(t, "Users 1–7 of 7 matching (34 users in all).", ">user25<", ">alice<")
	if strings.Contains(st.body, ">user01<") || strings.Contains(st.body, ">bob<") {
		t.Error("staff=yes lists a user who is not staff")
	}
	// inactive: carol and user00, 03, …, 27 (10 of them).
	c.get("/admin/users?active=no").wantBody(t, "of 11 matching", ">carol<", ">user27<")
	c.get("/admin/users?superuser=yes").wantBody(t, "Users 1–1 of 1 matching", ">alice<")
	loc := c.get("/admin/users?source=local&active=yes")
	loc.wantBody(t, "of 4 matching", ">user25<", ">user26<", ">user28<", ">user29<")
	if strings.Contains(loc.body, ">user27<") {
		t.Error("source=local&active=yes lists an inactive user")
	}

	// Sorting by name, descending: last names "Z29" (user00) first.
	byName := c.get("/admin/users?sort=name&dir=desc&source=local")
	byName.wantBody(t, `aria-sort="descending"`, `href="/admin/users?sort=name&amp;source=local"`)
	if i, j := strings.Index(byName.body, ">user25<"), strings.Index(byName.body, ">user29<"); i < 0 || j < 0 || i > j {
		t.Errorf("sort=name&dir=desc: user25 (Z04) at %d should come before user29 (Z00) at %d", i, j)
	}
	asc := c.get("/admin/users?sort=name&source=local")
	if i, j := strings.Index(asc.body, ">user25<"), strings.Index(asc.body, ">user29<"); i < 0 || j < 0 || i < j {
		t.Errorf("sort=name: user29 (Z00) at %d should come before user25 (Z04) at %d", j, i)
	}
}
