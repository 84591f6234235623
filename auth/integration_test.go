package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

func TestJumpCloudLogins(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})

	t.Run("tutorial config logs alice in with her first mail", func(t *testing.T) { jcTutorialConfigLogsAliceIn(t, s) })
	t.Run("refusals", func(t *testing.T) { jcRefusals(t, s) })
	t.Run("deny contractors", func(t *testing.T) { jcDenyContractors(t, s) })
	t.Run("each flag", func(t *testing.T) { jcEachFlag(t, s) })
	t.Run("username spellings reach one account", func(t *testing.T) { jcUsernameSpellingsReachOneAccount(t, s) })
	t.Run("nested groups", func(t *testing.T) { jcNestedGroups(t, s) })
	t.Run("mirror", func(t *testing.T) { jcMirror(t, s) })
	t.Run("direct bind with dn_template", func(t *testing.T) { jcDirectBindWithDntemplate(t, s) })
	t.Run("bind as user", func(t *testing.T) { jcBindAsUser(t, s) })
	t.Run("photo and profile", func(t *testing.T) { jcPhotoAndProfile(t, s) })
	t.Run("second org's alice is not confused", func(t *testing.T) { jcSecondOrgsAliceIsNot(t, s) })
	t.Run("no new users and always_update", func(t *testing.T) { jcNoNewUsersAndAlwaysupdate(t, s) })
	t.Run("explain", func(t *testing.T) { jcExplain(t, s) })
	t.Run("populate", func(t *testing.T) { jcPopulate(t, s) })
	t.Run("warm cache costs at most one operation", func(t *testing.T) { jcWarmCacheCostsAtMost(t, s) })
}

// jcTutorialConfigLogsAliceIn checks: tutorial config logs alice in with her first mail.
func jcTutorialConfigLogsAliceIn(t *testing.T, s *slapdtest.Server) {
	e := newEnv(t, tutorialConfig(t, s.URL))
	res := e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	if !res.Created || res.DN != slapdtest.JCAliceDN {
		t.Errorf("created=%v dn=%q", res.Created, res.DN)
	}
	if fmt.Sprint(res.GroupNames) != "[Django App active]" {
		t.Errorf("group names %v", res.GroupNames)
	}
	u := e.stored(t, "alice")
	if u.FirstName != "Alice" || u.LastName != "Liddell" || u.Email != slapdtest.JCAliceMail {
		t.Errorf("stored %q %q %q, want Alice Liddell %s", u.FirstName, u.LastName, u.Email, slapdtest.JCAliceMail)
	}
	if !u.IsActive || u.IsStaff || u.IsSuperuser || u.Source != ldapbridge.SourceLDAP || u.PasswordHash != "" || u.StableID == "" {
		t.Errorf("stored flags/source %+v", u)
	}
	if u.LastLoginAt == nil || fmt.Sprint(u.Groups) != "[Django App active]" || fmt.Sprint(res.User.Groups) != "[Django App active]" {
		t.Errorf("last login %v groups %v / %v", u.LastLoginAt, u.Groups, res.User.Groups)
	}
	// The first login returns its new account without reading it back:
	// what it returns must be what SQLite stored.
	if got, want := *res.User, *u; !reflect.DeepEqual(got, want) {
		t.Errorf("first login's account differs from the stored one:\n got %+v\nstored %+v", got, want)
	}
	if !res.Entry.Has("entryUUID") || res.Entry.First("mail") != slapdtest.JCAliceMail {
		t.Errorf("entry %+v", res.Entry)
	}
	again := e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	if again.Created || again.User.ID != res.User.ID {
		t.Errorf("second login created=%v id=%d, want the same account %d", again.Created, again.User.ID, res.User.ID)
	}
}

