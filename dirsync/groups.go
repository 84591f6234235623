package dirsync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/membership"
)

// groupIndex is every directory group a run read, with memberships and
// nesting linked locally from the groups' member values, so the users'
// groups cost no query per user. It is built before the users are read;
// the reader then consults it, and the pipeline after the read.
type groupIndex struct {
	nested   bool
	groups   []directoryGroup
	byDN     map[string]int32   // normalised DN -> index in groups
	memberOf map[string][]int32 // user key (normDN, or "uid:"+uid) -> direct groups
	// byPrimary maps a primary-group key (membership's GroupPrimaryKey:
	// a posix gidNumber, an Active Directory objectSid) to the groups
	// with it: their primary-group members are not in the member values.
	byPrimary map[string][]int32
	res       *membership.Resolver
	// For the primary groups of the users an incremental run does not
	// read (unreadPrimaries): where the users are, and the server.
	dir        Directory
	users      config.Searches
	syncFilter string
	primaries  map[string]string // normalised user DN -> primary-group key, once read
	flagGroup  []bool            // the group is named by an access.flags, access.require or access.deny query
	anyFlags   bool              // some group is named by one of those queries
	ancestors  [][]int32         // memo: group -> itself and every group above it
}

type directoryGroup struct {
	dn, norm, name, stableID string
	stored                   string // the name it is stored under (config.StoredGroupName)
	mirrored                 bool
	id                       int64 // store id; negative for a dry run's planned create
	parents                  []int32
	members                  []string // normalised member DNs, until linked
	uids                     []string
	primaryKey               string
	primaryTerm              string // filter term for its primary-group members
}

// readGroups reads every group (one paged search per groups.search base),
// completes ranged member values, and links members and nesting.
func (a *applier) readGroups(ctx context.Context, dir Directory, res *membership.Resolver, cfg *config.Config) (*groupIndex, error) {
	gi := &groupIndex{nested: cfg.Groups.Nested, byDN: map[string]int32{}, memberOf: map[string][]int32{}, byPrimary: map[string][]int32{}, res: res,
		dir: dir, users: cfg.Users.Search, syncFilter: cfg.Users.SyncFilter}
	if res == nil {
		return gi, nil
	}
	rangedPrefix := strings.ToLower(res.MemberAttribute()) + ";range="
	var ranged []*ldapbridge.Entry // entries whose member values came back ranged
	var rangedIdx []int32
	for _, req := range res.SyncRequests() {
		a.searches++
		err := dir.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error {
			for _, e := range page {
				a.read++
				norm := normDN(e.DN)
				if _, dup := gi.byDN[norm]; dup {
					continue
				}
				name := res.GroupName(e)
				g := directoryGroup{dn: e.DN, norm: norm, name: name, stored: cfg.StoredGroupName(name), stableID: res.StableID(e), mirrored: cfg.Groups.Mirror.Includes(name)}
				dns, uids := res.Members(e)
				for _, m := range dns {
					g.members = append(g.members, normDN(m))
				}
				g.uids = uids
				g.primaryKey, g.primaryTerm = res.GroupPrimaryKey(e), res.PrimaryMembersTerm(e)
				if hasRangedValues(e, rangedPrefix) {
					ranged, rangedIdx = append(ranged, e), append(rangedIdx, int32(len(gi.groups)))
				}
				gi.byDN[norm] = int32(len(gi.groups))
				gi.groups = append(gi.groups, g)
			}
			a.progress("groups")
			return ctx.Err()
		})
		if err != nil {
			return nil, a.abort(fmt.Sprintf("reading groups under %q: %v", req.BaseDN, err), err)
		}
	}
	counted := countingSearcher{dir: dir, searches: &a.searches}
	for k, e := range ranged {
		dns, err := res.CompleteMembers(ctx, counted, e)
		if err != nil {
			return nil, a.abort(fmt.Sprintf("reading the members of the large group %s: %v", e.DN, err), err)
		}
		g := &gi.groups[rangedIdx[k]]
		g.members = g.members[:0]
		for _, m := range dns {
			g.members = append(g.members, normDN(m))
		}
	}
	gi.link(policyQueries(cfg))
	return gi, nil
}

// hasRangedValues reports whether e's member attribute came back as a
// range (member;range=0-1499), to be completed after the group read.
func hasRangedValues(e *ldapbridge.Entry, prefix string) bool {
	for _, attr := range e.Attributes {
		if strings.HasPrefix(strings.ToLower(attr.Name), prefix) {
			return true
		}
	}
	return false
}

// policyQueries are the queries whose groups decide a user's flags and
// verdict (auth.Mapper.Judge): access.flags, access.require, access.deny.
func policyQueries(cfg *config.Config) []ldapbridge.GroupQuery {
	out := []ldapbridge.GroupQuery{cfg.Access.Require, cfg.Access.Deny}
	for _, q := range cfg.Access.Flags {
		out = append(out, q)
	}
	return out
}

