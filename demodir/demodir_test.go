package demodir

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dial(t *testing.T, s *Server) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL())
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serviceConn is a connection bound as the service account.
func serviceConn(t *testing.T, s *Server) *ldap.Conn {
	t.Helper()
	c := dial(t, s)
	if err := c.Bind(ServiceDN, ServicePassword); err != nil {
		t.Fatalf("bind as service account: %v", err)
	}
	return c
}

func search(t *testing.T, c *ldap.Conn, base string, scope int, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %q: %v", base, filter, err)
	}
	return res.Entries
}

// rdnValues returns the first RDN value of each entry, sorted.
func rdnValues(entries []*ldap.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = firstRDNValue(e.DN)
	}
	slices.Sort(out)
	return out
}

func resultCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

func TestStartPicksAFreePortAndURLPointsAtIt(t *testing.T) {
	a, b := startServer(t), startServer(t)
	if a.URL() == b.URL() {
		t.Fatalf("two servers share %s", a.URL())
	}
	if !strings.HasPrefix(a.URL(), "ldap://127.0.0.1:") || strings.HasSuffix(a.URL(), ":0") {
		t.Fatalf("URL() = %q, want ldap://127.0.0.1:PORT", a.URL())
	}
	dial(t, a)
}

func TestStartRejectsAnAddressWithoutPort(t *testing.T) {
	if _, err := Start(t.Context(), "127.0.0.1"); err == nil {
		t.Fatal("Start accepted an address without a port")
	}
}

func TestStartOnATakenPortFails(t *testing.T) {
	a := startServer(t)
	if b, err := Start(t.Context(), a.Addr()); err == nil {
		_ = b.Close()
		t.Fatalf("second server started on %s", a.Addr())
	} else if !strings.Contains(err.Error(), a.Addr()) {
		t.Fatalf("error %q does not name the address", err)
	}
}

func TestCancelledContextStopsTheServer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dial(t, s)
	cancel()
	select {
	case <-s.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("server did not stop after its context was cancelled")
	}
	if c, err := ldap.DialURL(s.URL()); err == nil {
		_ = c.Close()
		t.Fatal("server still accepts connections after its context was cancelled")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after cancel: %v", err)
	}
}

func TestBind(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name     string
		dn, pass string
		wantCode uint16 // 0 = success
	}{
		{"service account", ServiceDN, ServicePassword, 0},
		{"demo user", UserDN("jdoe"), DemoPassword("jdoe"), 0},
		{"DN matched case-insensitively", strings.ToUpper(UserDN("jdoe")), DemoPassword("jdoe"), 0},
		{"wrong password", UserDN("jdoe"), "wrong", ldap.LDAPResultInvalidCredentials},
		{"another user's password", UserDN("jdoe"), DemoPassword("asmith"), ldap.LDAPResultInvalidCredentials},
		{"unknown DN", UserDN("nobody"), "whatever", ldap.LDAPResultInvalidCredentials},
		{"entry without password", UsersDN, "x", ldap.LDAPResultInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dial(t, s).Bind(tt.dn, tt.pass)
			if got := resultCode(err); got != tt.wantCode || (tt.wantCode == 0) != (err == nil) {
				t.Fatalf("Bind(%s) = %v (code %d), want code %d", tt.dn, err, got, tt.wantCode)
			}
		})
	}
	t.Run("unauthenticated bind refused", func(t *testing.T) {
		err := dial(t, s).UnauthenticatedBind(UserDN("jdoe"))
		if resultCode(err) != ldap.LDAPResultUnwillingToPerform {
			t.Fatalf("UnauthenticatedBind = %v, want unwillingToPerform", err)
		}
	})
}