// jcRefusals checks: refusals.
func jcRefusals(t *testing.T, s *slapdtest.Server) {
	e := newEnv(t, tutorialConfig(t, s.URL))
	tests := []struct {
		name, user, pw string
		want           auth.Outcome
	}{
		{"wrong password", "alice", "not-her-password", auth.BadCredentials},
		{"unknown user", "zoe", "whatever", auth.UserNotFound},
		{"star username", "*", slapdtest.JCAlicePassword, auth.UserNotFound},
		{"filter injection", "x)(uid=*", slapdtest.JCAlicePassword, auth.UserNotFound},
		{"outside the required group", "erin", slapdtest.JCErinPassword, auth.RequireGroup},
		{"in no group", "grace", slapdtest.JCGracePassword, auth.RequireGroup},
		{"empty password", "alice", "", auth.EmptyPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.login(t, tt.user, tt.pw)
			if res.Outcome != tt.want || res.Authenticated || res.Allowed {
				t.Errorf("got %s (%s), want %s, not authenticated", res.Outcome, res.Reason, tt.want)
			}
			if strings.Contains(res.Reason, " entries") {
				t.Errorf("reason %q: the name matched entries; it must match nothing", res.Reason)
			}
		})
	}
	if n := e.userCount(t); n != 0 {
		t.Errorf("refused logins stored %d users", n)
	}
	if !strings.Contains(e.logs.String(), "outcome=bad_credentials") {
		t.Errorf("refusals are not logged: %s", e.logs.String())
	}
}

// jcDenyContractors checks: deny contractors.
func jcDenyContractors(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Access.Deny = q(slapdtest.JCContractorsGroupDN)
	e := newEnv(t, cfg)
	if res := e.login(t, "mallory", slapdtest.JCMalloryPassword); res.Outcome != auth.DenyGroup {
		t.Errorf("mallory: %s (%s), want deny_group", res.Outcome, res.Reason)
	}
	e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
}

// jcEachFlag checks: each flag.
func jcEachFlag(t *testing.T, s *slapdtest.Server) {
	e := newEnv(t, tutorialConfig(t, s.URL))
	for _, tt := range []struct {
		user, pw     string
		staff, super bool
	}{
		{"bob", slapdtest.JCBobPassword, true, false},
		{"carol", slapdtest.JCCarolPassword, true, true},
		{"dave", slapdtest.JCDavePassword, false, false},
	} {
		res := e.mustLogin(t, tt.user, tt.pw)
		if res.User.IsStaff != tt.staff || res.User.IsSuperuser != tt.super || !res.User.IsActive {
			t.Errorf("%s: staff=%v super=%v active=%v", tt.user, res.User.IsStaff, res.User.IsSuperuser, res.User.IsActive)
		}
	}
	res := e.login(t, "frank", slapdtest.JCFrankPassword)
	if res.Outcome != auth.Inactive || !res.Authenticated || res.Allowed {
		t.Fatalf("frank: %s auth=%v allowed=%v, want inactive/true/false", res.Outcome, res.Authenticated, res.Allowed)
	}
	if u := e.stored(t, "frank"); u.IsActive || u.LastLoginAt != nil {
		t.Errorf("frank stored active=%v last login %v", u.IsActive, u.LastLoginAt)
	}
}

// jcUsernameSpellingsReachOneAccount checks: username spellings reach one account.
func jcUsernameSpellingsReachOneAccount(t *testing.T, s *slapdtest.Server) {
	e := newEnv(t, tutorialConfig(t, s.URL))
	first := e.mustLogin(t, "ALICE", slapdtest.JCAlicePassword)
	if first.User.Username != "alice" {
		t.Errorf("ALICE stored as %q", first.User.Username)
	}
	jose := e.mustLogin(t, "josé", slapdtest.JCJosePassword)
	for _, name := range []string{"JOSÉ", "jose\u0301", "José"} {
		res := e.mustLogin(t, name, slapdtest.JCJosePassword)
		if res.User.ID != jose.User.ID || res.User.Username != "josé" {
			t.Errorf("%q reached account %d %q, want %d josé", name, res.User.ID, res.User.Username, jose.User.ID)
		}
	}
	if n := e.userCount(t); n != 2 {
		t.Errorf("store holds %d users, want 2", n)
	}
}

