package demodir

import (
	"bytes"
	"errors"
	"image/jpeg"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

func TestFilterEvaluation(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	staffLower := strings.ToLower(GroupStaff)
	tests := []struct {
		name   string
		filter string
		want   []string // first RDN values of the matching entries
	}{
		{"equality ignores case", "(&(objectClass=inetOrgPerson)(uid=JDOE))", []string{"jdoe"}},
		{"objectClass ignores case", "(&(objectclass=GROUPOFNAMES)(cn=backend))", []string{"Backend"}},
		{"escaped star is a literal star", `(uid=\2a)`, nil},
		{"escaped parenthesis", `(cn=John Doe\29)`, nil},
		{"presence", "(&(objectClass=inetOrgPerson)(!(jpegPhoto=*)))", []string{ServiceUsername, "jmuller", "kpatel"}},
		{"substring initial", "(cn=J*)", []string{"jdoe", "jmuller"}},
		{"substring final", "(&(uid=*)(mail=*n@demo.example.com))", []string{"cbrown", "ewilson", "gmartin", "hnguyen"}},
		{"substring any in order", "(displayName=*a*ar*)", []string{"fgarcia", "gmartin"}},
		{"substring initial any final", "(mail=a*mi*.com)", []string{"asmith"}},
		{"and", "(&(departmentNumber=Engineering)(title=Backend Engineer))", []string{"dlee", "jdoe"}},
		{"or", "(|(uid=asmith)(uid=bjones)(uid=nobody))", []string{"asmith", "bjones"}},
		{"not", "(&(objectClass=inetOrgPerson)(!(title=*Engineer*))(!(uid=ldapbridge-svc)))",
			[]string{"asmith", "bjones", "ewilson", "fgarcia", "gmartin", "ikim", "jmuller", "kpatel"}},
		{"not of a known but absent attribute matches", "(&(uid=ldapbridge-svc)(!(title=CTO)))", []string{ServiceUsername}},
		{"greater or equal is numeric", "(uidNumber>=5010)", []string{"ikim", "jmuller", "kpatel", ServiceUsername}},
		{"less or equal is numeric", "(uidNumber<=5002)", []string{"asmith", "bjones"}},
		{"approximate as equality", "(givenName~=GRACE)", []string{"gmartin"}},
		{"non-ASCII case folding", "(cn=jürgen müller)", []string{"jmuller"}},
		{"telephone numbers ignore spaces", "(telephoneNumber=+15550103)", []string{"jdoe"}},
		{"attribute alias", "(commonName=John Doe)", []string{"jdoe"}},
		{"memberOf by DN, case-insensitive", "(memberOf=" + staffLower + ")", []string{"asmith", "bjones"}},
		{"member by DN with spaces", "(member=uid=jdoe, ou=Users, o=demo0001, dc=jumpcloud, dc=com)",
			[]string{"Backend", "Django App", "active"}},
		{"unknown attribute matches nothing", "(favouriteColour=blue)", nil},
		{"negated unknown attribute matches nothing", "(!(favouriteColour=blue))", nil},
		{"extensible caseExactMatch", "(cn:caseExactMatch:=John Doe)", []string{"jdoe"}},
		{"extensible caseExactMatch respects case", "(cn:caseExactMatch:=john doe)", nil},
		// (attr:dn:=value) cannot be tested over the wire: go-ldap's
		// DecompileFilter, which gldap runs on every request, fails on the
		// decoded dnAttributes flag and gldap then drops the connection.
		// TestEvalFilterDNAttributes covers the evaluator directly.
		{"unsupported matching rule is undefined", "(member:1.2.840.113556.1.4.1941:=" + GroupBackend + ")", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rdnValues(search(t, c, UsersDN, ldap.ScopeWholeSubtree, tt.filter, "1.1"))
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s matched %q, want %q", tt.filter, got, want)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	total := len(s.Entries())
	tests := []struct {
		name  string
		base  string
		scope int
		want  int
	}{
		{"base", UsersDN, ldap.ScopeBaseObject, 1},
		{"one level below the organisation", OrgDN, ldap.ScopeSingleLevel, 1},
		{"one level below ou=Users", UsersDN, ldap.ScopeSingleLevel, total - 3},
		{"whole subtree from the suffix", SuffixDN, ldap.ScopeWholeSubtree, total},
		{"subtree of a leaf", UserDN("jdoe"), ldap.ScopeWholeSubtree, 1},
		{"one level below a leaf", UserDN("jdoe"), ldap.ScopeSingleLevel, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := search(t, c, tt.base, tt.scope, "(objectClass=*)", "1.1"); len(got) != tt.want {
				t.Fatalf("%d entries, want %d", len(got), tt.want)
			}
		})
	}
	t.Run("missing base names the closest existing entry", func(t *testing.T) {
		_, err := c.Search(ldap.NewSearchRequest("uid=x,ou=Gone,"+OrgDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		var le *ldap.Error
		if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultNoSuchObject || !strings.EqualFold(le.MatchedDN, OrgDN) {
			t.Fatalf("search under a missing base = %#v, want noSuchObject with matched DN %s", err, OrgDN)
		}
	})
}

func TestRequestedAttributes(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	jdoe := func(attrs ...string) *ldap.Entry {
		t.Helper()
		return search(t, c, UserDN("jdoe"), ldap.ScopeBaseObject, "(objectClass=*)", attrs...)[0]
	}
	has := func(e *ldap.Entry, name string) bool { return len(e.GetRawAttributeValues(name)) > 0 }
	tests := []struct {
		name     string
		attrs    []string
		want     []string
		dontWant []string
	}{
		{"default is user attributes only", nil, []string{"cn", "mail", "jpegPhoto", "objectClass"}, []string{"memberOf", "entryUUID", "modifyTimestamp"}},
		{"star is user attributes only", []string{"*"}, []string{"givenName", "uidNumber"}, []string{"memberOf", "createTimestamp"}},
		{"plus is operational only", []string{"+"}, []string{"memberOf", "entryUUID", "modifyTimestamp", "createTimestamp"}, []string{"cn", "mail"}},
		{"star and plus", []string{"*", "+"}, []string{"cn", "memberOf", "entryUUID"}, nil},
		{"named, case-insensitive", []string{"MEMBEROF", "Mail"}, []string{"memberOf", "mail"}, []string{"cn", "entryUUID"}},
		{"alias name", []string{"commonName"}, []string{"cn"}, []string{"mail"}},
		{"1.1 means none", []string{"1.1"}, nil, []string{"cn", "objectClass", "memberOf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := jdoe(tt.attrs...)
			for _, a := range tt.want {
				if !has(e, a) {
					t.Errorf("%s missing with attributes %q", a, tt.attrs)
				}
			}
			for _, a := range tt.dontWant {
				if has(e, a) {
					t.Errorf("%s returned with attributes %q", a, tt.attrs)
				}
			}
		})
	}
	t.Run("memberOf lists direct groups", func(t *testing.T) {
		got := jdoe("memberOf").GetAttributeValues("memberOf")
		want := []string{GroupDjangoApp, GroupActive, GroupBackend}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("memberOf = %q, want %q", got, want)
		}
	})
	t.Run("entryUUIDs are distinct and stable", func(t *testing.T) {
		seen := map[string]string{}
		for _, e := range search(t, c, SuffixDN, ldap.ScopeWholeSubtree, "(objectClass=*)", "entryUUID") {
			u := e.GetAttributeValue("entryUUID")
			if len(u) != 36 || seen[u] != "" {
				t.Fatalf("entryUUID %q of %s is malformed or shared with %s", u, e.DN, seen[u])
			}
			seen[u] = e.DN
		}
		again := startServer(t)
		if a, b := s.Entry(UserDN("jdoe")).First("entryUUID"), again.Entry(UserDN("jdoe")).First("entryUUID"); a != b {
			t.Fatalf("entryUUID differs between runs: %s vs %s", a, b)
		}
	})
}

func TestNestedGroupPair(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	eng := search(t, c, GroupEngineering, ldap.ScopeBaseObject, "(objectClass=groupOfNames)", "member")
	if len(eng) != 1 || !slices.Contains(eng[0].GetAttributeValues("member"), GroupBackend) {
		t.Fatalf("Engineering does not list Backend as a member: %v", eng)
	}
	parents := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(&(objectClass=groupOfNames)(member="+GroupBackend+"))", "cn")
	if got := rdnValues(parents); !slices.Equal(got, []string{"Engineering"}) {
		t.Fatalf("groups containing Backend = %q", got)
	}
	backend := search(t, c, GroupBackend, ldap.ScopeBaseObject, "(objectClass=*)", "memberOf")[0]
	if got := backend.GetAttributeValues("memberOf"); !slices.Equal(got, []string{GroupEngineering}) {
		t.Fatalf("Backend memberOf = %q", got)
	}
	// memberOf is not transitive, as with OpenLDAP's memberof overlay
	jdoe := search(t, c, UserDN("jdoe"), ldap.ScopeBaseObject, "(objectClass=*)", "memberOf")[0]
	if slices.Contains(jdoe.GetAttributeValues("memberOf"), GroupEngineering) {
		t.Fatal("memberOf of jdoe includes Engineering, reached only through Backend")
	}
}

func TestPagedSearchReturnsEveryUserAcrossPages(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	req := ldap.NewSearchRequest(UsersDN, ldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	all, err := c.SearchWithPaging(req, 3)
	if err != nil {
		t.Fatalf("SearchWithPaging: %v", err)
	}
	want := len(Logins()) + 1 // and the service account
	if len(all.Entries) != want {
		t.Fatalf("paged search returned %d users, want %d", len(all.Entries), want)
	}

	// walk the pages by hand to prove the server pages
	paging := ldap.NewControlPaging(3)
	req = ldap.NewSearchRequest(UsersDN, ldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, []ldap.Control{paging})
	pages, total := 0, 0
	for {
		res, err := c.Search(req)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		total += len(res.Entries)
		if len(res.Entries) > 3 {
			t.Fatalf("page %d has %d entries, page size is 3", pages, len(res.Entries))
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok {
			t.Fatalf("page %d has no paged results response control", pages)
		}
		if len(ctrl.Cookie) == 0 {
			break
		}
		paging.SetCookie(ctrl.Cookie)
	}
	if wantPages := (want + 2) / 3; pages != wantPages || total != want {
		t.Fatalf("%d pages with %d entries, want %d pages with %d", pages, total, wantPages, want)
	}
}

func TestPagingCookies(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	newReq := func(filter string, size uint32, cookie []byte) *ldap.SearchRequest {
		p := ldap.NewControlPaging(size)
		p.SetCookie(cookie)
		return ldap.NewSearchRequest(UsersDN, ldap.ScopeSingleLevel, 0, 0, 0, false, filter, []string{"uid"}, []ldap.Control{p})
	}
	first, err := c.Search(newReq("(uid=*)", 2, nil))
	if err != nil {
		t.Fatal(err)
	}
	cookie := ldap.FindControl(first.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie
	t.Run("forged cookie refused", func(t *testing.T) {
		_, err := c.Search(newReq("(uid=*)", 2, []byte("forged")))
		if resultCode(err) != ldap.LDAPResultProtocolError {
			t.Fatalf("forged cookie = %v, want protocolError", err)
		}
	})
	t.Run("cookie of another search refused", func(t *testing.T) {
		_, err := c.Search(newReq("(cn=*)", 2, cookie))
		if resultCode(err) != ldap.LDAPResultProtocolError {
			t.Fatalf("cookie reused with another filter = %v, want protocolError", err)
		}
	})
	t.Run("cookie only valid on its connection", func(t *testing.T) {
		_, err := serviceConn(t, s).Search(newReq("(uid=*)", 2, cookie))
		if resultCode(err) != ldap.LDAPResultProtocolError {
			t.Fatalf("cookie on another connection = %v, want protocolError", err)
		}
	})
	t.Run("page size 0 abandons", func(t *testing.T) {
		if _, err := c.Search(newReq("(uid=*)", 0, cookie)); err != nil {
			t.Fatalf("abandon: %v", err)
		}
		if _, err := c.Search(newReq("(uid=*)", 2, cookie)); resultCode(err) != ldap.LDAPResultProtocolError {
			t.Fatalf("cookie after abandon = %v, want protocolError", err)
		}
	})
}

func TestSizeLimits(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	users := func(sizeLimit int, controls ...ldap.Control) *ldap.SearchRequest {
		return ldap.NewSearchRequest(UsersDN, ldap.ScopeSingleLevel, 0, sizeLimit, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, controls)
	}
	res, err := c.Search(users(2))
	if resultCode(err) != ldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 2 {
		t.Fatalf("client size limit 2: err %v, want sizeLimitExceeded with 2 entries", err)
	}
	res, err = c.SearchWithPaging(users(5), 2)
	if resultCode(err) != ldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 5 {
		t.Fatalf("paged with size limit 5: err %v, want sizeLimitExceeded with 5 entries", err)
	}

	s.SetSizeLimit(4)
	res, err = c.Search(users(0))
	if resultCode(err) != ldap.LDAPResultSizeLimitExceeded || len(res.Entries) != 4 {
		t.Fatalf("server size limit 4: err %v, want sizeLimitExceeded with 4 entries", err)
	}
	all, err := c.SearchWithPaging(users(0), 3)
	if err != nil || len(all.Entries) != len(Logins())+1 {
		t.Fatalf("paged search under a server size limit: %v, %d entries; paged searches must not be capped", err, len(all.Entries))
	}
}

func TestJPEGPhotos(t *testing.T) {
	s := startServer(t)
	c := serviceConn(t, s)
	entries := search(t, c, UsersDN, ldap.ScopeSingleLevel, "(&(objectClass=inetOrgPerson)(jpegPhoto=*))", "jpegPhoto")
	if len(entries) < len(Logins())/2 {
		t.Fatalf("only %d users have a photo", len(entries))
	}
	seen := map[string]bool{}
	for _, e := range entries {
		raw := e.GetRawAttributeValue("jpegPhoto")
		img, err := jpeg.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("jpegPhoto of %s does not decode: %v", e.DN, err)
		}
		if b := img.Bounds(); b.Dx() != avatarSize || b.Dy() != avatarSize {
			t.Fatalf("photo of %s is %v", e.DN, b)
		}
		seen[string(raw)] = true
	}
	if len(seen) != len(entries) {
		t.Fatalf("%d photos but only %d distinct", len(entries), len(seen))
	}
	if again, _ := avatar(0); !bytes.Equal(again, s.Entry(UserDN(people[0].uid)).Raw("jpegPhoto")[0]) {
		t.Fatal("avatar generation is not deterministic")
	}
}

func TestEvalFilterDNAttributes(t *testing.T) {
	c := &candidate{dn: "uid=jdoe,ou=Users,o=demo0001,dc=jumpcloud,dc=com",
		attrs: []ldapbridge.Attribute{{Name: "cn", Values: [][]byte{[]byte("John Doe")}}}}
	tests := []struct {
		filter string
		want   tri
	}{
		{"(ou:dn:=users)", isTrue},
		{"(ou:=users)", isFalse},
		{"(o:dn:=demo0002)", isFalse},
		{"(!(favouriteColour=x))", isUndefined},
		{"(|(favouriteColour=x)(cn=john doe))", isTrue},
		{"(&(favouriteColour=x)(cn=nobody))", isFalse},
	}
	for _, tt := range tests {
		p, err := compileFilter(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := evalFilter(p, c); err != nil || got != tt.want {
			t.Errorf("%s = %v (%v), want %v", tt.filter, got, err, tt.want)
		}
	}
}
