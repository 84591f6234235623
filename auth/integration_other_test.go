package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

func TestRenamedEntryKeepsTheAccount(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	e := newEnv(t, tutorialConfig(t, s.URL))
	first := e.mustLogin(t, "bob", slapdtest.JCBobPassword)
	s.Apply(t, "dn: "+slapdtest.JCBobDN+"\nchangetype: modrdn\nnewrdn: uid=robert\ndeleteoldrdn: 1\n")
	res := e.mustLogin(t, "robert", slapdtest.JCBobPassword)
	if res.Created || res.User.ID != first.User.ID || res.User.Username != "robert" || res.DN != "uid=robert,"+slapdtest.JCUsersDN {
		t.Errorf("after rename: created=%v id=%d (want %d) username %q dn %q", res.Created, res.User.ID, first.User.ID, res.User.Username, res.DN)
	}
	if _, err := e.store.User(context.Background(), "bob"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("old username still present: %v", err)
	}
	if n := e.userCount(t); n != 1 {
		t.Errorf("store holds %d users, want 1", n)
	}
}

func TestClassicUnionSearch(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	cfg := config.Default()
	cfg.Directory.URLs = []string{s.URL}
	cfg.Directory.BindDN, cfg.Directory.BindPassword = slapdtest.ExServiceDN, slapdtest.ExServicePassword
	cfg.ApplyFlavor(ldapbridge.FlavorOpenLDAP)
	cfg.Users.Search = config.Searches{
		{BaseDN: slapdtest.ExPeopleDN, Scope: "one", Filter: "(&(objectClass=inetOrgPerson)(uid={username}))"},
		{BaseDN: slapdtest.ExPartnersDN, Scope: "one", Filter: "(&(objectClass=inetOrgPerson)(uid={username}))"},
	}
	cfg.Groups.Search = config.Searches{{BaseDN: slapdtest.ExGroupsDN, Scope: "sub", Filter: "(objectClass=groupOfNames)"}}
	cfg.Access.Require = q(slapdtest.ExDevelopersDN)
	e := newEnv(t, cfg)

	res := e.login(t, slapdtest.ExJSmithUID, slapdtest.ExJSmithPeoplePassword)
	if res.Outcome != auth.UserNotFound || !strings.Contains(res.Reason, "matches 2 entries") {
		t.Errorf("jsmith: %s %q, want user_not_found naming 2 entries", res.Outcome, res.Reason)
	}
	if !strings.Contains(e.logs.String(), "ambiguous username") {
		t.Error("the ambiguous username was not logged")
	}
	e.mustLogin(t, "jdoe", slapdtest.ExJDoePassword)
	cfg.Access.Require = ldapbridge.GroupQuery{}
	partners := attach(t, cfg, e.dir, e.store, e.logs)
	if res := partners.mustLogin(t, "pvendor", slapdtest.ExPVendorPassword); res.DN != slapdtest.ExPVendorDN {
		t.Errorf("pvendor from the second base: dn %q", res.DN)
	}
	if res := e.login(t, "asmith", slapdtest.ExJDoePassword); res.Outcome != auth.BadCredentials {
		t.Errorf("asmith with jdoe's password: %s", res.Outcome)
	}
}

func TestLocalAccountWhileDirectoryIsDead(t *testing.T) {
	cfg := tutorialConfig(t, "ldap://127.0.0.1:1")
	cfg.Directory.DialTimeout = config.Duration(time.Second)
	e := newEnv(t, cfg)
	ctx := context.Background()
	if _, err := e.a.AddLocal(ctx, "admin", "break-glass-pw", true, true); err != nil {
		t.Fatal(err)
	}
	res := e.mustLogin(t, "admin", "break-glass-pw")
	if !res.User.IsSuperuser || res.User.Source != ldapbridge.SourceLocal {
		t.Errorf("admin %+v", res.User)
	}
	if res := e.login(t, "admin", "wrong-Admin-pw"); res.Outcome != auth.BadCredentials {
		t.Errorf("wrong local password: %s", res.Outcome)
	}
	res = e.login(t, "alice", slapdtest.JCAlicePassword)
	if res.Outcome != auth.LDAPError || res.Err == nil {
		t.Errorf("directory user while the directory is dead: %s, want ldap_error", res.Outcome)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "outcome=ldap_error") || strings.Contains(logs, "break-glass-pw") {
		t.Errorf("logs: %s", logs)
	}
	u := e.stored(t, "admin")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || u.LastLoginAt == nil {
		t.Errorf("stored admin %+v", u)
	}
	if slices.Contains([]string{"", "break-glass-pw"}, u.PasswordHash) {
		t.Error("the password is stored in clear")
	}
}
