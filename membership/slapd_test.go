package membership

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// connSearcher adapts a bound go-ldap connection to ldapbridge.Searcher,
// counting the searches it runs.
type connSearcher struct {
	conn     *ldap.Conn
	searches int
}

var scopes = map[ldapbridge.Scope]int{
	ldapbridge.ScopeBase: ldap.ScopeBaseObject,
	ldapbridge.ScopeOne:  ldap.ScopeSingleLevel,
	ldapbridge.ScopeSub:  ldap.ScopeWholeSubtree,
}

func (c *connSearcher) Search(_ context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	c.searches++
	res, err := c.conn.Search(ldap.NewSearchRequest(req.BaseDN, scopes[req.Scope], ldap.NeverDerefAliases,
		req.SizeLimit, 0, false, req.Filter, req.Attributes, nil))
	if err != nil {
		return nil, err
	}
	out := make([]*ldapbridge.Entry, len(res.Entries))
	for i, e := range res.Entries {
		out[i] = &ldapbridge.Entry{DN: e.DN}
		for _, a := range e.Attributes {
			out[i].SetRaw(a.Name, a.ByteValues...)
		}
	}
	return out, nil
}

func (c *connSearcher) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	es, err := c.Search(ctx, req)
	if err != nil {
		return err
	}
	return fn(es)
}

func (c *connSearcher) user(t *testing.T, dn string, attrs []string) *ldapbridge.Entry {
	t.Helper()
	es, err := c.Search(context.Background(), &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: attrs})
	if err != nil || len(es) != 1 {
		t.Fatalf("read user %s: %d entries, %v", dn, len(es), err)
	}
	c.searches--
	return es[0]
}

type slapdCase struct {
	name       string
	cfg        config.Groups
	user       string
	wantGroups []string // DNs
	wantDirect []string // DNs
	// wantPerLevel is the number of entries each search returned, one
	// search per level (one base).
	wantPerLevel []int
	// wantEdges maps a group DN to its MemberOfDNs; nil skips the check.
	wantEdges map[string][]string
}

func classic(typ string, nested bool) config.Groups {
	return config.Groups{Type: typ, Nested: nested, Search: config.Searches{{BaseDN: slapdtest.ExGroupsDN, Scope: "sub"}}}
}

