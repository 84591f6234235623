package dirsync

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/membership"
)

// run is the state of one Syncer.Run.
type run struct {
	s   *Syncer
	ro  RunOptions
	rep *Report
	ctx context.Context
	dir Directory // Options.Dir, or one pinned server (Active Directory)
	ad  *adState  // Active Directory runs only
	rng rangedGroups

	searches, read, applied int
	start                   time.Time // the cursor of the next run
	cur                     *cursor

	// The store before the run, compact.
	states     []ldapbridge.SyncUserState
	seen       []bool
	byStable   map[string]int
	byName     map[string]int
	ldapActive int

	// Directory groups.
	dg         []dirGroup
	gidx       map[string]int32   // normalised DN -> index in dg
	memberOf   map[string][]int32 // user key (normDN, or "uid:"+uid) -> direct groups
	gidGroups  map[string][]int32 // posix gidNumber -> groups
	flagGroup  []bool             // group is named by an access.flags query
	anyFlags   bool
	ancestors  [][]int32 // memo: group -> itself and every group above it
	storeGroup []*ldapbridge.Group

	// Users read in this run.
	users    []readUser
	byNorm   map[string]int
	usersMu  sync.Mutex // users[].id, warnings and failures, shared with the applier
	failures int

	cs *csRun // RFC 4533 content sync; nil when the run does not use it
}

type dirGroup struct {
	dn, norm, name, stableID string
	mirrored                 bool
	id                       int64 // store id; negative for a dry run's planned create
	parents                  []int32
	members                  []string // normalised member DNs, until linked
	uids                     []string
	gid                      string
}

type readUser struct {
	username string
	norm     string
	id       int64
	groups   []int32 // direct
}

// loadState reads the compact state of every stored user.
func (r *run) loadState(ctx context.Context) error {
	r.byStable, r.byName = map[string]int{}, map[string]int{}
	err := r.s.o.Store.SyncUserStates(ctx, func(st ldapbridge.SyncUserState) error {
		i := len(r.states)
		r.states = append(r.states, st)
		if st.StableID != "" {
			r.byStable[st.StableID] = i
		}
		r.byName[st.Username] = i
		if st.Source == ldapbridge.SourceLDAP && st.IsActive {
			r.ldapActive++
		}
		return nil
	})
	r.seen = make([]bool, len(r.states))
	if err != nil {
		return fmt.Errorf("dirsync: read the store's users: %w", err)
	}
	return nil
}

// search runs one paged search, counting it.
func (r *run) search(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	r.searches++
	return r.dir.SearchPages(ctx, req, fn)
}

// readGroups reads every group and links members and nesting locally.
func (r *run) readGroups(ctx context.Context) error {
	r.gidx, r.memberOf, r.gidGroups = map[string]int32{}, map[string][]int32{}, map[string][]int32{}
	res := r.s.groups
	if res == nil {
		return nil
	}
	posix := res.Type() == membership.TypePosix
	for _, req := range res.SyncRequests() {
		err := r.search(ctx, req, func(page []*ldapbridge.Entry) error {
			for _, e := range page {
				r.read++
				norm := normDN(e.DN)
				if _, dup := r.gidx[norm]; dup {
					continue
				}
				name := res.GroupName(e)
				g := dirGroup{dn: e.DN, norm: norm, name: name, stableID: res.StableID(e), mirrored: r.s.cfg.Groups.Mirror.Includes(name)}
				dns, uids := res.Members(e)
				for _, m := range dns {
					g.members = append(g.members, normDN(m))
				}
				g.uids = uids
				if posix {
					g.gid = e.First("gidNumber")
				}
				r.noteRanged(e, int32(len(r.dg)))
				r.gidx[norm] = int32(len(r.dg))
				r.dg = append(r.dg, g)
			}
			r.s.progress(Progress{Phase: "groups", Read: r.read, Applied: r.applied})
			return ctx.Err()
		})
		if err != nil {
			return r.abort(fmt.Sprintf("reading groups under %q: %v", req.BaseDN, err), err)
		}
	}
	if err := r.completeRanged(ctx); err != nil {
		return err
	}
	for i := range r.dg {
		g := &r.dg[i]
		for _, m := range g.members {
			if c, ok := r.gidx[m]; ok {
				r.dg[c].parents = append(r.dg[c].parents, int32(i))
			} else {
				r.memberOf[m] = append(r.memberOf[m], int32(i))
			}
		}
		for _, u := range g.uids {
			k := "uid:" + strings.ToLower(u)
			r.memberOf[k] = append(r.memberOf[k], int32(i))
		}
		if g.gid != "" {
			r.gidGroups[g.gid] = append(r.gidGroups[g.gid], int32(i))
		}
		g.members, g.uids = nil, nil
	}
	r.flagGroup = make([]bool, len(r.dg))
	for _, q := range r.s.cfg.Access.Flags {
		for _, dn := range q.DNs() {
			if i, ok := r.gidx[normDN(dn)]; ok {
				r.flagGroup[i], r.anyFlags = true, true
			}
		}
	}
	r.ancestors = make([][]int32, len(r.dg))
	return nil
}

// closure returns g and, with groups.nested, every group above it.
func (r *run) closure(g int32) []int32 {
	if !r.s.cfg.Groups.Nested {
		return []int32{g}
	}
	if a := r.ancestors[g]; a != nil {
		return a
	}
	seen := map[int32]bool{g: true}
	out := []int32{g}
	for i := 0; i < len(out); i++ {
		for _, p := range r.dg[out[i]].parents {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	r.ancestors[g] = out
	return out
}

// directGroups returns the groups that list the user directly.
func (r *run) directGroups(norm, uid, gid string) []int32 {
	out := r.memberOf[norm]
	if uid != "" {
		if more := r.memberOf["uid:"+strings.ToLower(uid)]; len(more) > 0 {
			out = append(append([]int32(nil), out...), more...)
		}
	}
	if gid != "" {
		if more := r.gidGroups[gid]; len(more) > 0 {
			out = append(append([]int32(nil), out...), more...)
		}
	}
	return out
}

// flagGroups returns the user's effective groups that some flag names, in
// the form the Mapper evaluates: only those can change a flag.
func (r *run) flagGroups(direct []int32) []membership.Group {
	if !r.anyFlags {
		return nil
	}
	var out []membership.Group
	seen := map[int32]bool{}
	for _, d := range direct {
		for _, g := range r.closure(d) {
			if r.flagGroup[g] && !seen[g] {
				seen[g] = true
				out = append(out, membership.Group{DN: r.dg[g].dn, Name: r.dg[g].name, Direct: g == d})
			}
		}
	}
	return out
}
