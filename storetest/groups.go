package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

var groupTests = []test{
	{"UpsertGroupMatchesByStableIDThenDNThenName", testUpsertMatching},
	{"UpsertGroupRenameOntoTakenNameIsErrConflict", testUpsertConflict},
	{"GroupLookupsByNameAndDN", testGroupLookups},
	{"ListGroupsCountsMembersAndNamesMemberGroups", testListGroups},
	{"DeleteGroupCascadesEveryEdge", testDeleteGroup},
	{"SetUserGroupsIsExact", testSetUserGroups},
	{"SetGroupParentsIsExact", testSetGroupParents},
	{"EffectiveGroupsFollowThreeLevels", testEffectiveNested},
	{"EffectiveGroupsTerminateOnACycle", testEffectiveCycle},
	{"MembershipEdgesAreIdempotent", testMembershipsIdempotent},
	{"LocalGroupsHaveASourceAndNeverShareANameWithADirectoryGroup", testLocalGroupSource},
	{"SetUserGroupsWithinLeavesOtherMembershipsAlone", testSetUserGroupsWithin},
	{"UserReadsNameTheirLocalGroups", testUserLocalGroups},
}

func testUpsertMatching(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	steps := []struct {
		name   string
		g      ldapbridge.Group
		sameAs string // name of an earlier step whose ID must be kept; "" = new
	}{
		{"create with stable id", ldapbridge.Group{Name: "eng", DN: "cn=eng,dc=x", StableID: "s-1"}, ""},
		{"rename keeps id (same stable id)", ldapbridge.Group{Name: "engineering", DN: "cn=engineering,dc=x", StableID: "s-1"}, "create with stable id"},
		{"create without stable id", ldapbridge.Group{Name: "ops", DN: "cn=ops,dc=x"}, ""},
		{"match by dn, any case, renames", ldapbridge.Group{Name: "operations", DN: "CN=OPS,DC=X"}, "create without stable id"},
		{"match by dn gains a stable id", ldapbridge.Group{Name: "operations", DN: "cn=ops,dc=x", StableID: "s-2"}, "create without stable id"},
		{"create name only", ldapbridge.Group{Name: "local"}, ""},
		{"match by name sets dn", ldapbridge.Group{Name: "local", DN: "cn=local,dc=x"}, "create name only"},
		{"stable id wins over dn", ldapbridge.Group{Name: "engineering2", DN: "cn=ops,dc=x", StableID: "s-1"}, "create with stable id"},
		{"different everything is new", ldapbridge.Group{Name: "sales", DN: "cn=sales,dc=x", StableID: "s-3"}, ""},
	}
	ids := map[string]int64{}
	seen := map[int64]bool{}
	for _, st := range steps {
		g := st.g
		must(t, s.UpsertGroup(ctx, &g), "UpsertGroup "+st.name)
		ids[st.name] = g.ID
		if st.sameAs == "" {
			if g.ID == 0 || seen[g.ID] {
				t.Errorf("%s: got ID %d, want a new ID", st.name, g.ID)
			}
		} else if g.ID != ids[st.sameAs] {
			t.Errorf("%s: got ID %d, want %d (kept)", st.name, g.ID, ids[st.sameAs])
		}
		seen[g.ID] = true
		got, err := s.Group(ctx, st.g.Name)
		must(t, err, "Group "+st.g.Name)
		if got.ID != g.ID || got.DN != st.g.DN || got.StableID != st.g.StableID {
			t.Errorf("%s: stored %+v, want ID %d DN %q StableID %q", st.name, got, g.ID, st.g.DN, st.g.StableID)
		}
		if got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: CreatedAt %v, want a UTC time", st.name, got.CreatedAt)
		}
	}
	all, err := s.ListGroups(ctx)
	must(t, err, "ListGroups")
	var names []string
	for _, g := range all {
		names = append(names, g.Name)
	}
	wantNames(t, names, []string{"engineering2", "local", "operations", "sales"}, "groups after upserts")
}

func testUpsertConflict(t *testing.T, s ldapbridge.Store) {
	group(t, s, "a")
	b := group(t, s, "b")
	g := ldapbridge.Group{Name: "a", StableID: b.StableID}
	wantErr(t, s.UpsertGroup(t.Context(), &g), ldapbridge.ErrConflict, "renaming b onto a")
	if _, err := s.Group(t.Context(), "b"); err != nil {
		t.Errorf("group b after the refused rename: %v", err)
	}
}

