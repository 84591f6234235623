package adtest

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
)

var guidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestAutoDetectedFlavorAppliesADDefaults(t *testing.T) {
	dc := sambatest.Start(t)
	cfg := adConfig(t, dc, "auto")
	e := newEnv(t, cfg)
	if cfg.Directory.Flavor != ldapbridge.FlavorActiveDirectory {
		t.Fatalf("detected flavor %q, want active_directory", cfg.Directory.Flavor)
	}
	if cfg.Users.UsernameAttribute != "sAMAccountName" || cfg.Users.StableIDAttribute != "objectGUID" ||
		cfg.Users.PhotoAttribute != "thumbnailPhoto" || cfg.Groups.Type != "active_directory" {
		t.Errorf("AD defaults not applied: %+v / group type %q", cfg.Users, cfg.Groups.Type)
	}
	res := e.login(t, sambatest.AliceSAM, sambatest.AlicePassword)
	if res.Outcome != auth.OK {
		t.Fatalf("alice: %s (%s) %v", res.Outcome, res.Reason, res.Err)
	}
	u := res.User
	if !guidForm.MatchString(u.StableID) {
		t.Errorf("stable id %q is not a canonical GUID", u.StableID)
	}
	if u.Username != "alice" || u.FirstName != "Alice" || u.LastName != "Liddell" || u.Email != sambatest.AliceMail ||
		u.Profile["title"] != sambatest.AliceTitle || !u.HasPhoto || !bytes.Equal(res.Entry.Raw("thumbnailPhoto")[0], sambatest.Photo()) {
		t.Errorf("mapped user %+v", u)
	}
}

func TestLoginSpellingsReachOneAccount(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	var first *auth.Result
	for _, name := range []string{"alice", "ALICE", sambatest.UPN("alice"), "LDAPBRIDGE\\alice", "ldapbridge\\Alice", "Alice@LDAPBRIDGE.TEST"} {
		t.Run(name, func(t *testing.T) {
			res := e.login(t, name, sambatest.AlicePassword)
			if res.Outcome != auth.OK || !res.Allowed {
				t.Fatalf("%s: %s (%s) %v", name, res.Outcome, res.Reason, res.Err)
			}
			if first == nil {
				first = res
			} else if res.User.ID != first.User.ID || res.Created {
				t.Errorf("%s reached account %d (created %v), want %d", name, res.User.ID, res.Created, first.User.ID)
			}
		})
	}
	// Windows answers a bind as a missing account with 525; Samba with 52e,
	// so that binds do not reveal who exists. Both are invalid credentials.
	err := e.dir.CheckPassword(context.Background(), "CN=nobody,"+sambatest.PeopleDN, "Whatever-1")
	if code, _, _ := ldapdir.ADSubCode(err); (code != "525" && code != "52e") || !errors.Is(err, ldapbridge.ErrInvalidCredentials) {
		t.Errorf("bind as a missing DN: code %q, err %v; want 525 or 52e and invalid credentials", code, err)
	}
	if res := e.login(t, sambatest.UPN("alice"), "wrong"); res.Outcome != auth.BadCredentials {
		t.Errorf("UPN with a wrong password: %s", res.Outcome)
	}
}

func TestNonASCIIUser(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	res := e.login(t, sambatest.JoseSAM, sambatest.JosePassword)
	if res.Outcome != auth.OK || res.User.Username != "josé" || res.User.FirstName != sambatest.JoseGivenName || res.User.LastName != sambatest.JoseSurname {
		t.Fatalf("josé: %s (%s) %+v", res.Outcome, res.Reason, res.User)
	}
}

