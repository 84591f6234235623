package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/membership"
)

const (
	peopleDN      = "ou=people,dc=example,dc=com"
	appDN         = "cn=app,ou=groups,dc=example,dc=com"
	staffDN       = "cn=staff,ou=groups,dc=example,dc=com"
	adminsDN      = "cn=admins,ou=groups,dc=example,dc=com"
	contractorsDN = "cn=contractors,ou=groups,dc=example,dc=com"
)

func dn(uid string) string { return "uid=" + uid + "," + peopleDN }

func group(dn string, direct bool, parents ...string) membership.Group {
	return membership.Group{DN: dn, Name: strings.TrimPrefix(strings.Split(dn, ",")[0], "cn="), StableID: "sid-" + dn, Direct: direct, MemberOfDNs: parents}
}

func unitConfig() *config.Config {
	return &config.Config{
		Directory: config.Directory{Flavor: ldapbridge.FlavorOpenLDAP},
		Users: config.Users{
			Search:            config.Searches{{BaseDN: peopleDN, Scope: "sub", Filter: "(&(objectClass=inetOrgPerson)(uid={username}))"}},
			UsernameAttribute: "uid",
			UsernameCase:      "lower",
			Attributes:        map[string]string{"first_name": "givenName", "last_name": "sn", "email": "mail"},
			Profile:           map[string]string{"phone": "mobile"},
			PhotoAttribute:    "jpegPhoto",
		},
		Groups: config.Groups{Mirror: config.Mirror{Mode: "all"}},
		Access: config.Access{AlwaysUpdate: true, Require: ldapbridge.GroupQuery{DN: appDN}},
	}
}

type unit struct {
	a      *Authenticator
	dir    *fakeDir
	store  *memStore
	groups *fakeGroups
}

// newUnit builds an Authenticator over fakes holding jdoe (in app and
// staff) and josé (in app).
func newUnit(t *testing.T, mut func(*config.Config)) *unit {
	t.Helper()
	cfg := unitConfig()
	if mut != nil {
		mut(cfg)
	}
	u := &unit{
		dir: &fakeDir{
			entries: []*ldapbridge.Entry{
				ldapbridge.NewEntry(dn("jdoe"), map[string][]string{"uid": {"jdoe"}, "givenName": {"John"}, "sn": {"Doe"},
					"mail": {"jdoe@example.com", "john@example.com"}, "mobile": {"+1 555", "+1 666"}, "entryUUID": {"uuid-jdoe"}}),
				ldapbridge.NewEntry(dn("josé"), map[string][]string{"uid": {"josé"}, "entryUUID": {"uuid-jose"}}),
			},
			passwords: map[string]string{normDN(dn("jdoe")): "secret", normDN(dn("josé")): "pässword"},
		},
		store: newMemStore(),
		groups: &fakeGroups{byUser: map[string][]membership.Group{
			normDN(dn("jdoe")): {group(appDN, true), group(staffDN, true, appDN)},
			normDN(dn("josé")): {group(appDN, true)},
		}},
	}
	a, err := New(cfg, u.dir, u.store, Options{Groups: u.groups})
	if err != nil {
		t.Fatal(err)
	}
	u.a = a
	return u
}

func (u *unit) login(t *testing.T, name, pw string) *Result {
	t.Helper()
	res, err := u.a.Authenticate(context.Background(), name, pw)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", name, err)
	}
	return res
}

func TestEmptyPasswordMakesNoDirectoryOrStoreCall(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	res := u.login(t, "jdoe", "")
	if res.Outcome != EmptyPassword || res.Authenticated || res.Allowed {
		t.Fatalf("got %+v, want empty_password and not authenticated", res)
	}
	if n := u.dir.ncalls(); n != 0 {
		t.Errorf("directory calls = %d (%v), want 0", n, u.dir.calls)
	}
	if u.store.calls != 0 {
		t.Errorf("store calls = %d, want 0", u.store.calls)
	}
	if res.GroupDNs == nil || res.GroupNames == nil {
		t.Error("group lists are nil, want empty")
	}
}

func TestUsernameSpellingsReachOneAccount(t *testing.T) {
	u := newUnit(t, nil)
	var ids []int64
	for _, name := range []string{"josé", "JOSÉ", "jose\u0301", "JOSE\u0301"} {
		res := u.login(t, name, "pässword")
		if res.Outcome != OK {
			t.Fatalf("login %q: %s (%s)", name, res.Outcome, res.Reason)
		}
		if res.User.Username != "josé" {
			t.Errorf("login %q stored username %q, want josé", name, res.User.Username)
		}
		ids = append(ids, res.User.ID)
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("account ids %v, want one account", ids)
		}
	}
	if len(u.store.users) != 1 {
		t.Errorf("store holds %d users, want 1", len(u.store.users))
	}
	// The directory is searched with the name as typed (NFC), not lowercased.
	last := u.dir.searches[len(u.dir.searches)-2].Filter
	if !strings.Contains(last, `(uid=JOS\c3\89)`) {
		t.Errorf("search filter %q does not carry the typed NFC name JOSÉ escaped", last)
	}
}

