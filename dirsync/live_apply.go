package dirsync

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/membership"
)

// A live run applies the entries a refreshAndPersist stream named, and only
// them: it reads each changed entry by its DN, judges the users among them
// with the login's Mapper (their groups resolved as a login resolves them),
// writes them through the run's applier (refusals held until the removal
// guard passes, the change log and the outbox in the same transactions),
// diffs the stored members of a changed mirrored group against its entry
// to find the users whose groups changed, and removes the users deleted (or
// gone out of users.search and users.sync_filter) through the guard. Its
// cost is that of the change: it never lists the store's users or
// memberships, nor reads every group (with groups.nested, a group change
// lists the store's groups once, to compare its member groups). What it
// cannot apply that way (a group added, deleted or renamed, a group's
// member groups changed, non-DN memberships, a flag group outside
// groups.mirror, no usable content-sync cursor for the stream's server, a
// read that does not show the change yet) makes it run the whole
// incremental sync instead, as every live run did before.

// liveBatch is what a live run applies directly.
type liveBatch struct {
	// server is the URL of the stream's server: the run's cursor key.
	server string
	events []liveEvent
	// cookies are the stream's newest cookies, by stream base, taken with
	// the events: every change before them is among events or applied.
	cookies map[string][]byte
	// streams are the stream's searches (Live.streamRequests).
	streams []*ldapbridge.SearchRequest
	active  *activeCount
	// whole is set when the run could not apply the batch directly and
	// ran the whole incremental sync instead.
	whole atomic.Bool
}

// liveEvent is one change the stream notified.
type liveEvent struct {
	dn, uuid string
	state    ldapbridge.SyncState
	csn      string // the change sequence number the notification carried, or ""
}

// activeCount is the number of active users of the directory, the base of
// a percentage in sync.max_removals. Counting them reads every stored
// user's state, so a live mirror counts them once (at the latest in the
// first run that removes or refuses someone), adjusts the count by the
// users its direct runs create and remove, and counts again in the
// background (Live.recount) when the count is older than activeCountTTL,
// using the older count meanwhile.
type activeCount struct {
	mu       sync.Mutex
	n        int
	at       time.Time // when n was counted; zero: never
	counting bool      // a count is running
}

// activeCountTTL is how long a live mirror keeps its count of active users
// before it counts them again.
const activeCountTTL = 10 * time.Minute

// due reports whether the count should be taken (again) now, and if so
// marks it as running; the caller then calls count.
func (c *activeCount) due(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counting || (!c.at.IsZero() && now.Sub(c.at) < activeCountTTL) {
		return false
	}
	c.counting = true
	return true
}

// count counts the active users of s's directory into c.
func (c *activeCount) count(ctx context.Context, s *Syncer) (int, error) {
	start := time.Now()
	su, err := loadStoredUsers(ctx, s.options.Store, s.cfg.Sync.ExemptUsers, s.cfg.Name())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counting = false
	if err != nil {
		return 0, err
	}
	c.n, c.at = su.ldapActive, start
	return c.n, nil
}

// liveStore is what a live run reads from the store besides Store: single
// users and groups, and one group's members. Both drivers have it.
type liveStore interface {
	auth.AccountFinder
	UserByID(ctx context.Context, id int64) (*ldapbridge.User, error)
	Group(ctx context.Context, name string) (*ldapbridge.Group, error)
	GroupByDN(ctx context.Context, dn string) (*ldapbridge.Group, error)
	ListUsers(ctx context.Context, q ldapbridge.UserQuery) ([]*ldapbridge.User, error)
}

// liveFallback makes a live run run the whole incremental sync; it is
// returned only before the run writes anything.
type liveFallback struct{ reason string }

func (f *liveFallback) Error() string { return "live run: " + f.reason }

func fallback(format string, args ...any) error {
	return &liveFallback{reason: fmt.Sprintf(format, args...)}
}

// runLive is Run for a live batch: the batch applied directly, or, when it
// cannot be, the whole incremental run.
func (s *Syncer) runLive(ctx context.Context, ro RunOptions, a *applier) error {
	err := s.applyLive(ctx, ro, a)
	var fb *liveFallback
	if !errors.As(err, &fb) {
		return err
	}
	s.log.Info("live mirror: running a whole incremental sync for this change", "reason", fb.reason)
	ro.live.whole.Store(true)
	a.report.Mode, a.report.Server = Full, ""
	return s.run(ctx, ro, a)
}