// TestAccountStatesAreInactiveWithReasons proves the bind sub-codes: each
// refused account gets its outcome (inactive for disabled and logon hours;
// account_expired, must_change_password, account_locked), not
// authenticated, a reason that names the sub-code, and the error kind; a
// wrong password stays bad_credentials.
func TestAccountStatesAreInactiveWithReasons(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	tests := []struct {
		name, user, pw string
		outcome        auth.Outcome
		code           string
		kind           error
	}{
		{"disabled (533)", sambatest.DoraSAM, sambatest.DoraPassword, auth.Inactive, "533", ldapbridge.ErrAccountDisabled},
		{"account expired (701)", sambatest.EdSAM, sambatest.EdPassword, auth.AccountExpired, "701", ldapbridge.ErrAccountExpired},
		{"must change password (773)", sambatest.MonaSAM, sambatest.MonaPassword, auth.MustChangePassword, "773", ldapbridge.ErrMustChangePassword},
		{"locked out (775)", sambatest.LarrySAM, sambatest.LarryPassword, auth.AccountLocked, "775", ldapbridge.ErrAccountLocked},
		{"outside logon hours (530)", sambatest.HankSAM, sambatest.HankPassword, auth.Inactive, "530", ldapbridge.ErrNotPermitted},
		{"wrong password (52e)", sambatest.JoseSAM, "Not-Her-Password-1", auth.BadCredentials, "52e", ldapbridge.ErrInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.login(t, tc.user, tc.pw)
			if res.Outcome != tc.outcome || res.Authenticated || res.Allowed {
				t.Errorf("outcome %s authenticated=%v allowed=%v (%s), want %s", res.Outcome, res.Authenticated, res.Allowed, res.Reason, tc.outcome)
			}
			err := e.dir.CheckPassword(context.Background(), sambatest.UserDN(tc.user), tc.pw)
			code, reason, ok := ldapdir.ADSubCode(err)
			if !ok || code != tc.code || !errors.Is(err, tc.kind) {
				t.Errorf("CheckPassword: code %q (%s) ok=%v kind %v, want %s / %v; err %v", code, reason, ok, errors.Is(err, tc.kind), tc.code, tc.kind, err)
			}
			if tc.outcome != auth.BadCredentials && !bytes.Contains([]byte(res.Reason), []byte(tc.code)) {
				t.Errorf("reason %q does not name the sub-code %s", res.Reason, tc.code)
			}
		})
	}
}

// TestDisabledFlagMakesInactive reads userAccountControl: a disabled user
// mapped without a bind (Populate) is stored inactive.
func TestDisabledFlagMakesInactive(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	res, err := e.a.Populate(context.Background(), sambatest.DoraSAM)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != auth.Inactive || res.User == nil || res.User.IsActive {
		t.Fatalf("dora: %s (%s) user %+v, want inactive", res.Outcome, res.Reason, res.User)
	}
	res, err = e.a.Populate(context.Background(), sambatest.AliceSAM)
	if err != nil || res.Outcome != auth.OK || !res.User.IsActive {
		t.Fatalf("alice: %v %s", err, res.Outcome)
	}
}

func TestNestedAndPrimaryGroupsAtLogin(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	nina := e.login(t, sambatest.NinaSAM, sambatest.NinaPassword)
	if nina.Outcome != auth.OK {
		t.Fatalf("nina: %s (%s) %v", nina.Outcome, nina.Reason, nina.Err)
	}
	for _, g := range []string{sambatest.Level1Group, sambatest.Level2Group, sambatest.Level3Group, "Domain Users"} {
		if !slices.Contains(nina.GroupNames, g) {
			t.Errorf("nina's groups %v lack %s", nina.GroupNames, g)
		}
	}
	alice := e.login(t, sambatest.AliceSAM, sambatest.AlicePassword)
	if alice.Outcome != auth.OK || !slices.Contains(alice.GroupNames, sambatest.StaffGroup) || !alice.User.IsStaff {
		t.Errorf("alice (primary group Staff): %s groups %v staff=%v", alice.Outcome, alice.GroupNames, alice.User != nil && alice.User.IsStaff)
	}
	// Staff is in neither alice's memberOf nor Staff's member: only the
	// primary group lookup finds it.
	c := dc.Conn(t)
	sr, err := c.Search(ldap.NewSearchRequest(sambatest.UserDN(sambatest.AliceSAM), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"memberOf"}, nil))
	if err != nil || len(sr.Entries) != 1 {
		t.Fatalf("read alice: %v", err)
	}
	if slices.Contains(sr.Entries[0].GetAttributeValues("memberOf"), sambatest.GroupDN(sambatest.StaffGroup)) {
		t.Errorf("the fixture is wrong: Staff is in alice's memberOf")
	}
}
