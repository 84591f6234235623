package adtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
	"github.com/ldapbridge/ldapbridge/ldaptext"
	"github.com/ldapbridge/ldapbridge/membership"
)

func resolver(t *testing.T, e *env) *membership.Resolver {
	t.Helper()
	r, err := membership.New(e.cfg.Groups, membership.Options{Flavor: e.cfg.Directory.Flavor})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func userEntry(t *testing.T, e *env, r *membership.Resolver, sam string) *ldapbridge.Entry {
	t.Helper()
	es, err := e.dir.Search(context.Background(), &ldapbridge.SearchRequest{BaseDN: sambatest.PeopleDN, Scope: ldapbridge.ScopeSub,
		Filter: "(sAMAccountName=" + ldaptext.EscapeFilter(sam) + ")", Attributes: r.UserAttributes()})
	if err != nil || len(es) != 1 {
		t.Fatalf("read %s: %d entries, %v", sam, len(es), err)
	}
	return es[0]
}

func TestInChainResolvesThreeLevelsInOneSearch(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	r := resolver(t, e)
	res, err := r.UserGroups(context.Background(), e.dir, userEntry(t, e, r, sambatest.NinaSAM))
	if err != nil {
		t.Fatal(err)
	}
	// One in-chain search for the user (three levels and the primary
	// group by objectSid), and one for the groups that contain the primary
	// group (Domain Users is in Builtin\Users), which the rule does not
	// follow and a sync does.
	if len(res.Queries) != 2 || !strings.Contains(res.Queries[0].Filter, "member:"+membership.InChainRule+":=") ||
		!strings.Contains(res.Queries[1].Filter, "member:"+membership.InChainRule+":="+ldaptext.EscapeFilter(sambatest.DomainUsersDN)) {
		t.Fatalf("queries %+v, want an in-chain search for the user and one for her primary group", res.Queries)
	}
	byName := map[string]membership.Group{}
	for _, g := range res.Groups {
		byName[g.Name] = g
	}
	for _, tc := range []struct {
		name     string
		direct   bool
		memberOf string
	}{
		{sambatest.Level3Group, true, sambatest.GroupDN(sambatest.Level2Group)},
		{sambatest.Level2Group, false, sambatest.GroupDN(sambatest.Level1Group)},
		{sambatest.Level1Group, false, ""},
		{"Domain Users", true, "CN=Users,CN=Builtin," + sambatest.BaseDN},
		{"Users", false, ""},
	} {
		g, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s not resolved; got %v", tc.name, res.Names())
			continue
		}
		if g.Direct != tc.direct || (tc.memberOf != "" && !slices.Contains(g.MemberOfDNs, tc.memberOf)) {
			t.Errorf("%s: direct=%v memberOf=%v, want direct=%v and %q", tc.name, g.Direct, g.MemberOfDNs, tc.direct, tc.memberOf)
		}
	}
	if res.PrimaryGroupDN != sambatest.DomainUsersDN {
		t.Errorf("primary group %q, want %q", res.PrimaryGroupDN, sambatest.DomainUsersDN)
	}
}

func TestPrimaryGroupWithoutNesting(t *testing.T) {
	dc := sambatest.Start(t)
	cfg := adConfig(t, dc, "active_directory")
	cfg.Groups.Nested = false
	e := newEnv(t, cfg)
	r := resolver(t, e)
	res, err := r.UserGroups(context.Background(), e.dir, userEntry(t, e, r, sambatest.AliceSAM))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Queries) != 1 || res.PrimaryGroupDN != sambatest.GroupDN(sambatest.StaffGroup) || !slices.Contains(res.Names(), sambatest.StaffGroup) {
		t.Errorf("queries %d, primary %q, groups %v; want one search finding Staff", len(res.Queries), res.PrimaryGroupDN, res.Names())
	}
}

func TestRangedMemberReadOfALargeGroup(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	r := resolver(t, e)
	members, queries, err := r.ReadMembers(context.Background(), e.dir, sambatest.GroupDN(sambatest.BigGroup))
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != sambatest.BigMembers {
		t.Fatalf("%d members, want %d", len(members), sambatest.BigMembers)
	}
	want := []string{"member;range=0-1499", "member;range=1500-2999"}
	if len(queries) != len(want) {
		t.Fatalf("queries %+v, want %d ranged reads", queries, len(want))
	}
	for i, q := range queries {
		if !strings.HasSuffix(q.Filter, want[i]) {
			t.Errorf("query %d asked %q, want %s", i, q.Filter, want[i])
		}
	}
	seen := map[string]bool{}
	for _, m := range members {
		seen[ldaptext.MustNormalizeDN(m)] = true
	}
	for _, i := range []int{0, 1499, 1500, sambatest.BigMembers - 1} {
		if !seen[ldaptext.MustNormalizeDN(sambatest.BulkUserDN(i))] {
			t.Errorf("member %s missing", sambatest.BulkUserDN(i))
		}
	}
	if len(seen) != sambatest.BigMembers {
		t.Errorf("%d distinct members, want %d", len(seen), sambatest.BigMembers)
	}
}

// TestCompleteMembersFollowsARangedEntry reads the group as a sync would
// get it from AD (the first range only) and completes it.
func TestCompleteMembersFollowsARangedEntry(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	r := resolver(t, e)
	es, err := e.dir.Search(context.Background(), &ldapbridge.SearchRequest{BaseDN: sambatest.GroupDN(sambatest.BigGroup),
		Scope: ldapbridge.ScopeBase, Filter: "(objectClass=group)", Attributes: []string{"cn", "member;range=0-1499"}})
	if err != nil || len(es) != 1 {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	first, _ := r.Members(es[0])
	all, err := r.CompleteMembers(context.Background(), e.dir, es[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 0 || len(all) != sambatest.BigMembers {
		t.Errorf("Members saw %d (a ranged attribute is not member), CompleteMembers %d, want 0 and %d", len(first), len(all), sambatest.BigMembers)
	}
	small, err := r.CompleteMembers(context.Background(), e.dir, ldapbridge.NewEntry("cn=x", map[string][]string{"member": {"cn=a", "cn=b"}}))
	if err != nil || fmt.Sprint(small) != "[cn=a cn=b]" {
		t.Errorf("plain member attribute: %v %v", small, err)
	}
}
