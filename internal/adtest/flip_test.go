package adtest

import (
	"context"
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/flipcheck"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
)

// TestIdempotentLoginAndSyncAD is issue 11's property on the Samba DC: for
// every fixture user, login → sync --full → login → sync --incremental (the
// uSNChanged source) leaves the stored record, flags, groups and verdict as
// they were after each step, and a second run of each step changes nothing.
// Alice's Staff membership and is_staff come only from her primaryGroupID
// (a login finds it by objectSid, a sync by joining primaryGroupID with the
// groups' SIDs; an incremental run reads it for users it does not re-read),
// every other user's from Domain Users the same way; nina is admitted and
// superuser only through Level3 ⊂ Level2 ⊂ Level1; dora is disabled.
func TestIdempotentLoginAndSyncAD(t *testing.T) {
	dc := sambatest.Start(t)
	cfg := adConfig(t, dc, "active_directory")
	// An incremental run lists tombstones, which needs Administrator.
	cfg.Directory.BindDN, cfg.Directory.BindPassword = sambatest.AdminDN, config.Secret(sambatest.AdminPassword)
	cfg.Access.Flags["is_superuser"] = ldapbridge.GroupQuery{DN: sambatest.GroupDN(sambatest.Level2Group)}
	cfg.Access.Flags["in_app"] = ldapbridge.GroupQuery{DN: sambatest.GroupDN(sambatest.AppGroup)}
	cfg.Access.Deny = ldapbridge.GroupQuery{DN: "CN=Domain Guests,CN=Users," + sambatest.BaseDN}
	e := newEnv(t, cfg)
	s := newSyncer(t, e)

	// Correct passwords only: a wrong one counts towards the lockout.
	var logins []flipcheck.Login
	var expect []string
	for _, l := range []flipcheck.Login{
		{Name: sambatest.ServiceSAM, Password: sambatest.ServicePassword},
		{Name: sambatest.AliceSAM, Password: sambatest.AlicePassword},
		{Name: sambatest.NinaSAM, Password: sambatest.NinaPassword},
		{Name: sambatest.DoraSAM, Password: sambatest.DoraPassword},
		{Name: sambatest.EdSAM, Password: sambatest.EdPassword},
		{Name: sambatest.MonaSAM, Password: sambatest.MonaPassword},
		{Name: sambatest.LarrySAM, Password: sambatest.LarryPassword},
		{Name: sambatest.HankSAM, Password: sambatest.HankPassword},
		{Name: sambatest.JoseSAM, Password: sambatest.JosePassword},
	} {
		logins = append(logins, l)
		expect = append(expect, l.Name)
	}
	expect = append(expect, sambatest.BulkUserSAM(0), sambatest.BulkUserSAM(sambatest.BigMembers-1))
	want := map[string][]string{
		sambatest.ServiceSAM: {ldapbridge.VerdictRequireGroup},
		sambatest.AliceSAM:   {ldapbridge.VerdictOK, "is_active", "is_staff", "in_app"},
		sambatest.NinaSAM:    {ldapbridge.VerdictOK, "is_active", "is_superuser"},
		sambatest.DoraSAM:    {ldapbridge.VerdictInactive, "in_app"},
		sambatest.JoseSAM:    {ldapbridge.VerdictOK, "is_active", "in_app"},
	}
	check := func(t *testing.T, step string, snap flipcheck.Snapshot) {
		t.Helper()
		for name, w := range want {
			u, ok := snap.Users[name]
			if !ok {
				continue
			}
			if got := u.EffectiveVerdict(); got != w[0] {
				t.Errorf("%s: %s's verdict is %q (%q), want %q", step, name, got, u.VerdictReason, w[0])
			}
			flags := map[string]bool{"is_active": u.IsActive, "is_staff": u.IsStaff, "is_superuser": u.IsSuperuser}
			for k, v := range u.Flags {
				flags[k] = v
			}
			for _, f := range w[1:] {
				if !flags[f] {
					t.Errorf("%s: %s's flag %s is not set (flags %v)", step, name, f, flags)
				}
			}
		}
		// Staff is alice's primary group: in neither her memberOf nor
		// Staff's member, so only the primaryGroupID join puts it here.
		if a, ok := snap.Users[sambatest.AliceSAM]; ok && !slices.Contains(a.DirectGroups, sambatest.StaffGroup) {
			t.Errorf("%s: alice's direct groups %v lack her primary group %s", step, a.DirectGroups, sambatest.StaffGroup)
		}
		if n, ok := snap.Users[sambatest.NinaSAM]; ok && !slices.Contains(n.DirectGroups, "Domain Users") {
			t.Errorf("%s: nina's direct groups %v lack her primary group Domain Users", step, n.DirectGroups)
		}
	}
	flipcheck.Run(t, flipcheck.Harness{
		Store:  e.store,
		Logins: logins,
		Login: func(ctx context.Context, name, pw string) (string, error) {
			res, err := e.a.Authenticate(ctx, name, pw)
			if err != nil {
				return "", err
			}
			return string(res.Outcome), nil
		},
		Sync: func(ctx context.Context, mode dirsync.Mode) (*dirsync.Report, error) {
			return s.Run(ctx, dirsync.RunOptions{Mode: mode})
		},
		Expect: expect,
		Check:  check,
	})
}