func testGroupLookups(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	g := group(t, s, "Admins")
	byName, err := s.Group(ctx, "Admins")
	must(t, err, "Group")
	byDN, err := s.GroupByDN(ctx, "CN=admins,OU=USERS,o=acme,dc=jumpcloud,dc=com")
	must(t, err, "GroupByDN in another case")
	if byName.ID != g.ID || byDN.ID != g.ID || byName.Name != "Admins" || byName.StableID != g.StableID {
		t.Errorf("lookups: got %+v and %+v, want ID %d", byName, byDN, g.ID)
	}
	_, err = s.Group(ctx, "admins")
	wantErr(t, err, ldapbridge.ErrNotFound, "Group name is exact")
}

func testListGroups(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	staff, all, eng, ops := group(t, s, "staff"), group(t, s, "all"), group(t, s, "eng"), group(t, s, "ops")
	u1, u2 := create(t, s, newUser("u1")), create(t, s, newUser("u2"))
	must(t, s.SetUserGroups(ctx, u1.ID, []int64{staff.ID, eng.ID}), "SetUserGroups u1")
	must(t, s.SetUserGroups(ctx, u2.ID, []int64{staff.ID}), "SetUserGroups u2")
	must(t, s.SetGroupParents(ctx, staff.ID, []int64{all.ID}), "staff in all")
	must(t, s.SetGroupParents(ctx, ops.ID, []int64{all.ID}), "ops in all")
	must(t, s.SetGroupParents(ctx, eng.ID, []int64{all.ID, staff.ID}), "eng in all and staff")
	got, err := s.ListGroups(ctx)
	must(t, err, "ListGroups")
	want := []struct {
		name    string
		members int
		groups  []string
	}{
		{"all", 0, []string{"eng", "ops", "staff"}},
		{"eng", 1, nil},
		{"ops", 0, nil},
		{"staff", 2, []string{"eng"}},
	}
	if len(got) != len(want) {
		t.Fatalf("ListGroups: got %d groups, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.DirectMembers != w.members {
			t.Errorf("group %d: got %s with %d members, want %s with %d", i, g.Name, g.DirectMembers, w.name, w.members)
		}
		wantNames(t, g.MemberGroups, w.groups, g.Name+" MemberGroups")
	}
}

func testDeleteGroup(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	top, mid, leaf := group(t, s, "top"), group(t, s, "mid"), group(t, s, "leaf")
	u := create(t, s, newUser("ursula"))
	must(t, s.SetUserGroups(ctx, u.ID, []int64{mid.ID, leaf.ID}), "SetUserGroups")
	must(t, s.SetGroupParents(ctx, mid.ID, []int64{top.ID}), "mid in top")
	must(t, s.SetGroupParents(ctx, leaf.ID, []int64{mid.ID}), "leaf in mid")
	must(t, s.DeleteGroup(ctx, mid.ID), "DeleteGroup mid")
	_, err := s.Group(ctx, "mid")
	wantErr(t, err, ldapbridge.ErrNotFound, "Group after delete")
	ms, err := s.Memberships(ctx)
	must(t, err, "Memberships")
	want := []ldapbridge.Membership{{GroupID: leaf.ID, UserID: u.ID}}
	if !slices.Equal(ms, want) {
		t.Errorf("Memberships after deleting mid: got %+v, want %+v", ms, want)
	}
	wantNames(t, get(t, s, "ursula").Groups, []string{"leaf"}, "effective groups after delete")
}

func directGroups(t *testing.T, s ldapbridge.Store, username string) []string {
	t.Helper()
	return get(t, s, username).DirectGroups
}

func testSetUserGroups(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a, b, c := group(t, s, "a"), group(t, s, "b"), group(t, s, "c")
	u := create(t, s, newUser("sam"))
	other := create(t, s, newUser("other"))
	must(t, s.SetUserGroups(ctx, other.ID, []int64{a.ID}), "other in a")
	steps := []struct {
		name string
		ids  []int64
		want []string
	}{
		{"set two", []int64{b.ID, a.ID}, []string{"a", "b"}},
		{"replace", []int64{c.ID, b.ID}, []string{"b", "c"}},
		{"duplicates in input", []int64{c.ID, c.ID}, []string{"c"}},
		{"same again", []int64{c.ID}, []string{"c"}},
		{"clear", nil, nil},
		{"set after clear", []int64{a.ID}, []string{"a"}},
	}
	for _, st := range steps {
		must(t, s.SetUserGroups(ctx, u.ID, st.ids), "SetUserGroups "+st.name)
		wantNames(t, directGroups(t, s, "sam"), st.want, st.name)
	}
	wantErr(t, s.SetUserGroups(ctx, u.ID, []int64{b.ID, 9999999}), ldapbridge.ErrNotFound, "SetUserGroups with a missing group")
	wantNames(t, directGroups(t, s, "sam"), []string{"a"}, "unchanged after a refused set")
	wantNames(t, directGroups(t, s, "other"), []string{"a"}, "another user's groups are untouched")
}