// jcNestedGroups checks: nested groups.
func jcNestedGroups(t *testing.T, s *slapdtest.Server) {
	for _, nested := range []bool{false, true} {
		cfg := tutorialConfig(t, s.URL)
		cfg.Access.Require = ldapbridge.GroupQuery{}
		cfg.Access.Flags["engineer"] = q(slapdtest.JCEngineeringGroupDN)
		cfg.Groups.Nested = nested
		e := newEnv(t, cfg)
		res := e.login(t, "nina", slapdtest.JCNinaPassword)
		if res.Outcome != auth.Inactive { // nina is not in cn=active
			t.Fatalf("nina: %s %s", res.Outcome, res.Reason)
		}
		u := e.stored(t, "nina")
		if u.Flags["engineer"] != nested {
			t.Errorf("nested=%v: engineer flag %v", nested, u.Flags["engineer"])
		}
		wantGroups := map[bool]string{false: "[backend]", true: "[backend engineering]"}[nested]
		if fmt.Sprint(res.GroupNames) != wantGroups || fmt.Sprint(u.Groups) != wantGroups || fmt.Sprint(u.DirectGroups) != "[backend]" {
			t.Errorf("nested=%v: result %v, stored direct %v effective %v, want %s", nested, res.GroupNames, u.DirectGroups, u.Groups, wantGroups)
		}
	}
}

