package membership

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

const (
	base     = "ou=Groups,dc=example,dc=com"
	people   = "ou=People,dc=example,dc=com"
	oddUser  = `uid=a*b(c)\,d,ou=People,dc=example,dc=com`
	oddUserF = `uid=a\2ab\28c\29\5c,d,ou=People,dc=example,dc=com`
)

func groupsCfg(typ string, nested bool) config.Groups {
	return config.Groups{
		Type:   typ,
		Nested: nested,
		Search: config.Searches{{BaseDN: base, Scope: "sub"}},
	}
}

func mustNew(t *testing.T, cfg config.Groups, opts Options) *Resolver {
	t.Helper()
	r, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func group(cn, class, attr string, members ...string) *ldapbridge.Entry {
	return ldapbridge.NewEntry("cn="+cn+","+base, map[string][]string{
		"cn": {cn}, "objectClass": {class}, attr: members, "entryUUID": {"uuid-" + cn},
	})
}

func filters(f *fakeDir) []string {
	out := make([]string, len(f.requests))
	for i, r := range f.requests {
		out[i] = r.Filter
	}
	return out
}

func names(res *Result) string { return strings.Join(res.Names(), ",") }

func TestDirectSearchEscapesUserDNForEveryDNValuedType(t *testing.T) {
	tests := []struct {
		typ, memberAttr, class, attr, wantFilter string
	}{
		{TypeGroupOfNames, "", "groupOfNames", "member", `(&(objectClass=groupOfNames)(member=` + oddUserF + `))`},
		{TypeGroupOfUniqueNames, "", "groupOfUniqueNames", "uniqueMember", `(&(objectClass=groupOfUniqueNames)(uniqueMember=` + oddUserF + `))`},
		{TypeMemberDN, "owner", "groupOfNames", "owner", `(&(objectClass=*)(owner=` + oddUserF + `))`},
		{TypeActiveDirectory, "", "group", "member", `(&(objectClass=group)(member=` + oddUserF + `))`},
		{TypeOrganizationalRole, "", "organizationalRole", "roleOccupant", `(&(objectClass=organizationalRole)(roleOccupant=` + oddUserF + `))`},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			cfg := groupsCfg(tt.typ, false)
			cfg.MemberAttribute = tt.memberAttr
			r := mustNew(t, cfg, Options{})
			member := oddUser
			if tt.attr == "uniqueMember" {
				member += "#'0101'B"
			}
			f := newFake(
				group("in", tt.class, tt.attr, member),
				group("out", tt.class, tt.attr, "uid=other,"+people),
			)
			res, err := r.UserGroups(context.Background(), f, ldapbridge.NewEntry(oddUser, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := filters(f); len(got) != 1 || got[0] != tt.wantFilter {
				t.Errorf("filters = %q, want [%q]", got, tt.wantFilter)
			}
			if names(res) != "in" || !res.Groups[0].Direct || res.Groups[0].StableID != "uuid-in" {
				t.Errorf("groups = %+v, want only direct group in", res.Groups)
			}
			if len(res.Queries) != 1 || res.Queries[0].Entries != 1 || res.Queries[0].Scope != "sub" {
				t.Errorf("queries = %+v", res.Queries)
			}
		})
	}
}

func posixUser(uid, gid string) *ldapbridge.Entry {
	attrs := map[string][]string{"uid": {uid}}
	if gid != "" {
		attrs["gidNumber"] = []string{gid}
	}
	return ldapbridge.NewEntry("uid="+uid+","+people, attrs)
}

func TestPosixMatchesMemberUidAndPrimaryGIDButNeverNonASCII(t *testing.T) {
	entries := func() []*ldapbridge.Entry {
		dev := group("dev", "posixGroup", "memberUid", "jdoe", "a*b")
		dev.Set("gidNumber", "6000")
		staff := group("staff", "posixGroup", "memberUid")
		staff.Set("gidNumber", "5000")
		return []*ldapbridge.Entry{dev, staff}
	}
	tests := []struct {
		name       string
		user       *ldapbridge.Entry
		wantFilter []string
		wantGroups string
	}{
		{"uid and primary gid", posixUser("jdoe", "5000"),
			[]string{"(&(objectClass=posixGroup)(|(memberUid=jdoe)(gidNumber=5000)))"}, "dev,staff"},
		{"uid is escaped", posixUser("a*b", ""),
			[]string{`(&(objectClass=posixGroup)(memberUid=a\2ab))`}, "dev"},
		{"non-ASCII uid keeps only gid", posixUser("josé", "5000"),
			[]string{"(&(objectClass=posixGroup)(gidNumber=5000))"}, "staff"},
		{"non-ASCII uid without gid issues no search", posixUser("josé", ""), nil, ""},
		{"non-numeric gid is ignored", posixUser("jdoe", "5000)(x=*"),
			[]string{"(&(objectClass=posixGroup)(memberUid=jdoe))"}, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, groupsCfg(TypePosix, true), Options{})
			f := newFake(entries()...)
			res, err := r.UserGroups(context.Background(), f, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if got := filters(f); !reflect.DeepEqual(got, tt.wantFilter) && len(got)+len(tt.wantFilter) > 0 {
				t.Errorf("filters = %q, want %q", got, tt.wantFilter)
			}
			if names(res) != tt.wantGroups {
				t.Errorf("groups = %q, want %q", names(res), tt.wantGroups)
			}
		})
	}
}