func testSetGroupParents(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	p1, p2, p3, child := group(t, s, "p1"), group(t, s, "p2"), group(t, s, "p3"), group(t, s, "child")
	sib := group(t, s, "sibling")
	must(t, s.SetGroupParents(ctx, sib.ID, []int64{p1.ID}), "sibling in p1")
	parents := func() []string {
		var out []string
		gs, err := s.ListGroups(ctx)
		must(t, err, "ListGroups")
		for _, g := range gs {
			if slices.Contains(g.MemberGroups, "child") {
				out = append(out, g.Name)
			}
		}
		return out
	}
	steps := []struct {
		name string
		ids  []int64
		want []string
	}{
		{"set two", []int64{p1.ID, p2.ID}, []string{"p1", "p2"}},
		{"replace", []int64{p3.ID, p2.ID}, []string{"p2", "p3"}},
		{"clear", []int64{}, nil},
	}
	for _, st := range steps {
		must(t, s.SetGroupParents(ctx, child.ID, st.ids), "SetGroupParents "+st.name)
		wantNames(t, parents(), st.want, st.name)
	}
	g, err := s.Group(ctx, "p1")
	must(t, err, "Group p1")
	wantNames(t, g.MemberGroups, []string{"sibling"}, "p1 keeps its other member group")
}

func testEffectiveNested(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	// Names chosen so that creation order differs from sorted order.
	l1, l2, l3 := group(t, s, "zeta-team"), group(t, s, "m-dept"), group(t, s, "a-company")
	group(t, s, "b-unrelated")
	direct2 := group(t, s, "c-direct")
	u := create(t, s, newUser("nina"))
	must(t, s.SetUserGroups(ctx, u.ID, []int64{l1.ID, direct2.ID}), "SetUserGroups")
	must(t, s.SetGroupParents(ctx, l1.ID, []int64{l2.ID}), "l1 in l2")
	must(t, s.SetGroupParents(ctx, l2.ID, []int64{l3.ID}), "l2 in l3")
	must(t, s.SetGroupParents(ctx, direct2.ID, []int64{l3.ID}), "direct2 in l3 (a second path)")
	want := []string{"a-company", "c-direct", "m-dept", "zeta-team"}
	reads := map[string]func() (*ldapbridge.User, error){
		"User":           func() (*ldapbridge.User, error) { return s.User(ctx, "nina") },
		"UserByID":       func() (*ldapbridge.User, error) { return s.UserByID(ctx, u.ID) },
		"UserByStableID": func() (*ldapbridge.User, error) { return s.UserByStableID(ctx, u.StableID) },
		"UserByField":    func() (*ldapbridge.User, error) { return s.UserByField(ctx, "email", u.Email) },
	}
	for name, read := range reads {
		got, err := read()
		must(t, err, name)
		wantNames(t, got.Groups, want, name+" Groups")
		wantNames(t, got.DirectGroups, []string{"c-direct", "zeta-team"}, name+" DirectGroups")
	}
}

func testEffectiveCycle(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a, b, c := group(t, s, "A"), group(t, s, "B"), group(t, s, "C")
	group(t, s, "D")
	u := create(t, s, newUser("cy"))
	must(t, s.AddMemberships(ctx, []ldapbridge.Membership{
		{GroupID: b.ID, ChildGroupID: a.ID},
		{GroupID: c.ID, ChildGroupID: b.ID},
		{GroupID: a.ID, ChildGroupID: c.ID},
		{GroupID: a.ID, UserID: u.ID},
	}), "AddMemberships A⊂B⊂C⊂A")
	withTimeout(t, 10*time.Second, "reading a user in a group cycle", func(ctx context.Context) {
		got, err := s.User(ctx, "cy")
		if err != nil {
			t.Errorf("User in a cycle: %v", err)
			return
		}
		if !slices.Equal(got.Groups, []string{"A", "B", "C"}) || !slices.Equal(got.DirectGroups, []string{"A"}) {
			t.Errorf("in a cycle: Groups %q DirectGroups %q, want [A B C] and [A]", got.Groups, got.DirectGroups)
		}
	})
}

