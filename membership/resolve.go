package membership

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// Group is one group a user belongs to.
type Group struct {
	DN string
	// Name is the groups.name_attribute value, or the first RDN's value.
	Name     string
	StableID string
	// Direct is true when the user is directly a member.
	Direct bool
	// MemberOfDNs lists the resolved groups this group is directly a
	// member of, so a caller can store group→group edges. Filled by nested
	// resolution; empty without groups.nested.
	MemberOfDNs []string
}

// Query is one LDAP search issued while resolving.
type Query struct {
	BaseDN  string
	Scope   string
	Filter  string
	Entries int
}

// Result is a user's groups and the searches that found them.
type Result struct {
	// Groups are sorted by name, then DN.
	Groups  []Group
	Queries []Query
	// PrimaryGroupDN is the user's Active Directory primary group
	// (primaryGroupID), which AD leaves out of member and memberOf; "" when
	// not resolved.
	PrimaryGroupDN string
}

// DNs returns the DNs of the groups.
func (res *Result) DNs() []string {
	out := make([]string, len(res.Groups))
	for i, g := range res.Groups {
		out[i] = g.DN
	}
	return out
}

// Names returns the names of the groups, in the order of Groups.
func (res *Result) Names() []string {
	out := make([]string, len(res.Groups))
	for i, g := range res.Groups {
		out[i] = g.Name
	}
	return out
}

// ErrTooDeep is returned (wrapped) when nested groups go deeper than the
// configured maximum depth.
var ErrTooDeep = errors.New("group nesting too deep")

// UserGroups resolves the groups of user, an entry read with at least
// UserAttributes. The Result lists the searches issued even when an error
// stops resolution.
func (r *Resolver) UserGroups(ctx context.Context, s ldapbridge.Searcher, user *ldapbridge.Entry) (*Result, error) {
	if user == nil || user.DN == "" {
		return &Result{}, fmt.Errorf("membership: user entry without a DN")
	}
	st := &state{r: r, s: s, res: &Result{}, byKey: map[string]*node{}}
	var err error
	switch {
	case r.typ == TypePosix:
		err = st.posix(ctx, user)
	case r.typ == TypeMemberOf:
		err = st.memberOf(ctx, user)
	case r.inChain:
		err = st.inChain(ctx, user)
	default:
		err = st.byMember(ctx, user)
	}
	if r.ad {
		st.markPrimary(user)
	}
	st.finish()
	return st.res, err
}

// node is a group found while resolving.
type node struct {
	group    Group
	key      string          // normalised DN
	parents  map[string]bool // normalised DNs of groups it is directly in
	memberOf []string        // normalised memberOf values, when read
	// memberOfRaw holds the same values as the directory spelled them.
	memberOfRaw []string
	sid         string // binary objectSid, when read
}

type state struct {
	r     *Resolver
	s     ldapbridge.Searcher
	res   *Result
	byKey map[string]*node
}

// add records a group entry; it returns the node and whether it is new.
func (st *state) add(e *ldapbridge.Entry, direct bool) (*node, bool) {
	key := ldaptext.MustNormalizeDN(e.DN)
	if n, ok := st.byKey[key]; ok {
		return n, false
	}
	n := &node{
		key:     key,
		parents: map[string]bool{},
		group:   Group{DN: e.DN, Name: st.r.GroupName(e), StableID: st.r.StableID(e), Direct: direct},
		sid:     sidKey(e),
	}
	for _, v := range e.Values("memberOf") {
		n.memberOf = append(n.memberOf, ldaptext.MustNormalizeDN(v))
		n.memberOfRaw = append(n.memberOfRaw, v)
	}
	st.byKey[key] = n
	return n, true
}