func TestNestedCostsOneSearchPerLevelAndStopsAtCycles(t *testing.T) {
	// user ∈ C, C ∈ B, B ∈ A, A ∈ C (a cycle); user ∈ D too, D ∈ B.
	user := "uid=jdoe," + people
	f := newFake(
		group("A", "groupOfNames", "member", "cn=B,"+base),
		group("B", "groupOfNames", "member", "cn=C,"+base, "cn=D,"+base),
		group("C", "groupOfNames", "member", user, "cn=A,"+base),
		group("D", "groupOfNames", "member", user),
		group("E", "groupOfNames", "member", "uid=x,"+people),
	)
	r := mustNew(t, groupsCfg(TypeGroupOfNames, true), Options{})
	res, err := r.UserGroups(context.Background(), f, ldapbridge.NewEntry(user, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"(&(objectClass=groupOfNames)(member=uid=jdoe,ou=People,dc=example,dc=com))",
		"(&(objectClass=groupOfNames)(|(member=cn=C,ou=Groups,dc=example,dc=com)(member=cn=D,ou=Groups,dc=example,dc=com)))",
		"(&(objectClass=groupOfNames)(member=cn=B,ou=Groups,dc=example,dc=com))",
		"(&(objectClass=groupOfNames)(member=cn=A,ou=Groups,dc=example,dc=com))",
	}
	if got := filters(f); !reflect.DeepEqual(got, want) {
		t.Fatalf("filters =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if names(res) != "A,B,C,D" {
		t.Fatalf("groups = %q", names(res))
	}
	wantEdges := map[string]struct {
		direct  bool
		parents []string
	}{
		"A": {false, []string{"cn=C," + base}},
		"B": {false, []string{"cn=A," + base}},
		"C": {true, []string{"cn=B," + base}},
		"D": {true, []string{"cn=B," + base}},
	}
	for _, g := range res.Groups {
		w := wantEdges[g.Name]
		if g.Direct != w.direct || !reflect.DeepEqual(g.MemberOfDNs, w.parents) {
			t.Errorf("%s: direct=%v parents=%q, want direct=%v parents=%q", g.Name, g.Direct, g.MemberOfDNs, w.direct, w.parents)
		}
	}
}

func TestNestedSearchPerLevelPerBase(t *testing.T) {
	other := "ou=Roles,dc=example,dc=com"
	user := "uid=jdoe," + people
	cfg := groupsCfg(TypeGroupOfNames, true)
	cfg.Search = append(cfg.Search, config.Search{BaseDN: other, Scope: "one", Filter: "objectClass=groupOfNames"})
	f := newFake(
		group("team", "groupOfNames", "member", user),
		ldapbridge.NewEntry("cn=role,"+other, map[string][]string{"objectClass": {"groupOfNames"}, "member": {"cn=team," + base}}),
	)
	res, err := mustNew(t, cfg, Options{}).UserGroups(context.Background(), f, ldapbridge.NewEntry(user, nil))
	if err != nil {
		t.Fatal(err)
	}
	// Level 0 and 1 each search both bases; level 2 (frontier: role) too.
	if len(f.requests) != 6 || names(res) != "role,team" {
		t.Fatalf("%d searches %q, groups %q", len(f.requests), filters(f), names(res))
	}
	if res.Groups[0].Name != "role" || res.Groups[0].Direct || res.Groups[1].MemberOfDNs[0] != "cn=role,"+other {
		t.Errorf("groups = %+v", res.Groups)
	}
}

func TestNestedSplitsLargeFrontierIntoORsOfAtMost500(t *testing.T) {
	user := "uid=jdoe," + people
	var entries []*ldapbridge.Entry
	for i := range 1001 {
		entries = append(entries, group(fmt.Sprintf("g%04d", i), "groupOfNames", "member", user))
	}
	entries = append(entries, group("top", "groupOfNames", "member", "cn=g0000,"+base, "cn=g1000,"+base))
	f := newFake(entries...)
	res, err := mustNew(t, groupsCfg(TypeGroupOfNames, true), Options{}).UserGroups(context.Background(), f, ldapbridge.NewEntry(user, nil))
	if err != nil {
		t.Fatal(err)
	}
	// level 0: 1; level 1: 3 chunks (500, 500, 1); level 2 (top): 1.
	if len(f.requests) != 5 {
		t.Fatalf("searches = %d, want 5", len(f.requests))
	}
	for i, want := range []int{1, 500, 500, 1, 1} {
		if got := strings.Count(f.requests[i].Filter, "(member="); got != want {
			t.Errorf("search %d ORs %d member terms, want %d", i, got, want)
		}
	}
	if len(res.Groups) != 1002 {
		t.Fatalf("groups = %d, want 1002", len(res.Groups))
	}
	for _, g := range res.Groups {
		wantParent := g.Name == "g0000" || g.Name == "g1000"
		if (len(g.MemberOfDNs) == 1) != wantParent {
			t.Errorf("%s parents = %q", g.Name, g.MemberOfDNs)
		}
	}
}

func TestNestedDeeperThanMaxDepthFails(t *testing.T) {
	user := "uid=jdoe," + people
	entries := []*ldapbridge.Entry{group("g0", "groupOfNames", "member", user)}
	for i := 1; i <= 5; i++ {
		entries = append(entries, group(fmt.Sprintf("g%d", i), "groupOfNames", "member", fmt.Sprintf("cn=g%d,%s", i-1, base)))
	}
	for _, tt := range []struct {
		depth   int
		wantErr bool
	}{{3, true}, {5, false}} {
		f := newFake(entries...)
		res, err := mustNew(t, groupsCfg(TypeGroupOfNames, true), Options{MaxDepth: tt.depth}).
			UserGroups(context.Background(), f, ldapbridge.NewEntry(user, nil))
		if got := errors.Is(err, ErrTooDeep); got != tt.wantErr {
			t.Errorf("MaxDepth %d: err = %v, want too deep %v", tt.depth, err, tt.wantErr)
		}
		if tt.wantErr && !strings.Contains(err.Error(), "groups.nested") {
			t.Errorf("error does not name the key: %v", err)
		}
		if !tt.wantErr && len(res.Groups) != 6 {
			t.Errorf("MaxDepth %d: %d groups", tt.depth, len(res.Groups))
		}
	}
}

func TestActiveDirectoryNestedIsOneInChainSearch(t *testing.T) {
	user := `CN=Doe\, John,CN=Users,DC=corp,DC=example`
	adBase := "CN=Users,DC=corp,DC=example"
	mk := func(cn string, memberOf []string, members ...string) *ldapbridge.Entry {
		return ldapbridge.NewEntry("CN="+cn+","+adBase, map[string][]string{
			"cn": {cn}, "objectClass": {"top", "group"}, "member": members, "memberOf": memberOf,
			"objectGUID": {"\x10\x32\x54\x76\x98\xba\xdc\xfe\x01\x23\x45\x67\x89\xab\xcd\xef"},
		})
	}
	f := newFake(
		mk("Devs", []string{"CN=Staff," + adBase}, user),
		mk("Staff", []string{"CN=All," + adBase}, "CN=Devs,"+adBase),
		mk("All", nil, "CN=Staff,"+adBase),
		mk("Other", nil, "CN=x,"+adBase),
	)
	for _, tt := range []struct {
		name       string
		typ        string
		flavor     ldapbridge.Flavor
		memberOf   []string
		wantDirect string
	}{
		{"type active_directory", TypeActiveDirectory, "", []string{"cn=devs,cn=users,dc=corp,dc=example"}, "Devs"},
		{"flavor active_directory", TypeGroupOfNames, ldapbridge.FlavorActiveDirectory, []string{"CN=Devs," + adBase}, "Devs"},
		{"memberOf not read: all direct", TypeActiveDirectory, "", nil, "All,Devs,Staff"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.requests = nil
			cfg := config.Groups{Type: tt.typ, Nested: true, Search: config.Searches{{BaseDN: adBase, Filter: "(objectClass=group)"}}}
			r := mustNew(t, cfg, Options{Flavor: tt.flavor})
			if !reflect.DeepEqual(r.UserAttributes(), []string{"memberOf", "objectSid", "primaryGroupID"}) {
				t.Errorf("UserAttributes = %q", r.UserAttributes())
			}
			u := ldapbridge.NewEntry(user, nil)
			if tt.memberOf != nil {
				u.Set("memberOf", tt.memberOf...)
			}
			res, err := r.UserGroups(context.Background(), f, u)
			if err != nil {
				t.Fatal(err)
			}
			want := `(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Doe\5c, John,CN=Users,DC=corp,DC=example))`
			if got := filters(f); len(got) != 1 || got[0] != want {
				t.Fatalf("filters = %q, want [%q]", got, want)
			}
			var direct []string
			for _, g := range res.Groups {
				if g.Direct {
					direct = append(direct, g.Name)
				}
				if g.StableID != "76543210-ba98-fedc-0123-456789abcdef" {
					t.Errorf("%s stable id %q", g.Name, g.StableID)
				}
			}
			if names(res) != "All,Devs,Staff" || strings.Join(direct, ",") != tt.wantDirect {
				t.Errorf("groups %q direct %q, want direct %q", names(res), direct, tt.wantDirect)
			}
			if res.Groups[1].MemberOfDNs[0] != "CN=Staff,"+adBase {
				t.Errorf("Devs parents = %q", res.Groups[1].MemberOfDNs)
			}
		})
	}
}

func TestMemberOfReadsGroupsByRDNAndKeepsOnlyWantedDNs(t *testing.T) {
	sales := `cn=Sales\2C EMEA,` + base
	f := newFake(
		ldapbridge.NewEntry(`cn=Sales\, EMEA,`+base, map[string][]string{"cn": {"Sales, EMEA"}, "memberOf": {"cn=Org," + base}}),
		ldapbridge.NewEntry("cn=Org,"+base, map[string][]string{"cn": {"Org"}, "memberOf": {"cn=Top," + base}}),
		ldapbridge.NewEntry("cn=Top,"+base, map[string][]string{"cn": {"Top"}, "memberOf": {`cn=Sales\, EMEA,` + base}}),
		// Same RDN, different DN: matched by the filter, dropped by DN.
		ldapbridge.NewEntry(`cn=Sales\, EMEA,ou=Old,`+base, map[string][]string{"cn": {"Sales, EMEA"}}),
	)
	user := ldapbridge.NewEntry("uid=jdoe,"+people, map[string][]string{"memberOf": {sales, "cn=Elsewhere,dc=other,dc=org"}})
	for _, nested := range []bool{false, true} {
		t.Run(fmt.Sprintf("nested=%v", nested), func(t *testing.T) {
			f.requests = nil
			res, err := mustNew(t, groupsCfg(TypeMemberOf, nested), Options{}).UserGroups(context.Background(), f, user)
			if err != nil {
				t.Fatal(err)
			}
			wantFilters := []string{`(&(objectClass=*)(cn=Sales, EMEA))`}
			wantNames := "Sales, EMEA"
			if nested {
				wantFilters = append(wantFilters, `(&(objectClass=*)(cn=Org))`, `(&(objectClass=*)(cn=Top))`)
				wantNames = "Org,Sales, EMEA,Top"
			}
			if got := filters(f); !reflect.DeepEqual(got, wantFilters) {
				t.Errorf("filters = %q, want %q", got, wantFilters)
			}
			if names(res) != wantNames {
				t.Fatalf("groups = %q, want %q", names(res), wantNames)
			}
			if nested {
				for _, g := range res.Groups {
					if g.Direct != (g.Name == "Sales, EMEA") || len(g.MemberOfDNs) != 1 {
						t.Errorf("%s: direct %v parents %q", g.Name, g.Direct, g.MemberOfDNs)
					}
				}
			}
		})
	}
}

func TestMemberOfWithoutValuesIssuesNoSearch(t *testing.T) {
	f := newFake()
	res, err := mustNew(t, groupsCfg(TypeMemberOf, true), Options{}).UserGroups(context.Background(), f, ldapbridge.NewEntry("uid=x,"+people, nil))
	if err != nil || len(f.requests) != 0 || len(res.Groups) != 0 {
		t.Errorf("err %v, %d searches, %d groups", err, len(f.requests), len(res.Groups))
	}
}

func TestSearchErrorNamesTheBaseAndKeepsQueries(t *testing.T) {
	f := newFake()
	f.fail = fmt.Errorf("size limit: %w", ldapbridge.ErrIncomplete)
	res, err := mustNew(t, groupsCfg(TypeGroupOfNames, true), Options{}).UserGroups(context.Background(), f, ldapbridge.NewEntry("uid=x,"+people, nil))
	if !errors.Is(err, ldapbridge.ErrIncomplete) || !strings.Contains(err.Error(), "groups.search[0]") {
		t.Errorf("err = %v", err)
	}
	if len(res.Queries) != 1 {
		t.Errorf("queries = %+v", res.Queries)
	}
}

func TestMembersPerType(t *testing.T) {
	tests := []struct {
		typ      string
		entry    *ldapbridge.Entry
		dns, ids []string
	}{
		{TypeGroupOfUniqueNames, group("u", "groupOfUniqueNames", "uniqueMember", "uid=a,"+people+"#'0101'B", "uid=b,"+people, `uid=c\#'1'B,`+people),
			[]string{"uid=a," + people, "uid=b," + people, `uid=c\#'1'B,` + people}, nil},
		{TypeGroupOfNames, group("n", "groupOfNames", "member", "uid=a,"+people), []string{"uid=a," + people}, nil},
		{TypePosix, group("p", "posixGroup", "memberUid", "a", "b"), nil, []string{"a", "b"}},
		{TypeOrganizationalRole, group("r", "organizationalRole", "roleOccupant", "uid=a,"+people), []string{"uid=a," + people}, nil},
		{TypeMemberOf, group("m", "groupOfNames", "member", "uid=a,"+people), []string{"uid=a," + people}, nil},
	}
	for _, tt := range tests {
		dns, ids := mustNew(t, groupsCfg(tt.typ, false), Options{}).Members(tt.entry)
		if !reflect.DeepEqual(dns, tt.dns) || !reflect.DeepEqual(ids, tt.ids) {
			t.Errorf("%s: Members = %q, %q; want %q, %q", tt.typ, dns, ids, tt.dns, tt.ids)
		}
	}
}

func TestContainsComparesNormalisedDNs(t *testing.T) {
	r := mustNew(t, groupsCfg(TypeGroupOfNames, false), Options{})
	in := r.Contains([]Group{{DN: `cn=Sales\2C EMEA,ou=Groups,dc=example,dc=com`}})
	q := ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: `CN=sales\, emea, OU=Groups,DC=example,DC=com`}}}
	if !q.Eval(in) {
		t.Error("escaped-comma forms did not compare equal")
	}
	if in("cn=Sales,ou=Groups,dc=example,dc=com") {
		t.Error("different group matched")
	}
}