func TestResolveAgainstSlapd(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic, slapdtest.JumpCloud}})
	// A groupOfUniqueNames whose values carry the optional uid suffix:
	// bwayne's matches his x500UniqueIdentifier, jdoe's names an earlier
	// holder of his DN (he has none), so he is not a member.
	legacy := "cn=legacy," + slapdtest.ExGroupsDN
	srv.Apply(t, fmt.Sprintf("dn: %s\nchangetype: modify\nadd: x500UniqueIdentifier\nx500UniqueIdentifier: '0101'B\n\n"+
		"dn: %s\nobjectClass: groupOfUniqueNames\ncn: legacy\nuniqueMember: %s#'0101'B\nuniqueMember: %s#'1'B\n",
		slapdtest.ExBWayneDN, legacy, slapdtest.ExBWayneDN, slapdtest.ExJDoeDN))
	ex := &connSearcher{conn: srv.ConnAs(t, slapdtest.ExServiceDN, slapdtest.ExServicePassword)}
	jc := &connSearcher{conn: srv.ConnAs(t, slapdtest.JCServiceDN, slapdtest.JCServicePassword)}

	owner := classic(TypeMemberDN, false)
	owner.MemberAttribute = "owner"
	jcGroups := config.Groups{Type: TypeGroupOfNames, Nested: true, Search: config.Searches{{BaseDN: slapdtest.JCUsersDN, Filter: "(objectClass=groupOfNames)"}}}
	jcPosix := config.Groups{Type: TypePosix, Search: config.Searches{{BaseDN: slapdtest.JCGroupsDN, Scope: "one"}}}
	const dev, cA, cB, cC, sales = slapdtest.ExDevelopersDN, slapdtest.ExCycleADN, slapdtest.ExCycleBDN, slapdtest.ExCycleCDN, slapdtest.ExSalesEMEADN
	cycleEdges := map[string][]string{cA: {cC}, cB: {cA}, cC: {cB}, dev: nil}

	cases := []struct {
		c  slapdCase
		on *connSearcher
	}{
		{slapdCase{name: "group_of_names direct", cfg: classic(TypeGroupOfNames, false), user: slapdtest.ExJDoeDN,
			wantGroups: []string{cA, dev}, wantDirect: []string{cA, dev}, wantPerLevel: []int{2}}, ex},
		{slapdCase{name: "group_of_names nested cycle", cfg: classic(TypeGroupOfNames, true), user: slapdtest.ExJDoeDN,
			wantGroups: []string{cA, cB, cC, dev}, wantDirect: []string{cA, dev}, wantPerLevel: []int{2, 1, 1, 1}, wantEdges: cycleEdges}, ex},
		{slapdCase{name: "group_of_names nested with escaped comma", cfg: classic(TypeGroupOfNames, true), user: slapdtest.ExASmithDN,
			wantGroups: []string{cA, cB, cC, dev, sales}, wantDirect: []string{cB, dev, sales}, wantPerLevel: []int{3, 1, 1, 1},
			wantEdges: map[string][]string{cA: {cC}, cB: {cA}, cC: {cB}, dev: nil, sales: nil}}, ex},
		{slapdCase{name: "group_of_unique_names", cfg: classic(TypeGroupOfUniqueNames, true), user: slapdtest.ExPVendorDN,
			wantGroups: []string{slapdtest.ExAdminsDN}, wantDirect: []string{slapdtest.ExAdminsDN}, wantPerLevel: []int{1, 0}}, ex},
		{slapdCase{name: "group_of_unique_names with uid suffix", cfg: classic(TypeGroupOfUniqueNames, false), user: slapdtest.ExBWayneDN,
			wantGroups: []string{legacy}, wantDirect: []string{legacy}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "group_of_unique_names other uid suffix", cfg: classic(TypeGroupOfUniqueNames, false), user: slapdtest.ExJDoeDN,
			wantGroups: []string{slapdtest.ExAdminsDN}, wantDirect: []string{slapdtest.ExAdminsDN}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "posix memberUid", cfg: classic(TypePosix, true), user: slapdtest.ExJDoeDN,
			wantGroups: []string{slapdtest.ExUnixDN}, wantDirect: []string{slapdtest.ExUnixDN}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "posix primary gidNumber", cfg: classic(TypePosix, false), user: slapdtest.ExBWayneDN,
			wantGroups: []string{slapdtest.ExUnixDN}, wantDirect: []string{slapdtest.ExUnixDN}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "member_dn owner", cfg: owner, user: slapdtest.ExASmithDN,
			wantGroups: []string{slapdtest.ExOwnersDN}, wantDirect: []string{slapdtest.ExOwnersDN}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "organizational_role", cfg: classic(TypeOrganizationalRole, false), user: slapdtest.ExBWayneDN,
			wantGroups: []string{slapdtest.ExManagersDN}, wantDirect: []string{slapdtest.ExManagersDN}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "member_of direct", cfg: classic(TypeMemberOf, false), user: slapdtest.ExPVendorDN,
			wantGroups: []string{sales}, wantDirect: []string{sales}, wantPerLevel: []int{1}}, ex},
		{slapdCase{name: "member_of nested cycle", cfg: classic(TypeMemberOf, true), user: slapdtest.ExJDoeDN,
			wantGroups: []string{cA, cB, cC, dev}, wantDirect: []string{cA, dev}, wantPerLevel: []int{2, 1, 1}, wantEdges: cycleEdges}, ex},
		{slapdCase{name: "jumpcloud nested engineering ⊃ backend", cfg: jcGroups, user: slapdtest.JCNinaDN,
			wantGroups: []string{slapdtest.JCBackendGroupDN, slapdtest.JCEngineeringGroupDN}, wantDirect: []string{slapdtest.JCBackendGroupDN},
			wantPerLevel: []int{1, 1, 0}, wantEdges: map[string][]string{slapdtest.JCBackendGroupDN: {slapdtest.JCEngineeringGroupDN}, slapdtest.JCEngineeringGroupDN: nil}}, jc},
		{slapdCase{name: "jumpcloud non-ASCII DN in filter", cfg: jcGroups, user: slapdtest.JCJoseDN,
			wantGroups: []string{slapdtest.JCActiveGroupDN, slapdtest.JCDjangoAppGroupDN}, wantDirect: []string{slapdtest.JCActiveGroupDN, slapdtest.JCDjangoAppGroupDN},
			wantPerLevel: []int{2, 0}}, jc},
		{slapdCase{name: "jumpcloud posix non-ASCII uid", cfg: jcPosix, user: slapdtest.JCJoseDN, wantPerLevel: []int{0}}, jc},
		{slapdCase{name: "jumpcloud posix ascii uid", cfg: jcPosix, user: slapdtest.JCBobDN,
			wantGroups: []string{slapdtest.JCDjangoAppPosixDN, slapdtest.JCStaffPosixDN}, wantDirect: []string{slapdtest.JCDjangoAppPosixDN, slapdtest.JCStaffPosixDN},
			wantPerLevel: []int{2}}, jc},
	}
	for _, tc := range cases {
		t.Run(tc.c.name, func(t *testing.T) { checkSlapdCase(t, tc.on, tc.c) })
	}

	t.Run("posix non-ASCII uid has no memberUid clause", func(t *testing.T) {
		r := mustNew(t, jcPosix, Options{})
		res, err := r.UserGroups(context.Background(), jc, jc.user(t, slapdtest.JCJoseDN, r.UserAttributes()))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Queries) != 1 || strings.Contains(res.Queries[0].Filter, "memberUid") || !strings.Contains(res.Queries[0].Filter, "(gidNumber=5000)") {
			t.Errorf("queries = %+v", res.Queries)
		}
	})

	t.Run("escaped comma forms are the same group", func(t *testing.T) {
		r := mustNew(t, classic(TypeGroupOfNames, false), Options{})
		res, err := r.UserGroups(context.Background(), ex, ex.user(t, slapdtest.ExPVendorDN, r.UserAttributes()))
		if err != nil {
			t.Fatal(err)
		}
		in := r.Contains(res.Groups)
		if !in(`cn=Sales\2C EMEA,ou=groups,dc=example,dc=com`) || !in(`CN=sales\, emea,OU=Groups,DC=Example,DC=com`) {
			t.Errorf("Sales EMEA not found among %q", res.DNs())
		}
		if !reflect.DeepEqual(res.Names(), []string{"Sales, EMEA"}) {
			t.Errorf("names = %q", res.Names())
		}
	})

	t.Run("members of groups read for sync", func(t *testing.T) {
		for _, tt := range []struct {
			typ, dn  string
			dns, ids []string
		}{
			{TypeGroupOfUniqueNames, legacy, []string{slapdtest.ExBWayneDN, slapdtest.ExJDoeDN}, nil},
			{TypePosix, slapdtest.ExUnixDN, nil, []string{"asmith", "jdoe"}},
			{TypeGroupOfNames, slapdtest.ExCycleBDN, []string{slapdtest.ExASmithDN, slapdtest.ExCycleCDN}, nil},
		} {
			r := mustNew(t, classic(tt.typ, false), Options{})
			req := r.SyncRequests()[0]
			req.Filter = "(&" + req.Filter + "(entryDN=" + ldaptext.EscapeFilter(tt.dn) + "))"
			es, err := ex.Search(context.Background(), req)
			if err != nil || len(es) != 1 {
				t.Fatalf("%s: %d entries, %v", tt.dn, len(es), err)
			}
			dns, ids := r.Members(es[0])
			sort.Strings(dns)
			sort.Strings(ids)
			if !equalDNs(dns, tt.dns) || !reflect.DeepEqual(ids, tt.ids) {
				t.Errorf("%s: Members = %q %q, want %q %q", tt.dn, dns, ids, tt.dns, tt.ids)
			}
			if tt.typ == TypePosix && !r.IsPrimaryGroupOf(es[0], ex.user(t, slapdtest.ExBWayneDN, r.UserAttributes())) {
				t.Error("unix is not bwayne's primary group")
			}
			if r.StableID(es[0]) == "" {
				t.Errorf("%s: no entryUUID", tt.dn)
			}
		}
	})
}