// liveRun is the state of one live run.
type liveRun struct {
	s      *Syncer
	a      *applier
	b      *liveBatch
	st     liveStore
	dir    Directory
	groups *membership.Resolver
	// policy holds the normalised DNs of the groups access.flags,
	// access.require and access.deny name.
	policy map[string]bool
	// users are the user entries to judge, by normalised DN.
	users     []*ldapbridge.Entry
	usersByDN map[string]bool
	gone      []string // stable ids of users deleted or out of the sync
	// groupNames are the stored names of the groups the run met, by id.
	groupNames map[int64]string
}

func (s *Syncer) applyLive(ctx context.Context, ro RunOptions, a *applier) error {
	b := ro.live
	cfg := s.cfg
	switch {
	case ro.DryRun || ro.approve != nil:
		return fallback("not a plain run")
	case cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory:
		return fallback("Active Directory")
	case s.groups != nil && !slices.Contains([]string{membership.TypeGroupOfNames, membership.TypeGroupOfUniqueNames, membership.TypeMemberDN}, s.groups.Type()):
		return fallback("groups.type %s", s.groups.Type())
	}
	st, ok := s.options.Store.(liveStore)
	if !ok {
		return fallback("the store %T cannot read single users and groups", s.options.Store)
	}
	a.report.Mode, a.report.Server = Incremental, b.server
	cur, err := s.liveCursor(ctx, b.server)
	if err != nil {
		return err
	}
	r := &liveRun{s: s, a: a, b: b, st: st, dir: s.options.Dir, groups: s.groups, policy: map[string]bool{}, usersByDN: map[string]bool{}, groupNames: map[int64]string{}}
	for _, q := range policyQueries(cfg) {
		for _, dn := range q.DNs() {
			r.policy[normDN(dn)] = true
		}
	}
	if err := r.read(ctx); err != nil {
		return err
	}
	plans, mirrored, err := r.plan(ctx)
	if err != nil {
		return err
	}
	su, err := r.goneUsers(ctx, plans)
	if err != nil {
		return err
	}

	// From here on the run writes: no fallback any more.
	first := len(a.users)
	a.take(ctx, readerPage{entries: len(r.users), plans: plans})
	a.writeBatch(ctx)
	if err := a.stopped(ctx, "after writing users"); err != nil {
		return err
	}
	policy := removalsPolicy{removed: cfg.Sync.RemovedUsers, exempt: cfg.Sync.ExemptUsers, limit: cfg.Sync.MaxRemovals, force: ro.Force}
	a.removedReason = "deleted in the directory, or out of users.search and users.sync_filter (the live stream reported it)"
	if len(su.states) > 0 || a.report.UsersRefused > 0 {
		if su.ldapActive, err = r.activeUsers(ctx); err != nil {
			return err
		}
	}
	idx := make([]int, len(su.states))
	for i := range idx {
		idx[i] = i
	}
	removals, err := a.planRemovals(su, idx, policy, deletedMessage)
	if err != nil {
		return err
	}
	if err := a.applyRefusals(ctx); err != nil {
		return err
	}
	if cfg.Sync.Groups && cfg.Sync.Memberships {
		if err := r.memberships(ctx, first, mirrored); err != nil {
			return err
		}
	}
	if err := a.applyRemovals(ctx, su, removals, cfg.Sync.RemovedUsers == "delete", nil, false); err != nil {
		return err
	}
	if a.failures > 0 {
		return a.abort(fmt.Sprintf("%d users could not be written (see the warnings); the cursor is not advanced", a.failures))
	}
	r.counted(len(removals))
	return s.saveLiveCursor(ctx, cur, b)
}

// liveCursor returns the stored content-sync cursor of server, or a
// fallback when there is none this configuration can resume from (the
// whole run then decides, full when it must).
func (s *Syncer) liveCursor(ctx context.Context, server string) (*Cursor, error) {
	if server == "" {
		return nil, fallback("the stream named no server")
	}
	raw, err := s.options.Store.SyncCursor(ctx, s.cursorKey(server))
	if err != nil {
		return nil, fmt.Errorf("dirsync: read the stored cursor: %w", err)
	}
	c, err := parseCursor(raw)
	if raw == "" || err != nil || c.Kind != contentSyncKind || c.Config != configFingerprint(s.cfg) {
		return nil, fallback("no usable content-sync cursor for %s", server)
	}
	for _, srch := range s.cfg.Users.Search {
		if _, err := decodeCookie(c.Cookies[srch.BaseDN]); err != nil {
			return nil, fallback("no usable content-sync cookie for %q", srch.BaseDN)
		}
	}
	return c, nil
}