func TestIsPrimaryGroupOf(t *testing.T) {
	g := group("staff", "posixGroup", "memberUid")
	g.Set("gidNumber", "5000")
	r := mustNew(t, groupsCfg(TypePosix, false), Options{})
	if !r.IsPrimaryGroupOf(g, posixUser("a", "5000")) || r.IsPrimaryGroupOf(g, posixUser("a", "5001")) || r.IsPrimaryGroupOf(g, posixUser("a", "")) {
		t.Error("primary gidNumber mismatch")
	}
}

func TestNewRejectsBadConfigNamingTheKey(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.Groups
		wantKey string
	}{
		{"unknown type", config.Groups{Type: "ldap", Search: config.Searches{{BaseDN: base}}}, "groups.type"},
		{"member_dn needs attribute", config.Groups{Type: TypeMemberDN, Search: config.Searches{{BaseDN: base}}}, "groups.member_attribute"},
		{"posix member attribute", config.Groups{Type: TypePosix, MemberAttribute: "member", Search: config.Searches{{BaseDN: base}}}, "groups.member_attribute"},
		{"no search", config.Groups{Type: TypeGroupOfNames}, "groups.search"},
		{"empty base", config.Groups{Search: config.Searches{{Filter: "(cn=x)"}}}, "groups.search[0].base_dn"},
		{"bad base", config.Groups{Search: config.Searches{{BaseDN: "not a dn"}}}, "groups.search[0].base_dn"},
		{"bad filter", config.Groups{Search: config.Searches{{BaseDN: base, Filter: "(&(cn=x)"}}}, "groups.search[0].filter"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantKey) {
			t.Errorf("%s: err = %v, want it to start with %s", tt.name, err, tt.wantKey)
		}
	}
}