func checkSlapdCase(t *testing.T, s *connSearcher, c slapdCase) {
	r := mustNew(t, c.cfg, Options{Flavor: ldapbridge.FlavorOpenLDAP})
	user := s.user(t, c.user, r.UserAttributes())
	before := s.searches
	res, err := r.UserGroups(context.Background(), s, user)
	if err != nil {
		t.Fatalf("UserGroups: %v (queries %+v)", err, res.Queries)
	}
	var dns, direct []string
	for _, g := range res.Groups {
		dns = append(dns, g.DN)
		if g.Direct {
			direct = append(direct, g.DN)
		}
		if g.StableID == "" || g.Name == "" {
			t.Errorf("%s: name %q stable id %q", g.DN, g.Name, g.StableID)
		}
		if c.wantEdges != nil {
			want, ok := lookupDN(c.wantEdges, g.DN)
			if !ok || !equalDNs(g.MemberOfDNs, want) {
				t.Errorf("%s: MemberOfDNs %q, want %q", g.DN, g.MemberOfDNs, want)
			}
		}
	}
	if !equalDNs(dns, c.wantGroups) || !equalDNs(direct, c.wantDirect) {
		t.Errorf("groups %q direct %q, want %q direct %q", dns, direct, c.wantGroups, c.wantDirect)
	}
	var perLevel []int
	for _, q := range res.Queries {
		perLevel = append(perLevel, q.Entries)
	}
	if len(c.wantPerLevel) == 1 && c.wantPerLevel[0] == 0 && len(perLevel) == 0 {
		perLevel = []int{0} // no search at all also satisfies "nothing found"
	}
	if !reflect.DeepEqual(perLevel, c.wantPerLevel) || s.searches-before != len(res.Queries) {
		t.Errorf("entries per search %v (%d searches run), want %v\n%s", perLevel, s.searches-before, c.wantPerLevel, queryList(res))
	}
}

func equalDNs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	norm := func(in []string) []string {
		out := make([]string, len(in))
		for i, d := range in {
			out[i] = ldaptext.MustNormalizeDN(d)
		}
		sort.Strings(out)
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func queryList(res *Result) string {
	var b strings.Builder
	for _, q := range res.Queries {
		fmt.Fprintf(&b, "  %s %s %s → %d\n", q.BaseDN, q.Scope, q.Filter, q.Entries)
	}
	return b.String()
}

func lookupDN(m map[string][]string, dn string) ([]string, bool) {
	for k, v := range m {
		if ldaptext.EqualDN(k, dn) {
			return v, true
		}
	}
	return nil, false
}
