package dirsync_test

import (
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestSyncGroupsFalseStoresNoGroup: with sync.groups: false a sync stores,
// updates and deletes no group and writes no membership (sync.memberships
// has nothing to link), while flags still come from the directory groups;
// a login still mirrors its groups per groups.mirror, and the next sync
// leaves them and their memberships alone (issue 11, item 6).
func TestSyncGroupsFalseStoresNoGroup(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{noGroupSync: true})
	ctx := t.Context()
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersCreated != fixtureUsers || rep.GroupsCreated != 0 || rep.MembershipsAdded != 0 {
		t.Errorf("first run: counts %v, want %d users and no group or membership", counts(rep), fixtureUsers)
	}
	groups, err := e.store.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Errorf("the store holds %d groups after a sync with sync.groups: false, want 0", len(groups))
	}
	if bob := e.user(slapdtest.JCBobUID); !bob.IsStaff || len(bob.DirectGroups) != 0 {
		t.Errorf("bob: staff %v direct groups %v; want the staff flag from the directory and no stored group", bob.IsStaff, bob.DirectGroups)
	}

	// A login mirrors bob's groups; syncs leave them as they are.
	if res, err := e.auth.Authenticate(ctx, slapdtest.JCBobUID, slapdtest.JCBobPassword); err != nil || res.Outcome != auth.OK {
		t.Fatalf("bob's login: %v %+v", err, res)
	}
	mirrored := e.user(slapdtest.JCBobUID).DirectGroups
	if !slices.Contains(mirrored, "staff") {
		t.Fatalf("bob's login mirrored %v, want staff among them (groups.mirror: all)", mirrored)
	}
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCBobDN+"\n")
	rep = e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.GroupsCreated != 0 || rep.GroupsUpdated != 0 || rep.GroupsDeleted != 0 || rep.MembershipsAdded != 0 || rep.MembershipsRemoved != 0 {
		t.Errorf("run after the login: counts %v, want no group or membership change", counts(rep))
	}
	bob := e.user(slapdtest.JCBobUID)
	if bob.IsStaff || !slices.Equal(bob.DirectGroups, mirrored) {
		t.Errorf("bob after the sync: staff %v direct groups %v; want the flag cleared from the directory and the login's groups %v kept", bob.IsStaff, bob.DirectGroups, mirrored)
	}
}

// TestSyncMembershipsFalseStoresGroupsButNoMembership: with
// sync.memberships: false a sync stores the groups but writes no
// membership, and leaves the memberships a login wrote.
func TestSyncMembershipsFalseStoresGroupsButNoMembership(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{noMembershipSync: true})
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.GroupsCreated != 7 || rep.MembershipsAdded != 0 {
		t.Errorf("first run: counts %v, want 7 groups and no membership", counts(rep))
	}
	if bob := e.user(slapdtest.JCBobUID); len(bob.DirectGroups) != 0 || !bob.IsStaff {
		t.Errorf("bob: direct groups %v staff %v, want none and the staff flag", bob.DirectGroups, bob.IsStaff)
	}
	if res, err := e.auth.Authenticate(t.Context(), slapdtest.JCBobUID, slapdtest.JCBobPassword); err != nil || res.Outcome != auth.OK {
		t.Fatalf("bob's login: %v %+v", err, res)
	}
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCBobDN+"\n")
	rep = e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.MembershipsAdded != 0 || rep.MembershipsRemoved != 0 || !slices.Contains(e.user(slapdtest.JCBobUID).DirectGroups, "staff") {
		t.Errorf("run after the login: counts %v, bob's groups %v; want no membership change", counts(rep), e.user(slapdtest.JCBobUID).DirectGroups)
	}
}