// link turns member values into parents and direct memberships, and marks
// the groups the policy queries name.
func (gi *groupIndex) link(queries []ldapbridge.GroupQuery) {
	for i := range gi.groups {
		g := &gi.groups[i]
		for _, m := range g.members {
			if c, ok := gi.byDN[m]; ok {
				gi.groups[c].parents = append(gi.groups[c].parents, int32(i))
			} else {
				gi.memberOf[m] = append(gi.memberOf[m], int32(i))
			}
		}
		for _, u := range g.uids {
			k := "uid:" + strings.ToLower(u)
			gi.memberOf[k] = append(gi.memberOf[k], int32(i))
		}
		if g.primaryKey != "" {
			gi.byPrimary[g.primaryKey] = append(gi.byPrimary[g.primaryKey], int32(i))
		}
		g.members, g.uids = nil, nil
	}
	gi.flagGroup = make([]bool, len(gi.groups))
	for _, q := range queries {
		for _, dn := range q.DNs() {
			if i, ok := gi.byDN[normDN(dn)]; ok {
				gi.flagGroup[i], gi.anyFlags = true, true
			}
		}
	}
	gi.ancestors = make([][]int32, len(gi.groups))
}

// countingSearcher counts the searches of membership's ranged reads.
type countingSearcher struct {
	dir      Directory
	searches *int
}

func (c countingSearcher) Search(ctx context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	*c.searches++
	var out []*ldapbridge.Entry
	err := c.dir.SearchPages(ctx, req, func(p []*ldapbridge.Entry) error { out = append(out, p...); return nil })
	return out, err
}

func (c countingSearcher) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	*c.searches++
	return c.dir.SearchPages(ctx, req, fn)
}

