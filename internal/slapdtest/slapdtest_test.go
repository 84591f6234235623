package slapdtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func search(t *testing.T, c *ldap.Conn, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func TestFixturesAreReadableByServiceAccounts(t *testing.T) {
	s := Start(t, Options{Fixtures: []string{JumpCloud, Classic}, SizeLimit: 500})
	jc := s.ConnAs(t, JCServiceDN, JCServicePassword)
	ex := s.ConnAs(t, ExServiceDN, ExServicePassword)

	tests := []struct {
		name   string
		conn   *ldap.Conn
		base   string
		filter string
		want   []string
	}{
		{"jumpcloud groupOfNames in ou=Users", jc, JCUsersDN, "(objectClass=groupOfNames)",
			[]string{JCDjangoAppGroupDN, JCActiveGroupDN, JCStaffGroupDN, JCSuperuserGroupDN, JCContractorsGroupDN, JCEngineeringGroupDN, JCBackendGroupDN}},
		{"jumpcloud posixGroups are separate entries", jc, JCOrgDN, "(objectClass=posixGroup)",
			[]string{JCDjangoAppPosixDN, JCStaffPosixDN}},
		{"uid alice exists in both orgs", jc, JCBaseDN, "(uid=alice)", []string{JCAliceDN, JCOtherAliceDN}},
		{"non-ASCII uid", jc, JCUsersDN, "(uid=" + JCJoseUID + ")", []string{JCJoseDN}},
		{"ambiguous classic uid", ex, ExBaseDN, "(uid=jsmith)", []string{ExJSmithPeopleDN, ExJSmithPartnersDN}},
		{"escaped comma group", ex, ExGroupsDN, "(cn=Sales, EMEA)", []string{ExSalesEMEADN}},
		{"owner attribute", ex, ExGroupsDN, "(owner=" + ExJDoeDN + ")", []string{ExOwnersDN}},
		{"role occupant", ex, ExGroupsDN, "(roleOccupant=" + ExBWayneDN + ")", []string{ExManagersDN}},
		{"unique member", ex, ExGroupsDN, "(uniqueMember=" + ExPVendorDN + ")", []string{ExAdminsDN}},
		{"cycle closes", ex, ExGroupsDN, "(member=" + ExCycleADN + ")", []string{ExCycleCDN}},
		{"cycle b in a", ex, ExGroupsDN, "(member=" + ExCycleBDN + ")", []string{ExCycleADN}},
		{"primary gid only", ex, ExPeopleDN, "(gidNumber=6000)", []string{ExBWayneDN}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range search(t, tt.conn, tt.base, tt.filter, "dn") {
				got = append(got, e.DN)
			}
			if !sameDNs(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func sameDNs(got, want []string) bool {
	norm := func(in []string) []string {
		var out []string
		for _, d := range in {
			p, err := ldap.ParseDN(d)
			if err != nil {
				return nil
			}
			out = append(out, strings.ToLower(p.String()))
		}
		slices.Sort(out)
		return out
	}
	return len(got) == len(want) && slices.Equal(norm(got), norm(want))
}

func TestMemberOfAndOperationalAttributes(t *testing.T) {
	s := Start(t, Options{Fixtures: []string{JumpCloud}})
	c := s.ConnAs(t, JCServiceDN, JCServicePassword)
	entries := search(t, c, JCUsersDN, "(uid=carol)", "memberOf", "entryUUID", "entryCSN", "modifyTimestamp")
	if len(entries) != 1 {
		t.Fatalf("want carol, got %d entries", len(entries))
	}
	e := entries[0]
	want := []string{JCDjangoAppGroupDN, JCActiveGroupDN, JCStaffGroupDN, JCSuperuserGroupDN}
	if got := e.GetAttributeValues("memberOf"); !sameDNs(got, want) {
		t.Errorf("memberOf = %q, want %q", got, want)
	}
	for _, a := range []string{"entryUUID", "entryCSN", "modifyTimestamp"} {
		if e.GetAttributeValue(a) == "" {
			t.Errorf("%s missing on %s", a, e.DN)
		}
	}
	if got := search(t, c, JCUsersDN, "(uid=carol)")[0].GetAttributeValues("memberOf"); len(got) != 0 {
		t.Errorf("memberOf returned without being requested: %q", got)
	}
	photo := search(t, c, JCUsersDN, "(uid=dave)", "jpegPhoto")[0].GetRawAttributeValue("jpegPhoto")
	if !bytes.Equal(photo, JCDavePhoto) || !bytes.HasPrefix(photo, []byte{0xFF, 0xD8}) {
		t.Errorf("jpegPhoto of dave: %d bytes, want the %d-byte JCDavePhoto", len(photo), len(JCDavePhoto))
	}
	mails := search(t, c, JCUsersDN, "(uid=alice)", "mail")[0].GetAttributeValues("mail")
	if !slices.Equal(mails, []string{JCAliceMail, JCAliceMail2}) {
		t.Errorf("alice mail = %q", mails)
	}

	// refint removes a deleted user from groups (in a background task, so poll).
	// frank is in Django App only; a group's last member cannot be removed
	// because groupOfNames requires member.
	s.Apply(t, "dn: "+JCFrankDN+"\nchangetype: delete\n\n")
	var left []*ldap.Entry
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = search(t, c, JCUsersDN, "(member="+JCFrankDN+")", "dn"); len(left) == 0 {
			break
		}
	}
	if len(left) != 0 {
		t.Errorf("groups still list deleted frank after 5s: %d (%s)\n%s", len(left), left[0].DN, s.log())
	}
	s.Apply(t, "dn: "+JCStaffGroupDN+"\nchangetype: modify\nadd: member\nmember: "+JCAliceDN+"\n-\n\n")
	if got := search(t, c, JCUsersDN, "(uid=alice)", "memberOf")[0].GetAttributeValues("memberOf"); !sameDNs(got,
		[]string{JCDjangoAppGroupDN, JCActiveGroupDN, JCStaffGroupDN}) {
		t.Errorf("alice memberOf after Apply = %q", got)
	}
}

func TestBindsAndACLs(t *testing.T) {
	s := Start(t, Options{Fixtures: []string{JumpCloud, Classic}})
	tests := []struct {
		name, dn, password string
		ok                 bool
	}{
		{"jumpcloud user", JCAliceDN, JCAlicePassword, true},
		{"non-ASCII DN", JCJoseDN, JCJosePassword, true},
		{"other org same uid", JCOtherAliceDN, JCOtherAlicePassword, true},
		{"wrong password", JCAliceDN, JCBobPassword, false},
		{"classic partner", ExJSmithPartnersDN, ExJSmithPartnersPassword, true},
		{"no userPassword", ExNoPassDN, "anything", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ldap.DialURL(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Bind(tt.dn, tt.password)
			if tt.ok != (err == nil) {
				t.Errorf("bind %s: err = %v, want success %v", tt.dn, err, tt.ok)
			}
		})
	}

	t.Run("anonymous cannot search", func(t *testing.T) {
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Search(ldap.NewSearchRequest(JCBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=*)", nil, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Errorf("anonymous search returned %d entries", len(res.Entries))
		}
	})
	t.Run("nopass has no userPassword", func(t *testing.T) {
		e := search(t, s.Conn(t), ExPeopleDN, "(uid=nopass)", "userPassword")
		if len(e) != 1 || len(e[0].GetAttributeValues("userPassword")) != 0 {
			t.Errorf("want nopass without userPassword, got %v", e)
		}
	})
	t.Run("users cannot read passwords", func(t *testing.T) {
		c := s.ConnAs(t, JCServiceDN, JCServicePassword)
		for _, e := range search(t, c, JCUsersDN, "(uid=alice)", "userPassword") {
			if len(e.GetAttributeValues("userPassword")) != 0 {
				t.Errorf("service account read userPassword of %s", e.DN)
			}
		}
	})
}

func TestSizeLimitCapsPlainSearchButNotPaged(t *testing.T) {
	s := Start(t, Options{Fixtures: []string{JumpCloud, Classic}, SizeLimit: 4})
	c := s.ConnAs(t, ExServiceDN, ExServicePassword)
	req := func() *ldap.SearchRequest {
		return ldap.NewSearchRequest(JCBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	}
	_, err := c.Search(req())
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("plain search over the limit: err = %v, want sizeLimitExceeded", err)
	}
	res, err := c.SearchWithPaging(req(), 3)
	if err != nil {
		t.Fatalf("paged search: %v", err)
	}
	if want := 12; len(res.Entries) != want { // 10 acme users + service account + other0002's alice
		t.Errorf("paged search returned %d entries, want %d", len(res.Entries), want)
	}
	root := s.Conn(t)
	if _, err := root.Search(req()); err != nil {
		t.Errorf("rootdn plain search should bypass the limit: %v", err)
	}
}

func TestStopRefusesAndStartRestoresSameURL(t *testing.T) {
	s := Start(t, Options{Fixtures: []string{Classic}})
	url := s.URL
	s.Stop(t)
	host := strings.TrimPrefix(url, "ldap://")
	if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", host)
	}
	s.Start(t)
	if s.URL != url {
		t.Fatalf("URL changed from %s to %s", url, s.URL)
	}
	c := s.ConnAs(t, ExServiceDN, ExServicePassword)
	if got := search(t, c, ExPeopleDN, "(uid=jdoe)", "dn"); len(got) != 1 {
		t.Errorf("data lost across restart: %d entries for jdoe", len(got))
	}
}

func TestTLS(t *testing.T) {
	s := Start(t, Options{})
	pool := func(path string) *x509.CertPool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(b) {
			t.Fatalf("no certificate in %s", path)
		}
		return p
	}
	client, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		starttls bool
		cfg      *tls.Config
		ok       bool
	}{
		{"ldaps with CA", false, &tls.Config{RootCAs: pool(s.CAFile)}, true},
		{"ldaps by name localhost", false, &tls.Config{RootCAs: pool(s.CAFile), ServerName: "localhost"}, true},
		{"ldaps with client certificate", false, &tls.Config{RootCAs: pool(s.CAFile), Certificates: []tls.Certificate{client}}, true},
		{"ldaps with wrong CA", false, &tls.Config{RootCAs: pool(s.WrongCAFile)}, false},
		{"starttls with CA", true, &tls.Config{RootCAs: pool(s.CAFile), ServerName: "127.0.0.1"}, true},
		{"starttls with wrong CA", true, &tls.Config{RootCAs: pool(s.WrongCAFile), ServerName: "127.0.0.1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tlsBind(s, tt.starttls, tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want success %v", err, tt.ok)
			}
			var unknown x509.UnknownAuthorityError
			if !tt.ok && !errors.As(err, &unknown) && !strings.Contains(err.Error(), "unknown authority") {
				t.Errorf("want an unknown-authority error, got %v", err)
			}
		})
	}
}

func tlsBind(s *Server, starttls bool, cfg *tls.Config) error {
	var c *ldap.Conn
	var err error
	if starttls {
		if c, err = ldap.DialURL(s.URL); err == nil {
			err = c.StartTLS(cfg)
		}
	} else {
		c, err = ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(cfg))
	}
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Bind(s.RootDN, s.RootPassword)
}