func TestEveryLoginBindsAndItsRolesMatchTheGroups(t *testing.T) {
	s := startServer(t)
	in := func(group, dn string) bool {
		for _, m := range s.Entry(group).Values("member") {
			if dnKey(m) == dnKey(dn) {
				return true
			}
		}
		return false
	}
	logins := Logins()
	if len(logins) < 10 {
		t.Fatalf("only %d demo logins", len(logins))
	}
	seen := map[string]bool{}
	for _, l := range logins {
		if err := dial(t, s).Bind(l.DN, l.Password); err != nil {
			t.Errorf("login %s cannot bind: %v", l.Username, err)
		}
		var want string
		switch {
		case !in(GroupDjangoApp, l.DN):
			want = "not in Django App"
		case !in(GroupActive, l.DN):
			want = "inactive"
		case in(GroupSuperuser, l.DN) && in(GroupStaff, l.DN):
			want = "staff, superuser"
		case in(GroupStaff, l.DN):
			want = "staff"
		default:
			want = "regular user"
		}
		if l.Roles != want {
			t.Errorf("login %s: Roles = %q, but its groups make it %q", l.Username, l.Roles, want)
		}
		seen[l.Roles] = true
	}
	for _, r := range []string{"staff, superuser", "staff", "regular user", "inactive", "not in Django App"} {
		if !seen[r] {
			t.Errorf("no demo login with role %q", r)
		}
	}
	for _, g := range []string{GroupDjangoApp, GroupActive, GroupStaff, GroupSuperuser, GroupEngineering, GroupBackend} {
		if in(g, ServiceDN) {
			t.Errorf("service account is a member of %s", g)
		}
	}
}

func TestAnonymousMayReadOnlyTheRootDSE(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	if err := c.UnauthenticatedBind(""); err != nil {
		t.Fatalf("anonymous bind: %v", err)
	}
	_, err := c.Search(ldap.NewSearchRequest(UsersDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=jdoe)", nil, nil))
	if resultCode(err) != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("anonymous search = %v, want insufficientAccessRights", err)
	}
	if got := search(t, c, "", ldap.ScopeBaseObject, "(objectClass=*)", "vendorName"); len(got) != 1 {
		t.Fatalf("anonymous root DSE read returned %d entries", len(got))
	}
	// a failed bind drops an earlier identity
	if err := c.Bind(ServiceDN, ServicePassword); err != nil {
		t.Fatal(err)
	}
	_ = c.Bind(ServiceDN, "wrong")
	_, err = c.Search(ldap.NewSearchRequest(UsersDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=jdoe)", nil, nil))
	if resultCode(err) != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("search after failed bind = %v, want insufficientAccessRights", err)
	}
}

func TestRootDSE(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	e := search(t, c, "", ldap.ScopeBaseObject, "(objectClass=*)",
		"namingContexts", "supportedControl", "supportedLDAPVersion", "vendorName")[0]
	if got := e.GetAttributeValues("namingContexts"); !slices.Equal(got, []string{SuffixDN}) {
		t.Errorf("namingContexts = %q", got)
	}
	if got := e.GetAttributeValues("supportedControl"); !slices.Contains(got, ldap.ControlTypePaging) {
		t.Errorf("supportedControl = %q, want the paged results control", got)
	}
	if got := e.GetAttributeValue("supportedLDAPVersion"); got != "3" {
		t.Errorf("supportedLDAPVersion = %q", got)
	}
	if got := e.GetAttributeValue("vendorName"); got != VendorName {
		t.Errorf("vendorName = %q", got)
	}
	plain := search(t, c, "", ldap.ScopeBaseObject, "(objectClass=*)")[0]
	if plain.GetAttributeValue("namingContexts") != "" || plain.GetAttributeValue("objectClass") == "" {
		t.Errorf("root DSE without attribute list should carry only objectClass, got %v", plain.Attributes)
	}
	if all := search(t, c, "", ldap.ScopeBaseObject, "(objectClass=*)", "+"); all[0].GetAttributeValue("vendorName") != VendorName {
		t.Errorf(`root DSE with "+" lacks vendorName`)
	}
}