// liveReadTries bounds the reads of a batch whose entries do not show the
// notified change yet (their entryCSN is older than the notification's).
const liveReadTries = 6

// read reads every entry the events name and sorts them into users to
// judge, users gone, and changed groups (whose member changes add users).
func (r *liveRun) read(ctx context.Context) error {
	// One event per entry, the newest state.
	byUUID := map[string]int{}
	var evs []liveEvent
	for _, ev := range r.b.events {
		ev.uuid = strings.ToLower(ev.uuid)
		if i, ok := byUUID[ev.uuid]; ok {
			ev.csn = max(ev.csn, evs[i].csn)
			evs[i] = ev
			continue
		}
		byUUID[ev.uuid] = len(evs)
		evs = append(evs, ev)
	}
	wait := 20 * time.Millisecond
	for try := 1; ; try++ {
		stale, err := r.readOnce(ctx, evs)
		if err != nil || !stale {
			return err
		}
		if try == liveReadTries {
			return fallback("the directory does not show a notified change yet")
		}
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
		wait *= 2
	}
}

// readOnce reads the events' entries; stale reports an entry older than
// its notification.
func (r *liveRun) readOnce(ctx context.Context, evs []liveEvent) (stale bool, err error) {
	r.users, r.usersByDN, r.gone = nil, map[string]bool{}, nil
	var changed []*ldapbridge.Entry
	for _, ev := range evs {
		if ev.state == ldapbridge.SyncDelete {
			if ev.dn != "" && r.inGroupScope(normDN(ev.dn)) {
				g, err := r.st.GroupByDN(ctx, ev.dn)
				if err == nil && r.ownGroup(g) {
					return false, fallback("the directory group %s was deleted", ev.dn)
				}
				if err != nil && !errors.Is(err, ldapbridge.ErrNotFound) {
					return false, fmt.Errorf("dirsync: read the stored group %s: %w", ev.dn, err)
				}
			}
			r.gone = append(r.gone, ev.uuid)
			continue
		}
		if ev.dn == "" {
			return false, fallback("a notification without a DN")
		}
		e, err := r.readUser(ctx, ev.dn)
		if err != nil {
			return false, err
		}
		if e == nil {
			if e, err = r.readGroup(ctx, ev.dn); err != nil {
				return false, err
			}
			if e != nil {
				if ev.csn != "" && e.First("entryCSN") < ev.csn {
					return true, nil
				}
				changed = append(changed, e)
				continue
			}
			// Neither a user nor a group of the sync: a stored user with
			// this id is out of users.search and users.sync_filter.
			r.gone = append(r.gone, ev.uuid)
			continue
		}
		if ev.csn != "" && e.First("entryCSN") < ev.csn {
			return true, nil
		}
		r.addUser(e)
	}
	for _, g := range changed {
		if err := r.groupChanged(ctx, g); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (r *liveRun) addUser(e *ldapbridge.Entry) {
	if n := normDN(e.DN); !r.usersByDN[n] {
		r.usersByDN[n] = true
		r.users = append(r.users, e)
	}
}

// readUser reads the entry at dn when it is a user of the sync (within a
// users.search base and matching users.sync_filter), else returns nil. An
// entry that does not exist is no user; any other error is returned.
func (r *liveRun) readUser(ctx context.Context, dn string) (*ldapbridge.Entry, error) {
	norm := normDN(dn)
	for _, srch := range r.s.cfg.Users.Search {
		if !inScope(norm, normDN(srch.BaseDN), srch.LDAPScope()) {
			continue
		}
		attrs := append(slices.Clone(r.s.options.Mapper.Attributes()), "entryCSN")
		return r.readOne(ctx, &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: orEverything(r.s.cfg.Users.SyncFilter), Attributes: attrs, Few: true})
	}
	return nil, nil
}

// readGroup reads the entry at dn when it is a group of a groups.search
// base, else returns nil.
func (r *liveRun) readGroup(ctx context.Context, dn string) (*ldapbridge.Entry, error) {
	if r.groups == nil {
		return nil, nil
	}
	norm := normDN(dn)
	for _, req := range r.groups.SyncRequests() {
		if !inScope(norm, normDN(req.BaseDN), req.Scope) {
			continue
		}
		attrs := append(slices.Clone(req.Attributes), "entryCSN")
		e, err := r.readOne(ctx, &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: req.Filter, Attributes: attrs, Few: true})
		if e != nil || err != nil {
			return e, err
		}
	}
	return nil, nil
}

