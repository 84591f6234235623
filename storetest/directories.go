package storetest

import (
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// directoryTests pin down issue 14: an account belongs to one directory,
// its identity is (directory, stable id), and sync runs record theirs.
var directoryTests = []test{
	{"AccountsCarryTheirDirectoryDefaultWhenEmpty", testDirectoryRoundTrip},
	{"StableIDIsUniquePerDirectory", testStableIDPerDirectory},
	{"ListUsersFiltersByDirectory", testListUsersByDirectory},
	{"UpdateNeverMovesAnAccountBetweenDirectories", testUpdateKeepsDirectory},
	{"SyncStatesAndRunsCarryTheDirectory", testSyncDirectory},
	{"GroupsCarryTheirDirectoryAndNeverMergeAcrossDirectories", testGroupDirectories},
	{"SetUserGroupsWithinSeesTheGroupsDirectory", testGroupDirectoryWithin},
}

// testGroupDirectories: a directory group belongs to one directory
// (default when empty); its identity is (directory, stable id), and a DN
// or stable id another directory holds matches nothing there; a name is
// unique across every group, so another directory's group of that name, or
// a local group, is a conflict instead of a merge.
func testGroupDirectories(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	plain := &ldapbridge.Group{Name: "plain", DN: "cn=plain,dc=a", StableID: "g-plain"}
	must(t, s.UpsertGroup(ctx, plain), "upsert plain")
	if plain.Directory != ldapbridge.DefaultDirectory {
		t.Errorf("a group written without a directory has directory %q, want default", plain.Directory)
	}
	corp := &ldapbridge.Group{Name: "staff", DN: "cn=staff,ou=groups,dc=example", StableID: "same-uuid", Directory: "corp"}
	must(t, s.UpsertGroup(ctx, corp), "upsert corp staff")
	// The same DN and stable id in another directory, under its own name:
	// a second group, not an update of corp's.
	ext := &ldapbridge.Group{Name: "staff@contractors", DN: "cn=staff,ou=groups,dc=example", StableID: "same-uuid", Directory: "contractors"}
	must(t, s.UpsertGroup(ctx, ext), "upsert contractors staff")
	if ext.ID == corp.ID {
		t.Fatalf("two directories' groups with the same DN and stable id merged into group id %d", ext.ID)
	}
	got, err := s.Group(ctx, "staff")
	must(t, err, "read staff")
	if got.Directory != "corp" || got.ID != corp.ID {
		t.Errorf("staff = id %d directory %q, want id %d directory corp", got.ID, got.Directory, corp.ID)
	}
	got, err = s.Group(ctx, "staff@contractors")
	must(t, err, "read staff@contractors")
	if got.Directory != "contractors" {
		t.Errorf("staff@contractors has directory %q, want contractors", got.Directory)
	}
	// Re-upserting each (by stable id, then by DN) finds its own group.
	again := &ldapbridge.Group{Name: "staff@contractors", DN: "cn=staff,ou=groups,dc=example", StableID: "same-uuid", Directory: "contractors"}
	must(t, s.UpsertGroup(ctx, again), "re-upsert contractors staff")
	if again.ID != ext.ID {
		t.Errorf("re-upsert of contractors' staff matched id %d, want %d", again.ID, ext.ID)
	}
	byDN := &ldapbridge.Group{Name: "staff", DN: "CN=staff,ou=groups,dc=example", Directory: "corp"}
	must(t, s.UpsertGroup(ctx, byDN), "re-upsert corp staff by DN")
	if byDN.ID != corp.ID {
		t.Errorf("re-upsert of corp's staff by DN matched id %d, want %d", byDN.ID, corp.ID)
	}
	// A name another directory's group holds is a conflict, not a merge.
	clash := &ldapbridge.Group{Name: "staff", DN: "cn=staff,dc=other", StableID: "other-uuid", Directory: "contractors"}
	wantErr(t, s.UpsertGroup(ctx, clash), ldapbridge.ErrConflict, "UpsertGroup with a name another directory's group holds")
	// A local group keeps its name unique against every directory's group.
	local := &ldapbridge.Group{Name: "staff@contractors", Source: ldapbridge.SourceLocal}
	wantErr(t, s.UpsertGroup(ctx, local), ldapbridge.ErrConflict, "a local group with a directory group's name")
	list, err := s.ListGroups(ctx)
	must(t, err, "list groups")
	dirs := map[string]string{}
	for _, g := range list {
		dirs[g.Name] = g.Directory
	}
	if dirs["staff"] != "corp" || dirs["staff@contractors"] != "contractors" || dirs["plain"] != ldapbridge.DefaultDirectory || len(list) != 3 {
		t.Errorf("ListGroups directories = %v, want staff corp, staff@contractors contractors, plain default", dirs)
	}
}

// testGroupDirectoryWithin: SetUserGroupsWithin hands the owned callback
// each group's directory, so a login can leave another directory's groups
// alone.
func testGroupDirectoryWithin(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := newUser("bob")
	create(t, s, u)
	a := &ldapbridge.Group{Name: "staff", DN: "cn=staff,dc=a", Directory: "corp"}
	b := &ldapbridge.Group{Name: "staff@contractors", DN: "cn=staff,dc=a", Directory: "contractors"}
	must(t, s.UpsertGroup(ctx, a), "upsert a")
	must(t, s.UpsertGroup(ctx, b), "upsert b")
	must(t, s.SetUserGroups(ctx, u.ID, []int64{a.ID, b.ID}), "set groups")
	seen := map[string]string{}
	owned := func(g *ldapbridge.Group) bool {
		seen[g.Name] = g.Directory
		return g.Directory == "contractors"
	}
	must(t, s.SetUserGroupsWithin(ctx, u.ID, nil, owned), "set groups within contractors")
	if seen["staff"] != "corp" || seen["staff@contractors"] != "contractors" {
		t.Errorf("owned saw directories %v, want staff corp and staff@contractors contractors", seen)
	}
	got := get(t, s, "bob")
	if len(got.DirectGroups) != 1 || got.DirectGroups[0] != "staff" {
		t.Errorf("bob's direct groups = %v, want [staff]: only contractors' group is owned", got.DirectGroups)
	}
}

func testDirectoryRoundTrip(t *testing.T, s ldapbridge.Store) {
	create(t, s, newUser("plain"))
	if got := get(t, s, "plain"); got.Directory != ldapbridge.DefaultDirectory {
		t.Errorf("a user written without a directory reads back with %q, want %q", got.Directory, ldapbridge.DefaultDirectory)
	}
	u := newUser("ext")
	u.StableID, u.Directory = "uuid-ext", "contractors"
	create(t, s, u)
	for _, read := range []func() (*ldapbridge.User, error){
		func() (*ldapbridge.User, error) { return s.User(t.Context(), "ext") },
		func() (*ldapbridge.User, error) { return s.UserByID(t.Context(), u.ID) },
		func() (*ldapbridge.User, error) { return s.UserByStableID(t.Context(), "uuid-ext") },
	} {
		got, err := read()
		must(t, err, "read ext")
		if got.Directory != "contractors" {
			t.Errorf("directory = %q, want contractors", got.Directory)
		}
	}
}

func testStableIDPerDirectory(t *testing.T, s ldapbridge.Store) {
	a := newUser("alice")
	a.StableID, a.Directory = "same-uuid", "corp"
	create(t, s, a)
	b := newUser("alice2")
	b.StableID, b.Directory = "same-uuid", "contractors"
	create(t, s, b) // another directory: no conflict
	c := newUser("alice3")
	c.StableID, c.Directory = "same-uuid", "corp"
	wantErr(t, s.CreateUser(t.Context(), c), ldapbridge.ErrConflict, "CreateUser with a stable id taken in the same directory")
	// The username stays unique across directories.
	d := newUser("alice")
	d.StableID, d.Directory = "other-uuid", "contractors"
	wantErr(t, s.CreateUser(t.Context(), d), ldapbridge.ErrConflict, "CreateUser with a username another directory holds")
	// Updating b keeps its stable id although corp holds the same one.
	b.FirstName = "Changed"
	must(t, s.UpdateUser(t.Context(), b), "update alice2")
}

func testListUsersByDirectory(t *testing.T, s ldapbridge.Store) {
	for _, sp := range []struct{ name, dir string }{{"a1", "corp"}, {"a2", "corp"}, {"b1", "contractors"}, {"c1", ""}} {
		u := newUser(sp.name)
		u.StableID, u.Directory = "", sp.dir
		create(t, s, u)
	}
	names := func(q ldapbridge.UserQuery) []string {
		us, err := s.ListUsers(t.Context(), q)
		must(t, err, "ListUsers")
		out := []string{}
		for _, u := range us {
			out = append(out, u.Username+"@"+u.Directory)
		}
		return out
	}
	if got := names(ldapbridge.UserQuery{Directory: "corp"}); len(got) != 2 || got[0] != "a1@corp" || got[1] != "a2@corp" {
		t.Errorf("corp: %v", got)
	}
	if got := names(ldapbridge.UserQuery{Directory: ldapbridge.DefaultDirectory}); len(got) != 1 || got[0] != "c1@default" {
		t.Errorf("default: %v", got)
	}
	if got := names(ldapbridge.UserQuery{}); len(got) != 4 {
		t.Errorf("all: %v", got)
	}
}

func testUpdateKeepsDirectory(t *testing.T, s ldapbridge.Store) {
	u := newUser("mover")
	u.Directory = "corp"
	create(t, s, u)
	u.Directory = "contractors"
	must(t, s.UpdateUser(t.Context(), u), "update")
	if got := get(t, s, "mover"); got.Directory != "corp" {
		t.Errorf("after an update with another directory the account is in %q, want corp", got.Directory)
	}
}

func testSyncDirectory(t *testing.T, s ldapbridge.Store) {
	u := newUser("st")
	u.Directory = "contractors"
	create(t, s, u)
	create(t, s, newUser("st2"))
	var dirs []string
	must(t, s.SyncUserStates(t.Context(), func(st ldapbridge.SyncUserState) error {
		dirs = append(dirs, st.Directory)
		return nil
	}), "SyncUserStates")
	if len(dirs) != 2 || dirs[0] != "contractors" || dirs[1] != "" {
		t.Errorf("SyncUserStates directories = %v", dirs)
	}
	r1 := &ldapbridge.SyncRun{StartedAt: time.Now(), Mode: "full", Server: "ldap://a", Outcome: "ok", Directory: "contractors"}
	r2 := &ldapbridge.SyncRun{StartedAt: time.Now().Add(time.Second), Mode: "full", Server: "ldap://b", Outcome: "ok"}
	must(t, s.RecordSyncRun(t.Context(), r1), "record r1")
	must(t, s.RecordSyncRun(t.Context(), r2), "record r2")
	runs, err := s.SyncRuns(t.Context(), 0)
	must(t, err, "SyncRuns")
	if len(runs) != 2 || runs[0].Directory != ldapbridge.DefaultDirectory || runs[1].Directory != "contractors" {
		t.Errorf("runs: %+v", runs)
	}
}