// search runs one search per configured base with (&<filter><clause>),
// where clause(base) gives the base's clause ("" skips the base), and
// merges the entries by DN.
func (st *state) search(ctx context.Context, clause func(search) string, attrs []string) ([]*ldapbridge.Entry, error) {
	var out []*ldapbridge.Entry
	seen := map[string]bool{}
	for _, sr := range st.r.searches {
		c := clause(sr)
		if c == "" {
			continue
		}
		req := &ldapbridge.SearchRequest{
			BaseDN:     sr.base,
			Scope:      sr.scope,
			Filter:     "(&" + sr.filter + c + ")",
			Attributes: attrs,
			Few:        true, // one user's groups: unpaged unless the size limit cuts it
		}
		entries, err := st.s.Search(ctx, req)
		st.res.Queries = append(st.res.Queries, Query{BaseDN: req.BaseDN, Scope: req.Scope.String(), Filter: req.Filter, Entries: len(entries)})
		if err != nil {
			return out, fmt.Errorf("groups.search[%d]: search %q under %s: %w", sr.index, req.Filter, sr.base, err)
		}
		for _, e := range entries {
			k := ldaptext.MustNormalizeDN(e.DN)
			if !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// every is a clause for all bases.
func every(clause string) func(search) string {
	return func(search) string { return clause }
}

// byMember resolves DN-valued member attributes level by level.
func (st *state) byMember(ctx context.Context, user *ldapbridge.Entry) error {
	attr := st.r.memberAttr
	terms := []string{"(" + attr + "=" + ldaptext.EscapeFilter(user.DN) + ")"}
	if st.r.typ == TypeGroupOfUniqueNames {
		for _, uid := range user.Values(uniqueIDAttr) {
			terms = append(terms, "("+attr+"="+ldaptext.EscapeFilter(user.DN+"#"+uid)+")")
		}
	}
	if t := st.r.primaryTerm(user); t != "" {
		terms = append(terms, t)
	}
	entries, err := st.search(ctx, every(or(terms)), st.r.readAttributes())
	if err != nil {
		return err
	}
	var frontier []*node
	for _, e := range entries {
		if n, isNew := st.add(e, true); isNew {
			frontier = append(frontier, n)
		}
	}
	if !st.r.nested {
		return nil
	}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []*node
		for _, chunk := range chunks(frontier, MaxORTerms) {
			found, err := st.parentsOf(ctx, chunk)
			if err != nil {
				return err
			}
			next = append(next, found...)
		}
		if len(next) > 0 && depth > st.r.maxDepth {
			return st.tooDeep(user.DN)
		}
		frontier = next
	}
	return nil
}

// parentsOf runs one search (per base) for the groups that directly contain
// any of children, records the edges and returns the groups not seen before.
// With one child every result is its parent; with several, the member
// attribute is read to tell which child each result contains.
func (st *state) parentsOf(ctx context.Context, children []*node) ([]*node, error) {
	attr := st.r.memberAttr
	terms := make([]string, len(children))
	byKey := make(map[string]*node, len(children))
	for i, c := range children {
		terms[i] = "(" + attr + "=" + ldaptext.EscapeFilter(c.group.DN) + ")"
		byKey[c.key] = c
	}
	attrs := st.r.readAttributes()
	if len(children) > 1 {
		attrs = append(attrs, attr)
	}
	entries, err := st.search(ctx, every(or(terms)), attrs)
	if err != nil {
		return nil, err
	}
	var next []*node
	for _, e := range entries {
		p, isNew := st.add(e, false)
		if isNew {
			next = append(next, p)
		}
		if len(children) == 1 {
			children[0].parents[p.key] = true
			continue
		}
		for _, m := range e.Values(attr) {
			if c, ok := byKey[ldaptext.MustNormalizeDN(StripUID(m))]; ok {
				c.parents[p.key] = true
			}
		}
	}
	return next, nil
}

// inChain resolves nested groups on Active Directory with one search,
// which also matches the user's primary group by objectSid. The in-chain
// rule does not follow the primary group (AD leaves it out of member), so
// when the primary group is itself in groups the search did not find (its
// memberOf names them: Domain Users in Builtin\Users, or in an application
// group), a second in-chain search reads the groups that contain it. A
// sync joins primaryGroupID and follows every group's member, so it finds
// them too; without the second search a login would store the primary
// group without its parents, and the next sync would put them back.
func (st *state) inChain(ctx context.Context, user *ldapbridge.Entry) error {
	clause := "(" + st.r.memberAttr + ":" + InChainRule + ":=" + ldaptext.EscapeFilter(user.DN) + ")"
	if t := st.r.primaryTerm(user); t != "" {
		clause = "(|" + clause + t + ")"
	}
	attrs := append(st.r.readAttributes(), "memberOf")
	entries, err := st.search(ctx, every(clause), attrs)
	if err != nil {
		return err
	}
	direct := map[string]bool{}
	for _, v := range user.Values("memberOf") {
		direct[ldaptext.MustNormalizeDN(v)] = true
	}
	known := user.Raw("memberOf") != nil
	for _, e := range entries {
		st.add(e, !known || direct[ldaptext.MustNormalizeDN(e.DN)])
	}
	if sid, ok := PrimaryGroupSID(user); ok {
		for _, n := range st.byKey {
			if n.sid != string(sid) || !slices.ContainsFunc(n.memberOf, func(k string) bool { return st.byKey[k] == nil && st.searched(k) }) {
				continue
			}
			clause := "(" + st.r.memberAttr + ":" + InChainRule + ":=" + ldaptext.EscapeFilter(n.group.DN) + ")"
			parents, err := st.search(ctx, every(clause), attrs)
			if err != nil {
				return err
			}
			for _, e := range parents {
				st.add(e, false)
			}
			break
		}
	}
	st.edgesFromMemberOf()
	return nil
}

// searched reports whether the normalised DN k lies within one of the
// groups.search bases, at its scope.
func (st *state) searched(k string) bool {
	for _, sr := range st.r.searches {
		switch {
		case k == sr.norm:
			if sr.scope != ldapbridge.ScopeOne {
				return true
			}
		case !strings.HasSuffix(k, ","+sr.norm) || sr.scope == ldapbridge.ScopeBase:
		case sr.scope == ldapbridge.ScopeOne:
			if rdn := strings.TrimSuffix(k, ","+sr.norm); !strings.Contains(strings.ReplaceAll(rdn, `\,`, ""), ",") {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// posix finds groups by memberUid and by the user's primary gidNumber.
func (st *state) posix(ctx context.Context, user *ldapbridge.Entry) error {
	var terms []string
	if uid := user.First(st.r.userAttr); uid != "" && isIA5(uid) {
		terms = append(terms, "(memberUid="+ldaptext.EscapeFilter(uid)+")")
	}
	if gid := strings.TrimSpace(user.First("gidNumber")); gid != "" && isDigits(gid) {
		terms = append(terms, "(gidNumber="+gid+")")
	}
	if len(terms) == 0 {
		return nil
	}
	entries, err := st.search(ctx, every(or(terms)), st.r.readAttributes())
	if err != nil {
		return err
	}
	for _, e := range entries {
		st.add(e, true)
	}
	return nil
}

// memberOf reads the groups named by the user's memberOf values and, when
// nested, by the groups' own memberOf values, one level at a time.
func (st *state) memberOf(ctx context.Context, user *ldapbridge.Entry) error {
	wanted := map[string]string{}
	for _, v := range user.Values("memberOf") {
		if k, err := normalize(v); err == nil {
			wanted[k] = v
		}
	}
	attrs := append(st.r.readAttributes(), "memberOf")
	for depth := 0; len(wanted) > 0; depth++ {
		found, err := st.readByDN(ctx, wanted, attrs, depth == 0)
		if err != nil {
			return err
		}
		if len(found) > 0 && depth > st.r.maxDepth {
			return st.tooDeep(user.DN)
		}
		wanted = map[string]string{}
		if !st.r.nested {
			break
		}
		for _, n := range found {
			for i, k := range n.memberOf {
				if st.byKey[k] == nil {
					wanted[k] = n.memberOfRaw[i]
				}
			}
		}
	}
	st.edgesFromMemberOf()
	return nil
}

// readByDN reads the group entries whose normalised DNs are the keys of
// wanted (the values are the DNs as the directory spelled them): per base,
// one search (per MaxORTerms DNs) ORing the RDNs of the wanted DNs that the
// base's scope can hold; entries whose DN is not wanted are dropped.
func (st *state) readByDN(ctx context.Context, wanted map[string]string, attrs []string, direct bool) ([]*node, error) {
	keys := make([]string, 0, len(wanted))
	for k := range wanted {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var found []*node
	for _, chunk := range chunks(keys, MaxORTerms) {
		clause := func(sr search) string {
			var terms []string
			for _, k := range chunk {
				if inScope(k, sr.norm, sr.scope) {
					if t := rdnFilter(wanted[k]); t != "" {
						terms = append(terms, t)
					}
				}
			}
			if len(terms) == 0 {
				return ""
			}
			return or(terms)
		}
		entries, err := st.search(ctx, clause, attrs)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if _, ok := wanted[ldaptext.MustNormalizeDN(e.DN)]; !ok {
				continue
			}
			if n, isNew := st.add(e, direct); isNew {
				found = append(found, n)
			}
		}
	}
	return found, nil
}

// edgesFromMemberOf sets each group's parents to its memberOf values that
// are resolved groups.
func (st *state) edgesFromMemberOf() {
	for _, n := range st.byKey {
		for _, k := range n.memberOf {
			if st.byKey[k] != nil && k != n.key {
				n.parents[k] = true
			}
		}
	}
}

// finish fills Result.Groups from the nodes, sorted, with MemberOfDNs.
func (st *state) finish() {
	for _, n := range st.byKey {
		g := n.group
		for k := range n.parents {
			if p := st.byKey[k]; p != nil {
				g.MemberOfDNs = append(g.MemberOfDNs, p.group.DN)
			}
		}
		sort.Strings(g.MemberOfDNs)
		st.res.Groups = append(st.res.Groups, g)
	}
	sort.Slice(st.res.Groups, func(i, j int) bool {
		a, b := st.res.Groups[i], st.res.Groups[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.DN < b.DN
	})
}

func (st *state) tooDeep(userDN string) error {
	return fmt.Errorf("groups.nested: groups of %s nest deeper than %d levels: %w — check the directory for a runaway chain of groups", userDN, st.r.maxDepth, ErrTooDeep)
}

// rdnFilter turns a DN's first RDN into an equality filter: cn=Sales\,
// EMEA,... becomes (cn=Sales, EMEA); a multi-valued RDN an AND.
func rdnFilter(dn string) string {
	parsed, err := ldaptext.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	var terms []string
	for _, a := range parsed.RDNs[0].Attributes {
		terms = append(terms, "("+a.Type+"="+ldaptext.EscapeFilter(a.Value)+")")
	}
	if len(terms) == 1 {
		return terms[0]
	}
	return "(&" + strings.Join(terms, "") + ")"
}

func or(terms []string) string {
	if len(terms) == 1 {
		return terms[0]
	}
	return "(|" + strings.Join(terms, "") + ")"
}

func chunks[T any](in []T, size int) [][]T {
	var out [][]T
	for len(in) > size {
		out = append(out, in[:size])
		in = in[size:]
	}
	if len(in) > 0 {
		out = append(out, in)
	}
	return out
}

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