func (r *liveRun) readOne(ctx context.Context, req *ldapbridge.SearchRequest) (*ldapbridge.Entry, error) {
	r.a.searches++
	es, err := r.dir.Search(ctx, req)
	switch {
	case errors.Is(err, ldapbridge.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("dirsync: read %s: %w", req.BaseDN, err)
	case len(es) == 0:
		return nil, nil
	}
	return es[0], nil
}

func (r *liveRun) inGroupScope(norm string) bool {
	if r.groups == nil {
		return false
	}
	for _, req := range r.groups.SyncRequests() {
		if inScope(norm, normDN(req.BaseDN), req.Scope) {
			return true
		}
	}
	return false
}

// ownGroup reports whether g is a directory group of this directory.
func (r *liveRun) ownGroup(g *ldapbridge.Group) bool {
	d := g.Directory
	if d == "" {
		d = ldapbridge.DefaultDirectory
	}
	return g.Source == ldapbridge.SourceLDAP && g.DN != "" && d == r.s.cfg.Name()
}

// groupChanged finds the users whose membership of the changed group e
// differs from the store's: those are judged again.
func (r *liveRun) groupChanged(ctx context.Context, e *ldapbridge.Entry) error {
	cfg := r.s.cfg
	name := r.groups.GroupName(e)
	mirrored, flag := cfg.Groups.Mirror.Includes(name), r.policy[normDN(e.DN)]
	switch {
	case !mirrored && !flag:
		return nil // nothing stored depends on it
	case !mirrored || !cfg.Sync.Groups || !cfg.Sync.Memberships:
		return fallback("the group %s decides flags but its members are not mirrored", e.DN)
	case hasRangedValues(e, strings.ToLower(r.groups.MemberAttribute())+";range="):
		return fallback("the group %s has ranged members", e.DN)
	}
	dns, uids := r.groups.Members(e)
	if len(uids) > 0 {
		return fallback("the group %s lists members by uid", e.DN)
	}
	g, err := r.st.GroupByDN(ctx, e.DN)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return fallback("the group %s is not stored yet", e.DN)
	}
	if err != nil {
		return fmt.Errorf("dirsync: read the stored group %s: %w", e.DN, err)
	}
	if !r.ownGroup(g) || g.Name != cfg.StoredGroupName(name) || g.StableID != r.groups.StableID(e) {
		return fallback("the group %s was renamed or is not this directory's", e.DN)
	}
	members, err := r.st.ListUsers(ctx, ldapbridge.UserQuery{Group: g.Name})
	if err != nil {
		return fmt.Errorf("dirsync: read the members of %q: %w", g.Name, err)
	}
	stored := map[string]bool{}
	for _, u := range members {
		if u.Source == ldapbridge.SourceLDAP && u.DN != "" {
			stored[normDN(u.DN)] = true
		}
	}
	want := map[string]string{}
	for _, dn := range dns {
		want[normDN(dn)] = dn
	}
	var affected []string
	for n, dn := range want {
		if !stored[n] {
			affected = append(affected, dn)
		}
	}
	for _, u := range members {
		if n := normDN(u.DN); u.Source == ldapbridge.SourceLDAP && u.DN != "" && want[n] == "" {
			affected = append(affected, u.DN)
		}
	}
	slices.Sort(affected)
	var children []string // with groups.nested: the member values that are groups
	for _, dn := range affected {
		if r.usersByDN[normDN(dn)] {
			continue
		}
		u, err := r.readUser(ctx, dn)
		if err != nil {
			return err
		}
		if u != nil {
			r.addUser(u)
			continue
		}
		if cfg.Groups.Nested && want[normDN(dn)] != "" {
			ge, err := r.readGroup(ctx, dn)
			if err != nil {
				return err
			}
			if ge != nil {
				children = append(children, normDN(dn))
			}
		}
	}
	if cfg.Groups.Nested {
		same, err := r.sameChildren(ctx, g, children)
		if err != nil {
			return err
		}
		if !same {
			return fallback("the member groups of %s changed (or include a group that is not stored)", e.DN)
		}
	}
	return nil
}

