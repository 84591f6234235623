package config

import (
	"strings"
	"testing"
)

// TestFollowReferralsIsRefusedWithTheFix: directory.follow_referrals
// followed nothing, so the key is gone; a file that sets it (to any
// value) is refused with an error naming the key and the fix.
func TestFollowReferralsIsRefusedWithTheFix(t *testing.T) {
	for _, v := range []string{"true", "false"} {
		y := strings.Replace(base, "directory:\n", "directory:\n  follow_referrals: "+v+"\n", 1)
		_, err := parse(t, y, "PW", "x")
		if err == nil {
			t.Fatalf("follow_referrals: %s was accepted", v)
		}
		var found bool
		for _, is := range issuesOf(t, err) {
			if is.Key == "directory.follow_referrals" && strings.Contains(is.Problem, "not supported") && strings.Contains(is.Fix, "remove the key") {
				found = true
			}
		}
		if !found {
			t.Errorf("follow_referrals: %s: error %v, want directory.follow_referrals: not supported — remove the key", v, err)
		}
	}
}

// TestSyncMembershipsNeedsSyncGroups: sync.groups: false turns membership
// sync off; setting sync.memberships: true explicitly with it is refused
// rather than silently ignored.
func TestSyncMembershipsNeedsSyncGroups(t *testing.T) {
	c := mustParse(t, base+"sync: {groups: false}\n", "PW", "x")
	if c.Sync.Groups || !c.Sync.Memberships {
		t.Errorf("sync.groups %v memberships %v, want false and the default true", c.Sync.Groups, c.Sync.Memberships)
	}
	mustParse(t, base+"sync: {groups: false, memberships: false}\n", "PW", "x")
	_, err := parse(t, base+"sync: {groups: false, memberships: true}\n", "PW", "x")
	if err == nil || !strings.Contains(err.Error(), "sync.memberships") || !strings.Contains(err.Error(), "sync.groups") {
		t.Errorf("groups: false with memberships: true: err %v, want an error naming sync.memberships and sync.groups", err)
	}
}