func TestAttributesPerType(t *testing.T) {
	tests := []struct {
		typ        string
		opts       Options
		user, grp  []string
		nested     bool
		memberAttr string
	}{
		{TypeGroupOfNames, Options{Flavor: ldapbridge.FlavorOpenLDAP}, []string{}, []string{"cn", "objectClass", "entryUUID", "member"}, false, ""},
		{TypePosix, Options{UsernameAttribute: "login"}, []string{"login", "gidNumber"}, []string{"cn", "objectClass", "entryUUID", "objectGUID", "nsUniqueId", "memberUid", "gidNumber"}, true, ""},
		{TypeMemberOf, Options{Flavor: ldapbridge.Flavor389DS}, []string{"memberOf"}, []string{"cn", "objectClass", "nsUniqueId", "uniqueMember", "memberOf"}, false, "uniqueMember"},
		{TypeActiveDirectory, Options{Flavor: ldapbridge.FlavorActiveDirectory}, []string{"objectSid", "primaryGroupID"}, []string{"cn", "objectClass", "objectSid", "objectGUID", "member"}, false, ""},
		{TypeActiveDirectory, Options{}, []string{"memberOf", "objectSid", "primaryGroupID"}, []string{"cn", "objectClass", "objectSid", "entryUUID", "objectGUID", "nsUniqueId", "member"}, true, ""},
	}
	for _, tt := range tests {
		cfg := groupsCfg(tt.typ, tt.nested)
		cfg.MemberAttribute = tt.memberAttr
		r := mustNew(t, cfg, tt.opts)
		if !reflect.DeepEqual(r.UserAttributes(), tt.user) || !reflect.DeepEqual(r.GroupAttributes(), tt.grp) {
			t.Errorf("%s: UserAttributes %q GroupAttributes %q; want %q %q", tt.typ, r.UserAttributes(), r.GroupAttributes(), tt.user, tt.grp)
		}
	}
}

