package slapdtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestGenerateLDIFIsDeterministicAndValid(t *testing.T) {
	var a, b, c bytes.Buffer
	for _, buf := range []*bytes.Buffer{&a, &b} {
		if err := GenerateLDIF(buf, 50, 7, 42); err != nil {
			t.Fatal(err)
		}
	}
	if err := GenerateLDIF(&c, 50, 7, 43); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed produced different LDIF")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds produced the same LDIF")
	}
	if err := GenerateLDIF(&c, 0, 1, 1); err == nil {
		t.Error("zero users accepted")
	}
}

func TestBulkLoadsGeneratedDirectoryBesideFixtures(t *testing.T) {
	const users, groups = 300, 20
	var buf bytes.Buffer
	if err := GenerateLDIF(&buf, users, groups, 1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bulk.ldif")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, Options{Bulk: path, Fixtures: []string{JumpCloud, Classic}})
	c := s.ConnAs(t, JCServiceDN, JCServicePassword)

	req := ldap.NewSearchRequest(BulkUsersDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid", "entryUUID"}, nil)
	res, err := c.SearchWithPaging(req, 100)
	if err != nil {
		t.Fatalf("paged search of bulk users: %v", err)
	}
	if len(res.Entries) != users {
		t.Errorf("found %d bulk users, want %d", len(res.Entries), users)
	}
	if len(res.Entries) > 0 && res.Entries[0].GetAttributeValue("entryUUID") == "" {
		t.Error("slapadd did not generate entryUUID")
	}

	want := map[string]int{} // group DN -> member count from the LDIF text
	var dn string
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "dn: "); ok {
			dn = v
		} else if strings.HasPrefix(line, "member: ") {
			want[dn]++
		}
	}
	groupRes, err := c.Search(ldap.NewSearchRequest(BulkUsersDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=groupOfNames)", []string{"member"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(groupRes.Entries) != groups {
		t.Errorf("found %d bulk groups, want %d", len(groupRes.Entries), groups)
	}
	for _, e := range groupRes.Entries {
		if got := len(e.GetAttributeValues("member")); got != want[e.DN] || got == 0 {
			t.Errorf("%s has %d members, the LDIF lists %d", e.DN, got, want[e.DN])
		}
	}
	if want[BulkGroupDN(0)] == 0 || !strings.Contains(buf.String(), "member: "+BulkGroupDN(1)) {
		t.Error("group 0 should nest group 1")
	}
	s.ConnAs(t, BulkUserDN(users-1), BulkUserPassword(users-1))
}
