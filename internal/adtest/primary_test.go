package adtest

import (
	"context"
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
)

// aliceState is what a login or a sync leaves for alice: her flags and
// her direct memberships, by group name.
type aliceState struct {
	active, staff, super bool
	groups               []string
}

func stateOf(t *testing.T, e *env, name string) aliceState {
	t.Helper()
	u := storedUser(t, e, name)
	gs, err := e.store.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := map[int64]string{}
	for _, g := range gs {
		names[g.ID] = g.Name
	}
	ms, err := e.store.Memberships(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := aliceState{active: u.IsActive, staff: u.IsStaff, super: u.IsSuperuser}
	for _, m := range ms {
		if m.UserID == u.ID {
			st.groups = append(st.groups, names[m.GroupID])
		}
	}
	slices.Sort(st.groups)
	return st
}

// TestADPrimaryGroupSurvivesSync: alice's primary group is Staff (by
// primaryGroupID, so in neither her memberOf nor Staff's member), and Staff
// makes is_staff. A login finds it by objectSid; a full and an incremental
// sync must find it too (they read objectSid with the groups and
// primaryGroupID with the users, and join them locally), so nothing flips
// between login and sync, and a second run changes nothing.
func TestADPrimaryGroupSurvivesSync(t *testing.T) {
	dc := sambatest.Start(t)
	cfg := adConfig(t, dc, "active_directory")
	// An incremental run lists tombstones, which needs Administrator.
	cfg.Directory.BindDN, cfg.Directory.BindPassword = sambatest.AdminDN, config.Secret(sambatest.AdminPassword)
	e := newEnv(t, cfg)
	s := newSyncer(t, e)

	res := e.login(t, sambatest.AliceSAM, sambatest.AlicePassword)
	if !res.User.IsStaff || !slices.Contains(res.GroupNames, sambatest.StaffGroup) {
		t.Fatalf("login: alice staff=%v groups %v; want is_staff from her primary group Staff", res.User.IsStaff, res.GroupNames)
	}
	want := stateOf(t, e, sambatest.AliceSAM)
	if !want.staff || !slices.Contains(want.groups, sambatest.StaffGroup) {
		t.Fatalf("after login: %+v; want is_staff and a Staff membership", want)
	}
	check := func(step string) {
		t.Helper()
		if got := stateOf(t, e, sambatest.AliceSAM); !slices.Equal(got.groups, want.groups) || got.active != want.active ||
			got.staff != want.staff || got.super != want.super {
			t.Errorf("after %s: alice %+v; the login left %+v", step, got, want)
		}
	}

	runSync(t, s, dirsync.Full)
	check("a full sync")

	// An incremental run does not re-read alice (nothing of hers changed):
	// her primary group comes from the run's primary-group read.
	rep := runSync(t, s, dirsync.Incremental)
	if rep.Mode != dirsync.Incremental {
		t.Fatalf("mode %s (%s), want incremental", rep.Mode, rep.FallbackReason)
	}
	if rep.UsersUpdated+rep.MembershipsAdded+rep.MembershipsRemoved != 0 {
		t.Errorf("an incremental run after a full one changed something: updated %v, memberships +%v -%v",
			rep.Plan.Update, rep.Plan.MembershipsAdd, rep.Plan.MembershipsRemove)
	}
	check("an incremental sync")

	res = e.login(t, sambatest.AliceSAM, sambatest.AlicePassword)
	if !res.User.IsStaff {
		t.Errorf("second login: alice is not staff")
	}
	check("a second login")

	rep = runSync(t, s, dirsync.Full)
	if rep.UsersUpdated+rep.UsersCreated+rep.UsersDeactivated+rep.MembershipsAdded+rep.MembershipsRemoved != 0 {
		t.Errorf("a second full sync changed something: updated %v, created %d, deactivated %v, memberships +%v -%v",
			rep.Plan.Update, rep.UsersCreated, rep.Plan.Deactivate, rep.Plan.MembershipsAdd, rep.Plan.MembershipsRemove)
	}
	check("a second full sync")
}