// closure returns g and, with groups.nested, every group above it.
func (gi *groupIndex) closure(g int32) []int32 {
	if !gi.nested {
		return []int32{g}
	}
	if a := gi.ancestors[g]; a != nil {
		return a
	}
	seen := map[int32]bool{g: true}
	out := []int32{g}
	for i := 0; i < len(out); i++ {
		for _, p := range gi.groups[out[i]].parents {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	gi.ancestors[g] = out
	return out
}

// primaryKey returns the key of the user entry's primary group
// (membership's PrimaryGroupKey), "" when none.
func (gi *groupIndex) primaryKey(user *ldapbridge.Entry) string {
	if gi.res == nil {
		return ""
	}
	return gi.res.PrimaryGroupKey(user)
}

// directGroups returns the groups the user is directly in: those that
// list it, and its primary group (by primary, a primaryKey), as a login
// resolves them. A primary group that no member value names comes last.
func (gi *groupIndex) directGroups(norm, uid, primary string) []int32 {
	out := gi.memberOf[norm]
	if uid != "" {
		if more := gi.memberOf["uid:"+strings.ToLower(uid)]; len(more) > 0 {
			out = append(append([]int32(nil), out...), more...)
		}
	}
	if primary != "" {
		for _, g := range gi.byPrimary[primary] {
			if !slices.Contains(out, g) {
				out = append(append([]int32(nil), out...), g)
			}
		}
	}
	return out
}

// unreadPrimaries returns the primary-group key of every user whose
// primary group is a mirrored or flag group, by normalised DN, for the
// stored users an incremental run did not read. It costs one paged search
// per users.search base (per membership.MaxORTerms such groups), with
// users.sync_filter and the groups' PrimaryMembersTerm ORed, reading only
// membership's UserAttributes; no search when no such group has a key.
func (a *applier) unreadPrimaries(ctx context.Context, gi *groupIndex) (map[string]string, error) {
	if gi.primaries != nil {
		return gi.primaries, nil
	}
	gi.primaries = map[string]string{}
	var terms []string
	seen := map[string]bool{}
	for i, g := range gi.groups {
		if g.primaryTerm != "" && (g.mirrored || gi.flagGroup[i]) && !seen[g.primaryTerm] {
			seen[g.primaryTerm] = true
			terms = append(terms, g.primaryTerm)
		}
	}
	slices.Sort(terms)
	for len(terms) > 0 {
		n := min(len(terms), membership.MaxORTerms)
		filter := "(&" + orEverything(gi.syncFilter) + "(|" + strings.Join(terms[:n], "") + "))"
		terms = terms[n:]
		for _, srch := range gi.users {
			req := &ldapbridge.SearchRequest{BaseDN: srch.BaseDN, Scope: srch.LDAPScope(), Filter: filter, Attributes: gi.res.UserAttributes()}
			a.searches++
			err := gi.dir.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error {
				for _, e := range page {
					if k := gi.res.PrimaryGroupKey(e); k != "" {
						gi.primaries[normDN(e.DN)] = k
					}
				}
				return ctx.Err()
			})
			if err != nil {
				gi.primaries = nil
				return nil, a.abort(fmt.Sprintf("reading the primary groups of the users under %q: %v", srch.BaseDN, err), err)
			}
		}
	}
	return gi.primaries, nil
}

// flagGroups returns the user's effective groups that some flag, require
// or deny query names, in the form the Mapper evaluates: only those can
// change a flag or the verdict.
func (gi *groupIndex) flagGroups(direct []int32) []membership.Group {
	if !gi.anyFlags {
		return nil
	}
	var out []membership.Group
	seen := map[int32]bool{}
	for _, d := range direct {
		for _, g := range gi.closure(d) {
			if gi.flagGroup[g] && !seen[g] {
				seen[g] = true
				out = append(out, membership.Group{DN: gi.groups[g].dn, Name: gi.groups[g].name, Direct: g == d})
			}
		}
	}
	return out
}

// storedDirectoryGroups counts the stored groups that came from the directory.
func storedDirectoryGroups(stored []*ldapbridge.Group) int {
	n := 0
	for _, g := range stored {
		if g.DN != "" {
			n++
		}
	}
	return n
}

// applyGroups upserts the mirrored directory groups and returns the
// stored directory groups the directory no longer has.
func (a *applier) applyGroups(ctx context.Context, gi *groupIndex, stored []*ldapbridge.Group) ([]*ldapbridge.Group, error) {
	byStable, byDN, byName := map[string]*ldapbridge.Group{}, map[string]*ldapbridge.Group{}, map[string]*ldapbridge.Group{}
	for _, g := range stored {
		if g.StableID != "" {
			byStable[g.StableID] = g
		}
		if g.DN != "" {
			byDN[normDN(g.DN)] = g
		}
		byName[g.Name] = g
	}
	rep := a.report
	matched := map[int64]bool{}
	var writes []int
	olds := map[int]*ldapbridge.Group{} // the stored group an update changes
	for i := range gi.groups {
		g := &gi.groups[i]
		if !g.mirrored {
			continue
		}
		old := byStable[g.stableID]
		if old == nil || g.stableID == "" {
			if old = byDN[g.norm]; old == nil {
				old = byName[g.stored]
			}
		}
		if old != nil && old.Source == ldapbridge.SourceLocal {
			// A local group has this name: the two never merge, and the
			// directory group is neither stored nor given memberships.
			g.mirrored = false
			a.warn(fmt.Sprintf("the directory group %s is not mirrored: the local group %q has its name (rename one of them)", g.dn, g.stored))
			continue
		}
		switch {
		case old == nil:
			rep.GroupsCreated++
			rep.Plan.add(&rep.Plan.GroupsCreate, g.stored)
			g.id = -int64(i + 1)
			writes = append(writes, i)
		case old.Name != g.stored || old.DN != g.dn || old.StableID != g.stableID:
			rep.GroupsUpdated++
			rep.Plan.add(&rep.Plan.GroupsUpdate, g.stored)
			g.id = old.ID
			matched[old.ID] = true
			writes = append(writes, i)
			olds[i] = old
		default:
			g.id = old.ID
			matched[old.ID] = true
		}
	}
	var gone []*ldapbridge.Group
	for _, g := range stored {
		if g.DN != "" && !matched[g.ID] {
			if _, inDir := gi.byDN[normDN(g.DN)]; inDir && g.Source != ldapbridge.SourceLocal {
				continue // still in the directory, only outside groups.mirror: left as it is
			}
			gone = append(gone, g)
		}
	}
	if a.dryRun || len(writes) == 0 {
		return gone, nil
	}
	wctx, done := finishing(ctx)
	defer done()
	write := func(bulk bool) error {
		return a.inTx(wctx, func(tx ldapbridge.Store) error {
			bc, _ := tx.(BulkGroupCreator)
			var creates []*ldapbridge.Group
			var created []int
			for _, i := range writes {
				g := &gi.groups[i]
				sg := &ldapbridge.Group{Name: g.stored, Source: ldapbridge.SourceLDAP, Directory: a.directory, DN: g.dn, StableID: g.stableID}
				if bulk && bc != nil && olds[i] == nil {
					creates, created = append(creates, sg), append(created, i)
					continue
				}
				if err := tx.UpsertGroup(wctx, sg); err != nil {
					return err
				}
				g.id = sg.ID
				a.note(groupChange(olds[i], sg))
			}
			if len(creates) == 0 {
				return nil
			}
			if err := bc.CreateSyncedGroups(wctx, creates); err != nil {
				return err
			}
			for j, sg := range creates {
				gi.groups[created[j]].id = sg.ID
				a.note(groupChange(nil, sg))
			}
			return nil
		})
	}
	err := write(true)
	if err != nil && ctx.Err() == nil {
		// A name taken outside the groups read: one by one, UpsertGroup
		// says which and why.
		err = write(false)
	}
	if err != nil {
		return nil, fmt.Errorf("dirsync: write groups: %w", err)
	}
	a.applied += len(writes)
	return gone, nil
}

// ownGroups keeps the stored groups this directory's run may match,
// update and remove: local groups (shared, matched only to warn of a name
// clash) and the directory groups of this directory (Group.Directory). A
// group of another directory is never touched, even with the same DN.
func (s *Syncer) ownGroups(stored []*ldapbridge.Group) []*ldapbridge.Group {
	var out []*ldapbridge.Group
	for _, g := range stored {
		d := g.Directory
		if d == "" {
			d = ldapbridge.DefaultDirectory
		}
		if g.Source == ldapbridge.SourceLocal || d == s.cfg.Name() {
			out = append(out, g)
		}
	}
	return out
}