// jcMirror checks: mirror.
func jcMirror(t *testing.T, s *slapdtest.Server) {
	for _, tt := range []struct {
		mirror config.Mirror
		want   string
	}{
		{config.Mirror{Mode: "all"}, "[Django App active engineering staff]"},
		{config.Mirror{Mode: "only", Names: []string{"staff", "engineering"}}, "[engineering staff]"},
		{config.Mirror{Mode: "except", Names: []string{"active"}}, "[Django App engineering staff]"},
		{config.Mirror{Mode: "none"}, "[]"},
	} {
		cfg := tutorialConfig(t, s.URL)
		cfg.Groups.Mirror = tt.mirror
		e := newEnv(t, cfg)
		res := e.mustLogin(t, "bob", slapdtest.JCBobPassword)
		groups, err := e.store.ListGroups(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range groups {
			names = append(names, g.Name)
			if g.DN == "" || g.StableID == "" {
				t.Errorf("mirrored group %+v lacks DN or stable id", g)
			}
		}
		if got := fmt.Sprint(names); got != tt.want && !(tt.want == "[]" && names == nil) {
			t.Errorf("%s: stored groups %v, want %s", tt.mirror.Mode, names, tt.want)
		}
		if fmt.Sprint(res.User.Groups) != tt.want {
			t.Errorf("%s: user groups %v, want %s", tt.mirror.Mode, res.User.Groups, tt.want)
		}
		if len(res.GroupNames) != 4 {
			t.Errorf("%s: result groups %v, want all four directory groups", tt.mirror.Mode, res.GroupNames)
		}
	}
}

// jcDirectBindWithDntemplate checks: direct bind with dn_template.
func jcDirectBindWithDntemplate(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Users.Search = nil
	cfg.Users.DNTemplate = "uid={username}," + slapdtest.JCUsersDN
	e := newEnv(t, cfg)
	res := e.mustLogin(t, "Bob", slapdtest.JCBobPassword)
	if res.DN != slapdtest.JCBobDN || res.User.Username != "bob" || !res.User.IsStaff {
		t.Errorf("got dn %q user %+v", res.DN, res.User)
	}
	for _, name := range []string{"zoe", "*", "x)(uid=*", "bob,ou=Users"} {
		if res := e.login(t, name, slapdtest.JCBobPassword); res.Outcome != auth.UserNotFound {
			t.Errorf("%q: %s (%s), want user_not_found", name, res.Outcome, res.Reason)
		}
	}
	if res := e.login(t, "bob", "wrong"); res.Outcome != auth.BadCredentials {
		t.Errorf("wrong password: %s", res.Outcome)
	}
}

// jcBindAsUser checks: bind as user.
func jcBindAsUser(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Directory.BindAsUser = true
	cfg.Directory.BindDN = "uid={username}," + slapdtest.JCUsersDN
	cfg.Directory.BindPassword = ""
	e := newEnvDir(t, cfg, cfg.Directory)
	res := e.mustLogin(t, "carol", slapdtest.JCCarolPassword)
	if !res.User.IsSuperuser || res.DN != slapdtest.JCCarolDN {
		t.Errorf("carol %+v", res.User)
	}
	if res := e.login(t, "carol", "wrong-Carol-pw"); res.Outcome != auth.BadCredentials {
		t.Errorf("wrong password: %s", res.Outcome)
	}
	if st := e.dir.Stats(); st.Searches == 0 {
		t.Error("no search ran on the user's session")
	}
	if res := e.login(t, "zoe", "whatever"); res.Outcome != auth.BadCredentials {
		t.Errorf("unknown user binding as herself: %s, want bad_credentials", res.Outcome)
	}
}

// jcPhotoAndProfile checks: photo and profile.
func jcPhotoAndProfile(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Users.Profile = map[string]string{"emails": "mail", "title": "title"}
	cfg.Users.MultiValueSeparator = " / "
	e := newEnv(t, cfg)
	dave := e.mustLogin(t, "dave", slapdtest.JCDavePassword)
	photo, err := e.store.Photo(context.Background(), dave.User.ID)
	if err != nil || !bytes.Equal(photo, slapdtest.JCDavePhoto) || !dave.User.HasPhoto {
		t.Errorf("dave's photo: %d bytes, err %v, has=%v; want the fixture's %d bytes", len(photo), err, dave.User.HasPhoto, len(slapdtest.JCDavePhoto))
	}
	alice := e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	want := slapdtest.JCAliceMail + " / " + slapdtest.JCAliceMail2
	if u := e.stored(t, "alice"); u.Profile["emails"] != want || u.Profile["title"] != "Engineer" || u.HasPhoto {
		t.Errorf("alice profile %v has photo %v, want emails %q", u.Profile, u.HasPhoto, want)
	}
	_ = alice
}

// jcSecondOrgsAliceIsNot checks: second org's alice is not confused.
func jcSecondOrgsAliceIsNot(t *testing.T, s *slapdtest.Server) {
	e := newEnv(t, tutorialConfig(t, s.URL))
	if res := e.login(t, "alice", slapdtest.JCOtherAlicePassword); res.Outcome != auth.BadCredentials || res.DN != slapdtest.JCAliceDN {
		t.Errorf("other org's password: %s dn %q, want bad_credentials on %s", res.Outcome, res.DN, slapdtest.JCAliceDN)
	}
	res := e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	if res.DN != slapdtest.JCAliceDN || res.User.LastName != "Liddell" {
		t.Errorf("got %s %s", res.DN, res.User.LastName)
	}
}

// jcNoNewUsersAndAlwaysupdate checks: no new users and always_update.
func jcNoNewUsersAndAlwaysupdate(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Access.NoNewUsers = true
	e := newEnv(t, cfg)
	if res := e.login(t, "alice", slapdtest.JCAlicePassword); res.Outcome != auth.NoNewUsers || res.Authenticated {
		t.Fatalf("new user: %s, want no_new_users", res.Outcome)
	}
	if n := e.userCount(t); n != 0 {
		t.Fatalf("no_new_users stored %d users", n)
	}
	open := attach(t, tutorialConfig(t, s.URL), e.dir, e.store, e.logs)
	open.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	e.mustLogin(t, "alice", slapdtest.JCAlicePassword) // an existing account may log in

	ctx := context.Background()
	u := e.stored(t, "alice")
	u.FirstName = "Edited"
	if err := e.store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	cfgKeep := tutorialConfig(t, s.URL)
	cfgKeep.Access.AlwaysUpdate = false
	keep := attach(t, cfgKeep, e.dir, e.store, e.logs)
	before := time.Now().Add(-time.Second)
	res := keep.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	if res.User.FirstName != "Edited" || res.User.LastLoginAt == nil || res.User.LastLoginAt.Before(before) {
		t.Errorf("always_update false: first name %q last login %v, want Edited and a fresh login", res.User.FirstName, res.User.LastLoginAt)
	}
	if res := open.mustLogin(t, "alice", slapdtest.JCAlicePassword); res.User.FirstName != "Alice" {
		t.Errorf("always_update true: first name %q, want Alice", res.User.FirstName)
	}
}

// jcExplain checks: explain.
func jcExplain(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Access.Deny = q(slapdtest.JCContractorsGroupDN)
	e := newEnv(t, cfg)
	ex, err := e.a.Explain(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Found || ex.DN != slapdtest.JCBobDN || ex.StableID == "" || ex.Outcome != auth.OK {
		t.Fatalf("got %+v", ex)
	}
	if ex.Require == nil || !ex.Require.Verdict || ex.Deny == nil || ex.Deny.Verdict {
		t.Errorf("require %+v deny %+v", ex.Require, ex.Deny)
	}
	if !ex.Flags["is_staff"] || ex.Flags["is_superuser"] || !ex.Flags["is_active"] {
		t.Errorf("flags %v", ex.Flags)
	}
	if len(ex.Queries) < 2 || ex.Queries[0].BaseDN != slapdtest.JCUsersDN || ex.Queries[0].Entries != 1 || ex.Queries[0].Filter != "(uid=bob)" {
		t.Errorf("queries %+v", ex.Queries)
	}
	groupEntries := 0
	for _, qq := range ex.Queries[1:] {
		groupEntries += qq.Entries
	}
	if groupEntries != 4 {
		t.Errorf("group queries found %d entries, want 4: %+v", groupEntries, ex.Queries)
	}
	if ex.User == nil || ex.User.Username != "bob" || !ex.User.IsStaff || ex.User.ID != 0 {
		t.Errorf("user %+v", ex.User)
	}
	if ex.Attributes["givenName"][0] != "Bob" {
		t.Errorf("attributes %v", ex.Attributes)
	}
	if n := e.userCount(t); n != 0 {
		t.Errorf("Explain stored %d users", n)
	}
	if st := e.dir.Stats(); st.Binds > 1 { // the service account's bind only
		t.Errorf("Explain made %d binds, want only the service bind", st.Binds)
	}
	ex, err = e.a.Explain(context.Background(), "mallory")
	if err != nil || !ex.Deny.Verdict || ex.Outcome != auth.DenyGroup {
		t.Errorf("mallory: %+v %v", ex, err)
	}
	ex, err = e.a.Explain(context.Background(), "nobody")
	if err != nil || ex.Found || ex.Outcome != auth.UserNotFound || len(ex.Queries) != 1 || ex.Queries[0].Entries != 0 {
		t.Errorf("nobody: %+v %v", ex, err)
	}
}

// jcPopulate checks: populate.
func jcPopulate(t *testing.T, s *slapdtest.Server) {
	e := newEnv(t, tutorialConfig(t, s.URL))
	res, err := e.a.Populate(context.Background(), "carol")
	if err != nil || res.Outcome != auth.OK || !res.Created {
		t.Fatalf("got %+v %v", res, err)
	}
	u := e.stored(t, "carol")
	if !u.IsSuperuser || u.LastLoginAt != nil || fmt.Sprint(u.Groups) != "[Django App active staff superuser]" {
		t.Errorf("stored %+v", u)
	}
	if res, _ := e.a.Populate(context.Background(), "erin"); res.Outcome != auth.RequireGroup {
		t.Errorf("erin: %s", res.Outcome)
	}
}

// jcWarmCacheCostsAtMost checks: warm cache costs at most one operation.
func jcWarmCacheCostsAtMost(t *testing.T, s *slapdtest.Server) {
	cfg := tutorialConfig(t, s.URL)
	cfg.Access.CacheTTL = config.Duration(time.Minute)
	e := newEnv(t, cfg)
	ops := func() int64 { st := e.dir.Stats(); return st.Binds + st.Searches }
	e.mustLogin(t, "carol", slapdtest.JCCarolPassword) // dials and binds the pools
	before := ops()
	e.mustLogin(t, "bob", slapdtest.JCBobPassword)
	if got := ops() - before; got > 3 {
		t.Errorf("cold login cost %d binds+searches, want at most 3 (user search, bind, groups)", got)
	}
	before = ops()
	e.mustLogin(t, "bob", slapdtest.JCBobPassword)
	if got := ops() - before; got > 1 {
		t.Errorf("warm login cost %d binds+searches, want at most 1", got)
	}
	if res := e.login(t, "bob", "wrong"); res.Outcome != auth.BadCredentials {
		t.Errorf("warm cache, wrong password: %s", res.Outcome)
	}
}