func TestUsernameCasePreserveKeepsDirectorySpelling(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Users.UsernameCase = "preserve" })
	u.dir.entries[0].Set("uid", "JDoe")
	res := u.login(t, "jdoe", "secret")
	if res.Outcome != OK || res.User.Username != "JDoe" {
		t.Fatalf("got %s username %v, want ok JDoe", res.Outcome, res.User)
	}
}

func TestHooksRenameBothWays(t *testing.T) {
	cfg := unitConfig()
	u := newUnit(t, nil)
	a, err := New(cfg, u.dir, u.store, Options{Groups: u.groups, Hooks: Hooks{
		ToDirectory: func(s string) string { return strings.TrimSuffix(s, "@corp") },
		ToLocal:     func(s string) string { return s + ".x" },
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Authenticate(context.Background(), "jdoe@corp", "secret")
	if err != nil || res.Outcome != OK {
		t.Fatalf("got %v %v", res, err)
	}
	if res.User.Username != "jdoe.x" {
		t.Errorf("username %q, want jdoe.x", res.User.Username)
	}
}

func TestMirrorSelectsGroups(t *testing.T) {
	tests := []struct {
		name       string
		mirror     config.Mirror
		wantStore  []string
		wantDirect []string
		wantGroups []string
	}{
		{"all", config.Mirror{Mode: "all"}, []string{"app", "staff"}, []string{"app", "staff"}, []string{"app", "staff"}},
		{"only", config.Mirror{Mode: "only", Names: []string{"staff"}}, []string{"staff"}, []string{"staff"}, []string{"staff"}},
		{"except", config.Mirror{Mode: "except", Names: []string{"staff"}}, []string{"app"}, []string{"app"}, []string{"app"}},
		{"none", config.Mirror{Mode: "none"}, nil, []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, func(c *config.Config) { c.Groups.Mirror = tt.mirror })
			res := u.login(t, "jdoe", "secret")
			if res.Outcome != OK {
				t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
			}
			if got := u.store.groupNames(); fmt.Sprint(got) != fmt.Sprint(tt.wantStore) {
				t.Errorf("stored groups %v, want %v", got, tt.wantStore)
			}
			if fmt.Sprint(res.User.DirectGroups) != fmt.Sprint(tt.wantDirect) || fmt.Sprint(res.User.Groups) != fmt.Sprint(tt.wantGroups) {
				t.Errorf("user direct %v groups %v, want %v %v", res.User.DirectGroups, res.User.Groups, tt.wantDirect, tt.wantGroups)
			}
			if fmt.Sprint(res.GroupNames) != "[app staff]" {
				t.Errorf("result group names %v, want every directory group", res.GroupNames)
			}
		})
	}
}

func TestNestedMirrorStoresGroupEdges(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Groups.Nested = true })
	u.groups.byUser[normDN(dn("jdoe"))] = []membership.Group{group(staffDN, true, appDN), group(appDN, false)}
	res := u.login(t, "jdoe", "secret")
	if res.Outcome != OK {
		t.Fatalf("%s %s", res.Outcome, res.Reason)
	}
	if fmt.Sprint(res.User.DirectGroups) != "[staff]" || fmt.Sprint(res.User.Groups) != "[app staff]" {
		t.Errorf("direct %v effective %v, want [staff] and [app staff]", res.User.DirectGroups, res.User.Groups)
	}
}

