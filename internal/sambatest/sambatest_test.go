package sambatest

import (
	"bytes"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestMain(m *testing.M) { Main(m) }

func search(t *testing.T, c *ldap.Conn, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil), 500)
	if err != nil {
		t.Fatalf("search %s under %s: %v", filter, base, err)
	}
	return res.Entries
}

func TestDCIsSeeded(t *testing.T) {
	dc := Start(t)
	t.Logf("provision+seed %v, copy+start %v, host %s", dc.ProvisionTime, dc.StartTime, dc.Host)
	c := dc.Conn(t)

	alice := search(t, c, PeopleDN, "(sAMAccountName=alice)", "thumbnailPhoto", "primaryGroupID", "memberOf", "userPrincipalName")
	if len(alice) != 1 || !bytes.Equal(alice[0].GetRawAttributeValue("thumbnailPhoto"), Photo()) {
		t.Fatalf("alice: %d entries or wrong photo", len(alice))
	}
	if alice[0].GetAttributeValue("primaryGroupID") == "513" {
		t.Errorf("alice's primary group is still Domain Users, want Staff")
	}
	if got := alice[0].GetAttributeValue("userPrincipalName"); got != UPN(AliceSAM) {
		t.Errorf("UPN %q", got)
	}
	if n := len(search(t, c, BulkDN, "(objectClass=user)", "1.1")); n != BigMembers {
		t.Errorf("%d bulk users, want %d", n, BigMembers)
	}
	big := search(t, c, GroupsDN, "(cn=Big Group)", "member;range=0-*")
	if len(big) != 1 {
		t.Fatalf("Big Group: %d entries", len(big))
	}
	jose := search(t, c, PeopleDN, "(sAMAccountName="+JoseSAM+")", "givenName")
	if len(jose) != 1 || jose[0].GetAttributeValue("givenName") != JoseGivenName {
		t.Errorf("josé: %v", jose)
	}
}

func TestServiceAccountBindsOverPlainLDAP(t *testing.T) {
	dc := Start(t)
	c, err := dc.dial(dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(ServiceDN, ServicePassword); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	if err := c.Bind(UserDN(DoraSAM), DoraPassword); err == nil {
		t.Errorf("disabled dora could bind")
	}
}