// sameChildren reports whether the groups the directory lists in g
// (children, normalised DNs) are exactly the stored groups directly in g:
// then, with groups.nested, only users joined or left g, and re-judging
// them is enough (their nested groups are resolved as at login). A child
// group that is not stored (outside groups.mirror) cannot be compared.
func (r *liveRun) sameChildren(ctx context.Context, g *ldapbridge.Group, children []string) (bool, error) {
	all, err := r.s.options.Store.ListGroups(ctx)
	if err != nil {
		return false, fmt.Errorf("dirsync: read the store's groups: %w", err)
	}
	byDN := map[string]*ldapbridge.Group{}
	var stored *ldapbridge.Group
	for _, x := range all {
		if x.DN != "" {
			byDN[normDN(x.DN)] = x
		}
		if x.ID == g.ID {
			stored = x
		}
	}
	if stored == nil {
		return false, nil
	}
	want := map[string]bool{}
	for _, dn := range children {
		c := byDN[dn]
		if c == nil || !r.ownGroup(c) {
			return false, nil
		}
		want[c.Name] = true
	}
	if len(want) != len(stored.MemberGroups) {
		return false, nil
	}
	for _, name := range stored.MemberGroups {
		if !want[name] {
			return false, nil
		}
	}
	return true, nil
}

// plan judges the users read as a sync's planner does, each matched to its
// account as a login matches it; mirrored holds, per plan, the stored ids
// of its mirrored direct groups.
func (r *liveRun) plan(ctx context.Context) ([]userPlan, [][]int64, error) {
	cfg, m, a := r.s.cfg, r.s.options.Mapper, r.a
	exempt := map[string]bool{}
	for _, n := range cfg.Sync.ExemptUsers {
		exempt[n] = true
	}
	hookAttrs := r.s.hookAttrs()
	var plans []userPlan
	var mirrored [][]int64
	taken := map[string]bool{} // accounts (by id) and new usernames planned
	groupIDs := map[string]*ldapbridge.Group{}
	for _, e := range r.users {
		var groups []membership.Group
		if r.groups != nil {
			res, err := r.groups.UserGroups(ctx, countingSearcher{dir: r.dir, searches: &a.searches}, e)
			if err != nil {
				return nil, nil, fmt.Errorf("dirsync: read the groups of %s: %w", e.DN, err)
			}
			groups = res.Groups
		}
		var flagGroups []membership.Group
		var ids []int64
		for _, g := range groups {
			if r.policy[normDN(g.DN)] {
				flagGroups = append(flagGroups, g)
			}
			if !g.Direct || !cfg.Groups.Mirror.Includes(g.Name) {
				continue
			}
			sg, ok := groupIDs[normDN(g.DN)]
			if !ok {
				var err error
				sg, err = r.st.GroupByDN(ctx, g.DN)
				if errors.Is(err, ldapbridge.ErrNotFound) {
					return nil, nil, fallback("the group %s is not stored yet", g.DN)
				}
				if err != nil {
					return nil, nil, fmt.Errorf("dirsync: read the stored group %s: %w", g.DN, err)
				}
				groupIDs[normDN(g.DN)] = sg
				r.groupNames[sg.ID] = sg.Name
			}
			if r.ownGroup(sg) { // a local group of that name is never a member edge
				ids = append(ids, sg.ID)
			}
		}
		u, err := m.MapUser(e, flagGroups)
		if err != nil {
			a.warn(fmt.Sprintf("skipped %s: %v", e.DN, err))
			continue
		}
		plan := userPlan{action: planSkip, username: u.Username, norm: normDN(e.DN)}
		acct, err := m.FindAccount(ctx, r.st, u)
		var te *auth.TakenError
		if errors.As(err, &te) {
			a.warn(fmt.Sprintf("directory user %s (%s) is not synced: %v (an account never moves between directories; set users.username_suffix on one of them)", u.Username, e.DN, err))
			plans, mirrored = append(plans, plan), append(mirrored, nil)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("dirsync: %s: %w", e.DN, err)
		}
		key := "name:" + u.Username
		if acct != nil {
			key = fmt.Sprint("id:", acct.ID)
		}
		switch {
		case exempt[u.Username] || (acct != nil && exempt[acct.Username]):
			continue // sync.exempt_users: read, never written
		case acct != nil && acct.Source != ldapbridge.SourceLDAP:
			a.warn(fmt.Sprintf("directory user %s (%s) has the name of local account %q, which sync never touches; rename one of them", u.Username, e.DN, acct.Username))
			plans, mirrored = append(plans, plan), append(mirrored, nil)
			continue
		case taken[key]:
			a.warn(fmt.Sprintf("directory entries map to the same account %q; %s is skipped", u.Username, e.DN))
			plans, mirrored = append(plans, plan), append(mirrored, nil)
			continue
		}
		taken[key] = true
		if acct != nil && m.QueryField() == "" && acct.StableID != "" && u.StableID != "" && acct.StableID != u.StableID {
			a.warn(fmt.Sprintf("directory entry %s reuses the username %q of an account with another stable id; the account is taken over", e.DN, u.Username))
		}
		plan.hash = userHash(u)
		if hookAttrs != nil {
			plan.hash = hookedHash(plan.hash, e, hookAttrs)
			plan.entry = e
		}
		plan.user = u
		if acct == nil {
			plan.action = planCreate
		} else {
			// Always written: the store keeps no per-user hash to compare
			// with, and the change log notes only the fields that changed.
			plan.action, plan.storedID = planUpdate, acct.ID
			plan.refusal = acct.Allowed() && refuses(u.Verdict)
		}
		plans, mirrored = append(plans, plan), append(mirrored, ids)
	}
	return plans, mirrored, nil
}