func TestBindErrorsBecomeOutcomes(t *testing.T) {
	tests := []struct {
		err     error
		outcome Outcome
	}{
		{fmt.Errorf("LDAP 49: %w", ldapbridge.ErrInvalidCredentials), BadCredentials},
		{fmt.Errorf("data 533: %w", ldapbridge.ErrAccountDisabled), Inactive},
		{fmt.Errorf("data 775: %w", ldapbridge.ErrAccountLocked), AccountLocked},
		{fmt.Errorf("data 701: %w", ldapbridge.ErrAccountExpired), AccountExpired},
		{fmt.Errorf("data 532: %w", ldapbridge.ErrPasswordExpired), PasswordExpired},
		{fmt.Errorf("data 773: %w", ldapbridge.ErrMustChangePassword), MustChangePassword},
		{fmt.Errorf("data 530: %w", ldapbridge.ErrNotPermitted), Inactive},
		{errDown, LDAPError},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			u := newUnit(t, nil)
			u.dir.bindErr = map[string]error{normDN(dn("jdoe")): tt.err}
			res := u.login(t, "jdoe", "secret")
			if res.Outcome != tt.outcome || res.Authenticated || res.Allowed {
				t.Fatalf("got %s authenticated=%v allowed=%v, want %s and both false", res.Outcome, res.Authenticated, res.Allowed, tt.outcome)
			}
			if tt.outcome == LDAPError && !errors.Is(res.Err, ldapbridge.ErrUnavailable) {
				t.Errorf("Err = %v, want the directory error", res.Err)
			}
			if len(u.store.users) != 0 {
				t.Error("a refused bind created an account")
			}
		})
	}
}

func TestPolicyOutcomes(t *testing.T) {
	deny := ldapbridge.GroupQuery{DN: staffDN}
	tests := []struct {
		name    string
		mut     func(*config.Config)
		outcome Outcome
		auth    bool
		allowed bool
		stored  int
	}{
		{"ok", nil, OK, true, true, 1},
		{"require not met", func(c *config.Config) { c.Access.Require = ldapbridge.GroupQuery{DN: adminsDN} }, RequireGroup, false, false, 0},
		{"deny met", func(c *config.Config) { c.Access.Deny = deny }, DenyGroup, false, false, 0},
		{"is_active false", func(c *config.Config) {
			c.Access.Flags = map[string]ldapbridge.GroupQuery{FlagIsActive: {DN: adminsDN}}
		}, Inactive, true, false, 1},
		{"no new users", func(c *config.Config) { c.Access.NoNewUsers = true }, NoNewUsers, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, tt.mut)
			res := u.login(t, "jdoe", "secret")
			if res.Outcome != tt.outcome || res.Authenticated != tt.auth || res.Allowed != tt.allowed {
				t.Fatalf("got %s/%v/%v (%s), want %s/%v/%v", res.Outcome, res.Authenticated, res.Allowed, res.Reason, tt.outcome, tt.auth, tt.allowed)
			}
			if len(u.store.users) != tt.stored {
				t.Errorf("store holds %d users, want %d", len(u.store.users), tt.stored)
			}
			if res.Outcome == Inactive && (res.User == nil || res.User.IsActive || res.User.LastLoginAt != nil) {
				t.Errorf("inactive login stored %+v, want inactive and no last login", res.User)
			}
		})
	}
}

