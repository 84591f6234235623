package dirsync_test

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestFullEveryChoosesTheMode: an automatic run is full after
// sync.full_every incremental runs, and every run is full with 0, as the
// reference says.
func TestFullEveryChoosesTheMode(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	for _, tc := range []struct {
		every int
		want  []dirsync.Mode
	}{
		{0, []dirsync.Mode{dirsync.Full, dirsync.Full, dirsync.Full}},
		{1, []dirsync.Mode{dirsync.Full, dirsync.Incremental, dirsync.Full, dirsync.Incremental}},
		{2, []dirsync.Mode{dirsync.Full, dirsync.Incremental, dirsync.Incremental, dirsync.Full}},
	} {
		e := newEnv(t, srv, "", envOpts{fullEvery: &tc.every})
		for i, want := range tc.want {
			if rep := e.run(dirsync.RunOptions{}); rep.Mode != want {
				t.Errorf("full_every %d: run %d is %s, want %s (fallback %q)", tc.every, i+1, rep.Mode, want, rep.FallbackReason)
			}
		}
	}
}

// TestRemovedGroupsKeepLeavesAGoneGroup: sync.removed_groups: keep leaves
// a group the directory no longer has; delete removes it.
func TestRemovedGroupsKeepLeavesAGoneGroup(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		deleted int
	}{{"keep", 0}, {"delete", 1}} {
		e := newEnv(t, nil, "", envOpts{removedGroups: tc.policy})
		e.run(dirsync.RunOptions{Mode: dirsync.Full})
		e.srv.Apply(t, deleteEntry(slapdtest.JCBackendGroupDN))
		rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
		groups, err := e.store.ListGroups(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		kept := false
		for _, g := range groups {
			kept = kept || g.Name == "backend"
		}
		if rep.GroupsDeleted != tc.deleted || kept != (tc.deleted == 0) {
			t.Errorf("removed_groups %s: %d groups deleted, backend kept %v; want %d deleted", tc.policy, rep.GroupsDeleted, kept, tc.deleted)
		}
	}
}

// TestStableIDAttributeIsTheIdentity: users.stable_id_attribute replaces
// the flavor's entryUUID as the identity a sync stores and matches by.
func TestStableIDAttributeIsTheIdentity(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{stableIDAttr: "employeeNumber"})
	e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if got := e.user(slapdtest.JCBobUID).StableID; got != "2" {
		t.Errorf("bob's stable id %q, want his employeeNumber 2", got)
	}
	e.srv.Apply(t, "dn: "+slapdtest.JCBobDN+"\nchangetype: modrdn\nnewrdn: uid=bob2\ndeleteoldrdn: 1\n\n")
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersCreated != 0 || rep.UsersUpdated != 1 || e.user("bob2").StableID != "2" {
		t.Errorf("after renaming bob: counts %v, want the same account renamed by its employeeNumber", counts(rep))
	}
}