func testMembershipsIdempotent(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	g1, g2 := group(t, s, "g1"), group(t, s, "g2")
	u1, u2 := create(t, s, newUser("m1")), create(t, s, newUser("m2"))
	edges := []ldapbridge.Membership{
		{GroupID: g1.ID, UserID: u1.ID},
		{GroupID: g1.ID, UserID: u2.ID},
		{GroupID: g2.ID, UserID: u1.ID},
		{GroupID: g2.ID, ChildGroupID: g1.ID},
	}
	state := func(what string, want []ldapbridge.Membership) {
		t.Helper()
		got, err := s.Memberships(ctx)
		must(t, err, "Memberships")
		if !sameEdges(got, want) {
			t.Errorf("%s: Memberships got %+v, want %+v", what, got, want)
		}
	}
	state("empty", nil)
	must(t, s.AddMemberships(ctx, edges), "AddMemberships")
	state("after add", edges)
	must(t, s.AddMemberships(ctx, append(edges[:2:2], edges[1])), "AddMemberships again, with a duplicate")
	state("after adding existing edges", edges)
	must(t, s.RemoveMemberships(ctx, edges[1:3]), "RemoveMemberships")
	rest := []ldapbridge.Membership{edges[0], edges[3]}
	state("after remove", rest)
	must(t, s.RemoveMemberships(ctx, edges[1:3]), "RemoveMemberships again")
	state("after removing missing edges", rest)
	must(t, s.AddMemberships(ctx, nil), "AddMemberships of nothing")
	wantNames(t, get(t, s, "m1").Groups, []string{"g1", "g2"}, "m1 effective groups")

	bad := [][]ldapbridge.Membership{
		{{GroupID: g1.ID, UserID: u1.ID, ChildGroupID: g2.ID}},
		{{GroupID: g1.ID}},
		{{UserID: u1.ID}},
	}
	for _, b := range bad {
		if err := s.AddMemberships(ctx, b); err == nil {
			t.Errorf("AddMemberships(%+v): no error, want one (exactly one member must be set)", b)
		}
	}
	state("after refused adds", rest)
}

// sameEdges compares edge sets, ignoring order.
func sameEdges(a, b []ldapbridge.Membership) bool {
	key := func(m ldapbridge.Membership) [3]int64 { return [3]int64{m.GroupID, m.UserID, m.ChildGroupID} }
	set := func(ms []ldapbridge.Membership) map[[3]int64]bool {
		out := map[[3]int64]bool{}
		for _, m := range ms {
			out[key(m)] = true
		}
		return out
	}
	if len(a) != len(b) {
		return false
	}
	sa, sb := set(a), set(b)
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return len(sa) == len(sb)
}

func localGroup(t *testing.T, s ldapbridge.Store, name string) *ldapbridge.Group {
	t.Helper()
	g := &ldapbridge.Group{Name: name, Source: ldapbridge.SourceLocal}
	must(t, s.UpsertGroup(t.Context(), g), "UpsertGroup local "+name)
	return g
}

func testLocalGroupSource(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	dir := group(t, s, "staff")
	if dir.Source != ldapbridge.SourceLDAP {
		t.Errorf("a group upserted without a source: Source %q, want %q", dir.Source, ldapbridge.SourceLDAP)
	}
	loc := localGroup(t, s, "editors")
	if loc.Source != ldapbridge.SourceLocal || loc.ID == 0 {
		t.Errorf("local group: %+v", loc)
	}
	again := &ldapbridge.Group{Name: "editors", Source: ldapbridge.SourceLocal}
	must(t, s.UpsertGroup(ctx, again), "UpsertGroup local again")
	if again.ID != loc.ID {
		t.Errorf("a second local upsert of editors: ID %d, want %d", again.ID, loc.ID)
	}
	got, err := s.Group(ctx, "editors")
	must(t, err, "Group editors")
	if got.Source != ldapbridge.SourceLocal || got.DN != "" {
		t.Errorf("Group editors: %+v, want a local group without a dn", got)
	}
	// A directory group named like the local group does not merge into it.
	clash := &ldapbridge.Group{Name: "editors", DN: "cn=editors,ou=Users,o=acme,dc=jumpcloud,dc=com", StableID: "g-editors"}
	wantErr(t, s.UpsertGroup(ctx, clash), ldapbridge.ErrConflict, "directory upsert onto a local group's name")
	wantErr(t, s.UpsertGroup(ctx, clash), ldapbridge.ErrGroupSource, "directory upsert onto a local group's name")
	// Nor the reverse.
	wantErr(t, s.UpsertGroup(ctx, &ldapbridge.Group{Name: "staff", Source: ldapbridge.SourceLocal}), ldapbridge.ErrConflict,
		"local upsert onto a directory group's name")
	if err := s.UpsertGroup(ctx, &ldapbridge.Group{Name: "x", Source: ldapbridge.SourceLocal, DN: "cn=x,dc=x"}); err == nil {
		t.Error("a local group with a dn was accepted")
	}
	gs, err := s.ListGroups(ctx)
	must(t, err, "ListGroups")
	sources := map[string]string{}
	for _, g := range gs {
		sources[g.Name] = g.Source
	}
	if len(sources) != 2 || sources["editors"] != ldapbridge.SourceLocal || sources["staff"] != ldapbridge.SourceLDAP {
		t.Errorf("ListGroups sources: %v, want editors local and staff ldap only", sources)
	}
	got, err = s.Group(ctx, "editors")
	must(t, err, "Group editors after the refused upserts")
	if got.ID != loc.ID || got.Source != ldapbridge.SourceLocal || got.DN != "" || got.StableID != "" {
		t.Errorf("editors changed by a refused directory upsert: %+v", got)
	}
	byDN, err := s.GroupByDN(ctx, dir.DN)
	must(t, err, "GroupByDN staff")
	if byDN.Source != ldapbridge.SourceLDAP {
		t.Errorf("GroupByDN staff: Source %q", byDN.Source)
	}
}

