package auth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestLoginChangesOnlyMirroredMemberships is issue 11's disagreement 1: a
// login replaces the user's memberships only among the directory groups
// groups.mirror covers (django-auth-ldap's MIRROR_GROUPS and
// MIRROR_GROUPS_EXCEPT). A local group and a stored directory group the
// mirror leaves out keep the user, in every mirror mode.
func TestLoginChangesOnlyMirroredMemberships(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ctx := context.Background()
	for _, tt := range []struct {
		mirror config.Mirror
		// legacy is a stored directory group the directory no longer has;
		// the login owns its memberships only when the mirror covers it.
		legacyKept bool
		want       string
	}{
		{config.Mirror{Mode: "all"}, false, "[Django App active editors engineering staff]"},
		{config.Mirror{Mode: "only", Names: []string{"staff", "engineering"}}, true, "[editors engineering legacy staff]"},
		{config.Mirror{Mode: "except", Names: []string{"active", "legacy"}}, true, "[Django App editors engineering legacy staff]"},
		{config.Mirror{Mode: "none"}, true, "[editors legacy]"},
	} {
		t.Run(tt.mirror.Mode, func(t *testing.T) {
			cfg := tutorialConfig(t, s.URL)
			cfg.Groups.Mirror = tt.mirror
			e := newEnv(t, cfg)
			e.mustLogin(t, "bob", slapdtest.JCBobPassword)
			bob := e.stored(t, "bob")
			editors := &ldapbridge.Group{Name: "editors", Source: ldapbridge.SourceLocal}
			legacy := &ldapbridge.Group{Name: "legacy", DN: "cn=legacy," + slapdtest.JCUsersDN}
			for _, g := range []*ldapbridge.Group{editors, legacy} {
				if err := e.store.UpsertGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.store.AddMemberships(ctx, []ldapbridge.Membership{{GroupID: editors.ID, UserID: bob.ID}, {GroupID: legacy.ID, UserID: bob.ID}}); err != nil {
				t.Fatal(err)
			}
			for _, round := range []string{"second login", "third login"} {
				res := e.mustLogin(t, "bob", slapdtest.JCBobPassword)
				u := e.stored(t, "bob")
				want := tt.want
				if !tt.legacyKept {
					want = strings.Replace(want, " legacy", "", 1)
				}
				if got := fmt.Sprint(u.DirectGroups); got != want {
					t.Errorf("%s: stored direct groups %s, want %s", round, got, want)
				}
				if got := fmt.Sprint(res.User.Groups); got != want {
					t.Errorf("%s: the login's user groups %s, want %s", round, got, want)
				}
				if fmt.Sprint(u.LocalGroups) != "[editors]" {
					t.Errorf("%s: local groups %v, want [editors]", round, u.LocalGroups)
				}
			}
		})
	}
}

// TestLoginDoesNotMergeADirectoryGroupIntoALocalOne: a local group named
// like a directory group stays local, and the login neither adds the user
// to it nor fails; it warns.
func TestLoginDoesNotMergeADirectoryGroupIntoALocalOne(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ctx := context.Background()
	e := newEnv(t, tutorialConfig(t, s.URL))
	local := &ldapbridge.Group{Name: "staff", Source: ldapbridge.SourceLocal}
	if err := e.store.UpsertGroup(ctx, local); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res := e.mustLogin(t, "bob", slapdtest.JCBobPassword)
		if !res.User.IsStaff {
			t.Errorf("bob lost is_staff: the flag comes from the directory group, whatever the store holds")
		}
		g, err := e.store.Group(ctx, "staff")
		if err != nil {
			t.Fatal(err)
		}
		if g.ID != local.ID || g.Source != ldapbridge.SourceLocal || g.DN != "" || g.StableID != "" || g.DirectMembers != 0 {
			t.Errorf("the local group staff after a login: %+v, want it local, without a dn and members", g)
		}
		if got := fmt.Sprint(e.stored(t, "bob").DirectGroups); got != "[Django App active engineering]" {
			t.Errorf("bob's direct groups %s", got)
		}
	}
	if !strings.Contains(e.logs.String(), "local group") {
		t.Errorf("no warning about the directory group hidden by a local one in the logs:\n%s", e.logs.String())
	}
}
