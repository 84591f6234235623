package web

import (
	"context"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestUsersPageFiltersByDirectoryWhenThereAreSeveral(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Directories = []string{"default", "contractors"} })
	zed := &ldapbridge.User{Username: "zed", Source: ldapbridge.SourceLDAP, Directory: "contractors", DN: "uid=zed,ou=People,dc=contractors", IsActive: true}
	if err := f.store.CreateUser(context.Background(), zed); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.mustLogin("alice", "alice-pw")
	all := a.get("/admin/users")
	all.wantBody(t, `<select id="f-directory" name="directory">`, `<option value="contractors">contractors</option>`, "directory contractors", "directory default")
	only := a.get("/admin/users?directory=contractors")
	only.wantBody(t, `/admin/users/zed`, `<option value="contractors" selected>contractors</option>`)
	if strings.Contains(only.body, `/admin/users/bob"`) {
		t.Error("the contractors filter lists bob, a default-directory account")
	}
	// An unknown directory is ignored rather than matching nobody.
	if !strings.Contains(a.get("/admin/users?directory=nope").body, `/admin/users/bob"`) {
		t.Error("an unknown directory filter hid the users")
	}

	one := newFixture(t, defaultWebConfig(), nil)
	b := one.client()
	b.mustLogin("alice", "alice-pw")
	if body := b.get("/admin/users").body; strings.Contains(body, "f-directory") || strings.Contains(body, "directory default") {
		t.Error("a single-directory deployment shows the directory filter or labels")
	}
}
