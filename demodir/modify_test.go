package demodir

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestRuntimeChangesAreVisibleToTheNextSearch(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	jdoe := func(attrs ...string) *ldap.Entry {
		t.Helper()
		got := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(uid=jdoe)", attrs...)
		if len(got) != 1 {
			t.Fatalf("jdoe found %d times", len(got))
		}
		return got[0]
	}
	before := jdoe("modifyTimestamp", "entryUUID")

	t.Run("SetAttribute replaces values and bumps modifyTimestamp", func(t *testing.T) {
		if err := s.SetAttribute(UserDN("jdoe"), "title", "Staff Engineer", "On-call"); err != nil {
			t.Fatal(err)
		}
		e := jdoe("title", "modifyTimestamp")
		if got := e.GetAttributeValues("title"); !slices.Equal(got, []string{"Staff Engineer", "On-call"}) {
			t.Fatalf("title = %q", got)
		}
		if e.GetAttributeValue("modifyTimestamp") <= before.GetAttributeValue("modifyTimestamp") {
			t.Fatalf("modifyTimestamp did not advance: %s", e.GetAttributeValue("modifyTimestamp"))
		}
		if got := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(title=on-call)", "1.1"); len(got) != 1 {
			t.Fatalf("filter on the new value found %d entries", len(got))
		}
	})
	t.Run("SetAttribute without values removes the attribute", func(t *testing.T) {
		if err := s.SetAttribute(UserDN("jdoe"), "mobile"); err != nil {
			t.Fatal(err)
		}
		if v := jdoe("mobile").GetAttributeValues("mobile"); len(v) != 0 {
			t.Fatalf("mobile still %q", v)
		}
	})
	t.Run("group membership change updates memberOf", func(t *testing.T) {
		staff := s.Entry(GroupStaff).Values("member")
		if err := s.SetAttribute(GroupStaff, "member", append(staff, UserDN("jdoe"))...); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(jdoe("memberOf").GetAttributeValues("memberOf"), GroupStaff) {
			t.Fatal("jdoe's memberOf lacks staff after being added to it")
		}
	})
	t.Run("password change", func(t *testing.T) {
		if err := s.SetPassword(UserDN("jdoe"), "new-secret"); err != nil {
			t.Fatal(err)
		}
		if err := dial(t, s).Bind(UserDN("jdoe"), DemoPassword("jdoe")); resultCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Fatalf("old password: %v", err)
		}
		if err := dial(t, s).Bind(UserDN("jdoe"), "new-secret"); err != nil {
			t.Fatalf("new password: %v", err)
		}
	})
	t.Run("Rename keeps entryUUID and updates member values", func(t *testing.T) {
		if err := s.Rename(UserDN("jdoe"), "uid=john.doe"); err != nil {
			t.Fatal(err)
		}
		got := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(uid=john.doe)", "entryUUID", "memberOf")
		if len(got) != 1 || got[0].GetAttributeValue("entryUUID") != before.GetAttributeValue("entryUUID") {
			t.Fatalf("renamed entry %v does not keep entryUUID %s", got, before.GetAttributeValue("entryUUID"))
		}
		if !slices.Contains(s.Entry(GroupBackend).Values("member"), UserDN("john.doe")) {
			t.Fatalf("Backend members not updated: %q", s.Entry(GroupBackend).Values("member"))
		}
		if len(search(t, c, UsersDN, ldap.ScopeSingleLevel, "(uid=jdoe)", "1.1")) != 0 {
			t.Fatal("old uid still found")
		}
	})
	t.Run("Add and Delete", func(t *testing.T) {
		dn := UserDN("znew")
		err := s.Add(dn, map[string][]string{"objectClass": personClasses, "uid": {"znew"}, "cn": {"Zoe New"}, "sn": {"New"}}, "pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetAttribute(GroupActive, "member", append(s.Entry(GroupActive).Values("member"), dn)...); err != nil {
			t.Fatal(err)
		}
		if got := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(cn=zoe*)", "entryUUID"); len(got) != 1 || got[0].GetAttributeValue("entryUUID") == "" {
			t.Fatalf("added entry: %v", got)
		}
		if err := s.Delete(dn); err != nil {
			t.Fatal(err)
		}
		if got := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(uid=znew)", "1.1"); len(got) != 0 {
			t.Fatal("deleted entry still found")
		}
		if slices.Contains(s.Entry(GroupActive).Values("member"), dn) {
			t.Fatal("deleted entry still a member of active")
		}
	})
}

func TestModificationErrors(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name string
		err  error
	}{
		{"set on a missing entry", s.SetAttribute(UserDN("nobody"), "title", "x")},
		{"set memberOf", s.SetAttribute(UserDN("jdoe"), "memberOf", GroupStaff)},
		{"set entryUUID", s.SetAttribute(UserDN("jdoe"), "entryUUID", "x")},
		{"replace the naming attribute", s.SetAttribute(UserDN("jdoe"), "uid", "x")},
		{"add an existing entry", s.Add(UserDN("jdoe"), map[string][]string{"uid": {"jdoe"}}, "")},
		{"add without parent", s.Add("uid=x,ou=Nowhere,"+OrgDN, map[string][]string{"uid": {"x"}}, "")},
		{"add without naming attribute", s.Add(UserDN("x"), map[string][]string{"cn": {"x"}}, "")},
		{"delete a missing entry", s.Delete(UserDN("nobody"))},
		{"delete an entry with children", s.Delete(UsersDN)},
		{"rename onto an existing entry", s.Rename(UserDN("jdoe"), "uid=asmith")},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if err := s.Delete(UserDN("nobody")); !errors.Is(err, ErrNoSuchEntry) {
		t.Errorf("Delete of a missing entry = %v, want ErrNoSuchEntry", err)
	}
}

func TestWritesOverLDAPAreRefused(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	mod := ldap.NewModifyRequest(UserDN("jdoe"), nil)
	mod.Replace("title", []string{"Hacker"})
	if err := c.Modify(mod); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("modify = %v, want unwillingToPerform", err)
	}
	if err := c.Del(ldap.NewDelRequest(UserDN("jdoe"), nil)); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("delete = %v, want unwillingToPerform", err)
	}
	if got := s.Entry(UserDN("jdoe")).First("title"); got == "Hacker" {
		t.Fatal("modify over LDAP changed the entry")
	}
}

func TestConcurrentSearchesAndChanges(t *testing.T) {
	s := startServer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 4 {
		wg.Go(func() {
			c, err := ldap.DialURL(s.URL())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Bind(ServiceDN, ServicePassword); err != nil {
				errs <- err
				return
			}
			for range 10 {
				req := ldap.NewSearchRequest(UsersDN, ldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid", "memberOf"}, nil)
				res, err := c.SearchWithPaging(req, 4)
				if err != nil {
					errs <- err
					return
				}
				if len(res.Entries) < len(Logins()) {
					errs <- fmt.Errorf("worker %d saw %d users", i, len(res.Entries))
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 40 {
			if err := s.SetAttribute(UserDN("asmith"), "title", fmt.Sprint("CTO ", i)); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