// goneUsers returns the stored users of this directory the events removed,
// as the stored state the removal guard plans from; users the run judged
// (a stable id reused by an entry read) are not among them.
func (r *liveRun) goneUsers(ctx context.Context, plans []userPlan) (*storedUsers, error) {
	su := &storedUsers{byStable: map[string]int{}, byName: map[string]int{}, byID: map[int64]int{}, exempt: map[string]bool{}}
	planned := map[int64]bool{}
	for _, p := range plans {
		if p.storedID != 0 {
			planned[p.storedID] = true
		}
	}
	for _, id := range r.gone {
		u, err := r.st.UserByStableID(ctx, id)
		if errors.Is(err, ldapbridge.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dirsync: read the user with stable id %s: %w", id, err)
		}
		d := u.Directory
		if d == "" {
			d = ldapbridge.DefaultDirectory
		}
		if u.Source != ldapbridge.SourceLDAP || d != r.s.cfg.Name() || planned[u.ID] || slices.Contains(r.s.cfg.Sync.ExemptUsers, u.Username) {
			continue
		}
		if _, dup := su.byID[u.ID]; dup {
			continue
		}
		i := len(su.states)
		su.states = append(su.states, ldapbridge.SyncUserState{ID: u.ID, Username: u.Username, Source: u.Source, DN: u.DN, StableID: u.StableID,
			Directory: u.Directory, IsActive: u.IsActive, Verdict: u.EffectiveVerdict()})
		su.byID[u.ID], su.byStable[u.StableID], su.byName[u.Username] = i, i, i
	}
	su.seen = make([]bool, len(su.states))
	return su, nil
}

// activeUsers returns the number of active users of this directory: the
// count the live mirror keeps, or, before it has one, a count taken now.
func (r *liveRun) activeUsers(ctx context.Context) (int, error) {
	c := r.b.active
	if c == nil {
		c = &activeCount{}
	}
	c.mu.Lock()
	if !c.at.IsZero() {
		defer c.mu.Unlock()
		return c.n, nil
	}
	c.counting = true
	c.mu.Unlock()
	return c.count(ctx, r.s)
}

// counted adjusts the kept count of active users by the run's creates and
// removals.
func (r *liveRun) counted(removed int) {
	c := r.b.active
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() {
		c.n = max(0, c.n+r.a.report.UsersCreated-removed)
	}
}