func TestStripUIDAndFormatGUID(t *testing.T) {
	for in, want := range map[string]string{
		"uid=a,dc=x#'0101'B": "uid=a,dc=x",
		"uid=a,dc=x#'01x1'B": "uid=a,dc=x#'01x1'B",
		"uid=a,dc=x":         "uid=a,dc=x",
		`uid=a\#'1'B`:        `uid=a\#'1'B`,
	} {
		if got := StripUID(in); got != want {
			t.Errorf("StripUID(%q) = %q, want %q", in, got, want)
		}
	}
	guid := []byte{0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	if got := FormatGUID(guid); got != "76543210-ba98-fedc-0123-456789abcdef" {
		t.Errorf("FormatGUID = %q", got)
	}
}

func TestUniqueMemberMatchesTheUsersUniqueIdentifier(t *testing.T) {
	user := "uid=jdoe," + people
	f := newFake(
		group("plain", "groupOfUniqueNames", "uniqueMember", user),
		group("suffixed", "groupOfUniqueNames", "uniqueMember", user+"#'0101'B"),
	)
	r := mustNew(t, groupsCfg(TypeGroupOfUniqueNames, false), Options{})
	if !reflect.DeepEqual(r.UserAttributes(), []string{"x500UniqueIdentifier"}) {
		t.Errorf("UserAttributes = %q", r.UserAttributes())
	}
	u := ldapbridge.NewEntry(user, map[string][]string{"x500UniqueIdentifier": {"'0101'B"}})
	if _, err := r.UserGroups(context.Background(), f, u); err != nil {
		t.Fatal(err)
	}
	want := `(&(objectClass=groupOfUniqueNames)(|(uniqueMember=uid=jdoe,ou=People,dc=example,dc=com)(uniqueMember=uid=jdoe,ou=People,dc=example,dc=com#'0101'B)))`
	if got := filters(f); len(got) != 1 || got[0] != want {
		t.Errorf("filters = %q, want [%q]", got, want)
	}
}