func testSetUserGroupsWithin(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a, b, excluded := group(t, s, "a"), group(t, s, "b"), group(t, s, "excluded")
	editors := localGroup(t, s, "editors")
	u := create(t, s, newUser("sam"))
	other := create(t, s, newUser("other"))
	must(t, s.SetUserGroups(ctx, u.ID, []int64{a.ID, excluded.ID, editors.ID}), "SetUserGroups sam")
	must(t, s.SetUserGroups(ctx, other.ID, []int64{a.ID, editors.ID}), "SetUserGroups other")
	var seen []string
	owned := func(g *ldapbridge.Group) bool {
		seen = append(seen, g.Name+":"+g.Source)
		return g.Source == ldapbridge.SourceLDAP && g.Name != "excluded"
	}
	must(t, s.SetUserGroupsWithin(ctx, u.ID, []int64{b.ID}, owned), "SetUserGroupsWithin b")
	wantNames(t, directGroups(t, s, "sam"), []string{"b", "editors", "excluded"}, "after SetUserGroupsWithin b")
	slices.Sort(seen)
	wantNames(t, seen, []string{"a:ldap", "editors:local", "excluded:ldap"}, "groups owned was asked about")
	must(t, s.SetUserGroupsWithin(ctx, u.ID, nil, owned), "SetUserGroupsWithin none")
	wantNames(t, directGroups(t, s, "sam"), []string{"editors", "excluded"}, "after SetUserGroupsWithin none")
	must(t, s.SetUserGroupsWithin(ctx, u.ID, []int64{a.ID, b.ID, b.ID}, owned), "SetUserGroupsWithin a, b")
	wantNames(t, directGroups(t, s, "sam"), []string{"a", "b", "editors", "excluded"}, "after SetUserGroupsWithin a, b")
	wantErr(t, s.SetUserGroupsWithin(ctx, u.ID, []int64{9999999}, owned), ldapbridge.ErrNotFound, "SetUserGroupsWithin a missing group")
	wantErr(t, s.SetUserGroupsWithin(ctx, 9999999, []int64{a.ID}, owned), ldapbridge.ErrNotFound, "SetUserGroupsWithin a missing user")
	wantNames(t, directGroups(t, s, "other"), []string{"a", "editors"}, "another user's groups are untouched")
}

func testUserLocalGroups(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a := group(t, s, "a")
	editors, writers := localGroup(t, s, "editors"), localGroup(t, s, "writers")
	u := create(t, s, newUser("sam"))
	must(t, s.AddMemberships(ctx, []ldapbridge.Membership{{GroupID: editors.ID, UserID: u.ID}, {GroupID: writers.ID, UserID: u.ID},
		{GroupID: a.ID, UserID: u.ID}}), "AddMemberships")
	got := get(t, s, "sam")
	wantNames(t, got.Groups, []string{"a", "editors", "writers"}, "Groups")
	wantNames(t, got.DirectGroups, []string{"a", "editors", "writers"}, "DirectGroups")
	wantNames(t, got.LocalGroups, []string{"editors", "writers"}, "LocalGroups")
	us, err := s.ListUsers(ctx, ldapbridge.UserQuery{Group: "editors"})
	must(t, err, "ListUsers group editors")
	if len(us) != 1 || us[0].Username != "sam" {
		t.Errorf("ListUsers group editors: %d users", len(us))
	}
	gs, err := s.ListGroups(ctx)
	must(t, err, "ListGroups")
	for _, g := range gs {
		if g.DirectMembers != 1 {
			t.Errorf("group %s: DirectMembers %d, want 1", g.Name, g.DirectMembers)
		}
	}
}