func TestCacheLimitsWarmLoginToOneBind(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := unitConfig()
	cfg.Access.CacheTTL = config.Duration(time.Minute)
	u := newUnit(t, nil)
	a, err := New(cfg, u.dir, u.store, Options{Groups: u.groups, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, want := range []int{3, 1, 3} { // cold, warm, expired
		if i == 2 {
			now = now.Add(2 * time.Minute)
		}
		before := u.dir.ncalls()
		res, err := a.Authenticate(ctx, "jdoe", "secret")
		if err != nil || res.Outcome != OK {
			t.Fatalf("login %d: %v %v", i, res, err)
		}
		if got := u.dir.ncalls() - before; got != want {
			t.Errorf("login %d made %d directory calls, want %d", i, got, want)
		}
	}
	before := u.dir.ncalls()
	if res, _ := a.Authenticate(ctx, "jdoe", "wrong"); res.Outcome != BadCredentials {
		t.Errorf("a warm cache accepted a wrong password: %s", res.Outcome)
	}
	if got := u.dir.ncalls() - before; got != 1 {
		t.Errorf("warm wrong-password login made %d calls, want the bind only", got)
	}
}

func TestLocalAccountWorksWhileDirectoryIsDown(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	ctx := context.Background()
	if _, err := u.a.AddLocal(ctx, "Admin", "break-glass", true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := u.a.AddLocal(ctx, "admin", "other", false, false); !errors.Is(err, ldapbridge.ErrConflict) {
		t.Errorf("second AddLocal admin: %v, want ErrConflict", err)
	}
	if _, err := u.a.AddLocal(ctx, "nobody", "", false, false); err == nil {
		t.Error("AddLocal with an empty password succeeded")
	}
	u.dir.down = errDown
	res := u.login(t, "ADMIN", "break-glass")
	if res.Outcome != OK || !res.Allowed || !res.User.IsSuperuser {
		t.Fatalf("break-glass login: %+v", res)
	}
	if res := u.login(t, "admin", "wrong"); res.Outcome != BadCredentials {
		t.Errorf("wrong local password: %s", res.Outcome)
	}
	if n := u.dir.ncalls(); n != 0 {
		t.Errorf("local logins made %d directory calls, want 0", n)
	}
	if res := u.login(t, "jdoe", "secret"); res.Outcome != LDAPError || !errors.Is(res.Err, ldapbridge.ErrUnavailable) {
		t.Errorf("directory user while down: %s %v, want ldap_error", res.Outcome, res.Err)
	}
}

func TestDirectoryUserCannotTakeOverLocalAccount(t *testing.T) {
	u := newUnit(t, nil) // local_accounts off
	if _, err := u.a.AddLocal(context.Background(), "jdoe", "local-pw", true, true); err != nil {
		t.Fatal(err)
	}
	if res, err := u.a.Authenticate(context.Background(), "jdoe", "local-pw"); err != nil || res.Outcome != BadCredentials {
		t.Errorf("local password with access.local_accounts off: %v %v, want bad_credentials", res, err)
	}
	_, err := u.a.Authenticate(context.Background(), "jdoe", "secret")
	if !errors.Is(err, ldapbridge.ErrConflict) {
		t.Fatalf("directory login onto a local account: %v, want ErrConflict", err)
	}
}

func TestUnionSearchRefusesAmbiguousName(t *testing.T) {
	other := "ou=people,dc=other,dc=com"
	u := newUnit(t, func(c *config.Config) {
		c.Users.Search = append(c.Users.Search, config.Search{BaseDN: other, Scope: "sub", Filter: "(uid={username})"})
	})
	u.dir.entries = append(u.dir.entries, ldapbridge.NewEntry("uid=jdoe,"+other, map[string][]string{"uid": {"jdoe"}}))
	res := u.login(t, "jdoe", "secret")
	if res.Outcome != UserNotFound || !strings.Contains(res.Reason, "matches 2 entries") {
		t.Fatalf("got %s %q, want user_not_found naming 2 entries", res.Outcome, res.Reason)
	}
	if res := u.login(t, "josé", "pässword"); res.Outcome != OK {
		t.Errorf("unambiguous name: %s %s", res.Outcome, res.Reason)
	}
}

func TestExplainDoesNotBindOrWrite(t *testing.T) {
	u := newUnit(t, func(c *config.Config) {
		c.Access.Deny = ldapbridge.GroupQuery{DN: contractorsDN}
		c.Access.Flags = map[string]ldapbridge.GroupQuery{FlagIsStaff: {DN: staffDN}}
	})
	ex, err := u.a.Explain(context.Background(), "JDOE")
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Found || ex.DN != dn("jdoe") || ex.StableID != "uuid-jdoe" || ex.Outcome != OK {
		t.Fatalf("got %+v", ex)
	}
	if ex.Require == nil || !ex.Require.Verdict || ex.Deny == nil || ex.Deny.Verdict {
		t.Errorf("require %+v deny %+v", ex.Require, ex.Deny)
	}
	if !ex.Flags[FlagIsStaff] || !ex.Flags[FlagIsActive] || ex.Flags[FlagIsSuperuser] {
		t.Errorf("flags %v", ex.Flags)
	}
	if len(ex.Queries) != 2 || ex.Queries[0].Entries != 1 || ex.Queries[0].BaseDN != peopleDN {
		t.Errorf("queries %+v, want the user search then the group query", ex.Queries)
	}
	if ex.User == nil || ex.User.Username != "jdoe" || ex.User.ID != 0 || fmt.Sprint(ex.User.Groups) != "[app staff]" {
		t.Errorf("user %+v", ex.User)
	}
	if fmt.Sprint(ex.Attributes["mail"]) != "[jdoe@example.com john@example.com]" {
		t.Errorf("attributes %v", ex.Attributes)
	}
	for _, c := range u.dir.calls {
		if c == "bind" {
			t.Error("Explain bound as the user")
		}
	}
	if len(u.store.users) != 0 {
		t.Error("Explain wrote to the store")
	}
	ex, err = u.a.Explain(context.Background(), "nobody")
	if err != nil || ex.Found || ex.Outcome != UserNotFound || len(ex.Queries) != 1 {
		t.Errorf("unknown user: %+v %v", ex, err)
	}
}

func TestPopulateCreatesWithoutLogin(t *testing.T) {
	u := newUnit(t, nil)
	res, err := u.a.Populate(context.Background(), "jdoe")
	if err != nil || res.Outcome != OK || !res.Created {
		t.Fatalf("got %+v %v", res, err)
	}
	if res.User.LastLoginAt != nil {
		t.Error("Populate recorded a login")
	}
	for _, c := range u.dir.calls {
		if c == "bind" {
			t.Error("Populate bound as the user")
		}
	}
}

type countingObserver struct{ outcomes []string }

func (o *countingObserver) ObserveLogin(outcome string, d time.Duration) {
	o.outcomes = append(o.outcomes, outcome)
}

func TestObserverAndOnPopulateHook(t *testing.T) {
	u := newUnit(t, nil)
	obs := &countingObserver{}
	var populated []string
	a, err := New(unitConfig(), u.dir, u.store, Options{Groups: u.groups, Observer: obs, Hooks: Hooks{
		OnPopulate: func(ctx context.Context, usr *ldapbridge.User, e *ldapbridge.Entry) error {
			populated = append(populated, usr.Username+"@"+e.DN)
			usr.Profile["hooked"] = "yes"
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, _ := a.Authenticate(ctx, "jdoe", "secret")
	a.Authenticate(ctx, "jdoe", "")
	if fmt.Sprint(obs.outcomes) != "[ok empty_password]" {
		t.Errorf("observed %v", obs.outcomes)
	}
	if len(populated) != 1 || populated[0] != "jdoe@"+dn("jdoe") || res.User.Profile["hooked"] != "yes" {
		t.Errorf("hook calls %v, profile %v", populated, res.User.Profile)
	}
	failing, _ := New(unitConfig(), u.dir, u.store, Options{Groups: u.groups, Hooks: Hooks{
		OnPopulate: func(context.Context, *ldapbridge.User, *ldapbridge.Entry) error { return errors.New("hook says no") },
	}})
	if _, err := failing.Authenticate(ctx, "josé", "pässword"); err == nil || !strings.Contains(err.Error(), "hook says no") {
		t.Errorf("failing hook: %v", err)
	}
	if _, err := u.store.User(ctx, "josé"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Error("a failing hook still created the account")
	}
}

func TestQueryFieldMatchesExistingAccount(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Users.QueryField = "email" })
	pre := &ldapbridge.User{Username: "john.doe", Source: ldapbridge.SourceLDAP, Email: "JDOE@example.com", IsActive: true}
	if err := u.store.CreateUser(context.Background(), pre); err != nil {
		t.Fatal(err)
	}
	res := u.login(t, "jdoe", "secret")
	if res.Outcome != OK || res.Created || res.User.ID != pre.ID || res.User.Username != "jdoe" {
		t.Errorf("got %s created=%v id=%d (want %d) username %q", res.Outcome, res.Created, res.User.ID, pre.ID, res.User.Username)
	}
}

func TestInactiveLocalAccountIsRefused(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	ctx := context.Background()
	lu, err := u.a.AddLocal(ctx, "ops", "ops-password", false, false)
	if err != nil {
		t.Fatal(err)
	}
	u.store.users[lu.ID].IsActive = false
	res := u.login(t, "ops", "ops-password")
	if res.Outcome != Inactive || !res.Authenticated || res.Allowed {
		t.Errorf("got %s %v %v", res.Outcome, res.Authenticated, res.Allowed)
	}
}

func TestActiveDirectoryDownLevelNameIsStripped(t *testing.T) {
	u := newUnit(t, func(c *config.Config) {
		c.Directory.Flavor = ldapbridge.FlavorActiveDirectory
		c.Users.UsernameAttribute = "uid"
	})
	res := u.login(t, `CORP\jdoe`, "secret")
	if res.Outcome != OK || res.User.Username != "jdoe" {
		t.Errorf("got %s %v", res.Outcome, res.User)
	}
}

func TestAlwaysUpdateOffStillFollowsRename(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.AlwaysUpdate = false })
	first := u.login(t, "jdoe", "secret")
	u.store.users[first.User.ID].FirstName = "Edited"
	e := u.dir.entries[0]
	e.DN = dn("johnd")
	e.Set("uid", "johnd")
	e.Set("givenName", "Johnny")
	u.dir.passwords[normDN(e.DN)] = "secret"
	u.groups.byUser[normDN(e.DN)] = u.groups.byUser[normDN(dn("jdoe"))]
	res := u.login(t, "johnd", "secret")
	if res.Outcome != OK || res.User.ID != first.User.ID || res.User.Username != "johnd" || res.User.DN != e.DN {
		t.Fatalf("got %s id %d username %q dn %q", res.Outcome, res.User.ID, res.User.Username, res.User.DN)
	}
	if res.User.FirstName != "Edited" {
		t.Errorf("first name %q: always_update off re-populated the account", res.User.FirstName)
	}
}
