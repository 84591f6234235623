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