// memberships makes the direct edges of the users the run wrote (a.users
// from first on, mirrored their wanted groups) into the mirrored groups of
// this directory what the directory says. An edge into a group the
// directory no longer has, or that groups.mirror leaves out, stays, as in a
// whole run.
func (r *liveRun) memberships(ctx context.Context, first int, mirrored [][]int64) error {
	a := r.a
	var add, remove []ldapbridge.Membership
	groupNames, userNames := r.groupNames, map[int64]string{}
	for k, ids := range mirrored {
		su := a.users[first+k]
		if su.id <= 0 || su.failed {
			continue
		}
		userNames[su.id] = su.username
		want := map[int64]bool{}
		for _, id := range ids {
			want[id] = true
		}
		cur, err := r.st.UserByID(ctx, su.id)
		if err != nil {
			return fmt.Errorf("dirsync: read user %q: %w", su.username, err)
		}
		for _, name := range cur.DirectGroups {
			g, err := r.st.Group(ctx, name)
			if err != nil {
				return fmt.Errorf("dirsync: read group %q: %w", name, err)
			}
			groupNames[g.ID] = g.Name
			if want[g.ID] {
				delete(want, g.ID)
				continue
			}
			if !r.ownGroup(g) {
				continue
			}
			left, err := r.stillMirrored(ctx, g)
			if err != nil {
				return err
			}
			if left {
				remove = append(remove, ldapbridge.Membership{GroupID: g.ID, UserID: su.id})
			}
		}
		for _, id := range ids {
			if want[id] {
				delete(want, id) // listed twice
				add = append(add, ldapbridge.Membership{GroupID: id, UserID: su.id})
			}
		}
	}
	rep := a.report
	for _, m := range add {
		rep.Plan.add(&rep.Plan.MembershipsAdd, edgeName(edge{group: m.GroupID, user: m.UserID}, groupNames, userNames))
	}
	for _, m := range remove {
		rep.Plan.add(&rep.Plan.MembershipsRemove, edgeName(edge{group: m.GroupID, user: m.UserID}, groupNames, userNames))
	}
	rep.MembershipsAdded, rep.MembershipsRemoved = len(add), len(remove)
	a.edgeGroups, a.edgeUsers = groupNames, userNames
	if len(add)+len(remove) == 0 {
		return nil
	}
	if err := a.stopped(ctx, "while writing memberships"); err != nil {
		return err
	}
	if err := a.writeMemberships(ctx, remove, add); err != nil {
		return fmt.Errorf("dirsync: write memberships: %w", err)
	}
	return nil
}

// stillMirrored reports whether the stored directory group g is still in
// the directory and mirrored: only then does a user's edge into it go when
// the directory no longer lists the user.
func (r *liveRun) stillMirrored(ctx context.Context, g *ldapbridge.Group) (bool, error) {
	e, err := r.readGroup(ctx, g.DN)
	if err != nil || e == nil {
		return false, err
	}
	return r.s.cfg.Groups.Mirror.Includes(r.groups.GroupName(e)), nil
}

// saveLiveCursor moves the stored content-sync cursor to the stream's
// cookies the batch was taken with: every change before them is applied.
// A users.search base whose stream has no cookie (or an older one) keeps
// the stored cookie.
func (s *Syncer) saveLiveCursor(ctx context.Context, cur *Cursor, b *liveBatch) error {
	next := *cur
	next.Cookies = map[string]string{}
	changed := false
	for _, srch := range s.cfg.Users.Search {
		old := cur.Cookies[srch.BaseDN]
		next.Cookies[srch.BaseDN] = old
		ck := b.cookieFor(srch.BaseDN, srch.LDAPScope())
		if len(ck) == 0 {
			continue
		}
		enc := base64.StdEncoding.EncodeToString(ck)
		prev, _ := decodeCookie(old)
		if _, err := decodeCookie(enc); err != nil || cookieCSN(ck) <= cookieCSN(prev) {
			continue
		}
		next.Cookies[srch.BaseDN], changed = enc, true
	}
	if !changed {
		return nil
	}
	wctx, done := finishing(ctx)
	defer done()
	if err := s.options.Store.SetSyncCursor(wctx, s.cursorKey(b.server), next.String()); err != nil {
		return fmt.Errorf("dirsync: save the cursor: %w", err)
	}
	return nil
}

// cookieFor returns the newest cookie of the stream whose search covers
// base (at scope), or nil.
func (b *liveBatch) cookieFor(base string, scope ldapbridge.Scope) []byte {
	nb := normDN(base)
	for _, req := range b.streams {
		nr := normDN(req.BaseDN)
		if (nr == nb && (req.Scope == scope || req.Scope == ldapbridge.ScopeSub)) || (req.Scope == ldapbridge.ScopeSub && strings.HasSuffix(nb, ","+nr)) {
			return b.cookies[req.BaseDN]
		}
	}
	return nil
}
