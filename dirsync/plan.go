package dirsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// storedUsers is the compact state of every stored user before a run,
// and which of them the run's read has seen.
type storedUsers struct {
	states     []ldapbridge.SyncUserState
	seen       []bool
	byStable   map[string]int
	byName     map[string]int
	byID       map[int64]int
	ldapActive int // directory users active before the run
	// exempt is sync.exempt_users: a run never creates, updates, removes
	// or changes the memberships of these usernames.
	exempt map[string]bool
}

// loadStoredUsers reads the compact state of every stored user. The
// directory accounts of other directories than directory (config
// directories:) count as seen too and not as this directory's active
// users: a run never removes, refreshes or counts them. The
// stored accounts named by exempt (sync.exempt_users) count as seen from
// the start, so nothing of the run (removals, flag refreshes, the
// memberships of users it did not read) judges them.
func loadStoredUsers(ctx context.Context, store Store, exempt []string, directory string) (*storedUsers, error) {
	foreign := func(st ldapbridge.SyncUserState) bool {
		d := st.Directory
		if d == "" {
			d = ldapbridge.DefaultDirectory
		}
		return st.Source == ldapbridge.SourceLDAP && d != directory
	}
	su := &storedUsers{byStable: map[string]int{}, byName: map[string]int{}, byID: map[int64]int{}, exempt: map[string]bool{}}
	for _, name := range exempt {
		su.exempt[name] = true
	}
	err := store.SyncUserStates(ctx, func(st ldapbridge.SyncUserState) error {
		i := len(su.states)
		su.states = append(su.states, st)
		if st.StableID != "" {
			su.byStable[st.StableID] = i
		}
		su.byName[st.Username] = i
		su.byID[st.ID] = i
		if st.Source == ldapbridge.SourceLDAP && st.IsActive && !foreign(st) {
			su.ldapActive++
		}
		return nil
	})
	su.seen = make([]bool, len(su.states))
	if err != nil {
		return nil, fmt.Errorf("dirsync: read the store's users: %w", err)
	}
	for i, st := range su.states {
		su.seen[i] = su.exempt[st.Username] || foreign(st)
	}
	return su, nil
}

// accounts is the auth.AccountFinder of a run: the stored state read
// before it, and the store for users.query_field values the state does
// not hold. With it, auth.Mapper.FindAccount matches a read entry to an
// account exactly as a login does.
type accounts struct {
	su    *storedUsers
	store Store
}

func (ac accounts) at(i int, ok bool, what string) (*ldapbridge.User, error) {
	if !ok {
		return nil, fmt.Errorf("%s: %w", what, ldapbridge.ErrNotFound)
	}
	st := ac.su.states[i]
	return &ldapbridge.User{ID: st.ID, Username: st.Username, Source: st.Source, Directory: st.Directory, DN: st.DN, StableID: st.StableID, IsActive: st.IsActive}, nil
}

func (ac accounts) UserByStableID(_ context.Context, id string) (*ldapbridge.User, error) {
	i, ok := ac.su.byStable[id]
	return ac.at(i, ok, "user with stable id "+id)
}

func (ac accounts) User(_ context.Context, name string) (*ldapbridge.User, error) {
	i, ok := ac.su.byName[name]
	return ac.at(i, ok, "user "+name)
}

func (ac accounts) UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error) {
	if field == "username" {
		return ac.User(ctx, value)
	}
	if len(ac.su.states) == 0 { // an empty store before the run: no query per user
		return nil, fmt.Errorf("user with %s %q: %w", field, value, ldapbridge.ErrNotFound)
	}
	return ac.store.UserByField(ctx, field, value)
}

// planAction is what a run does with one user it read.
type planAction int

const (
	planSkip      planAction = iota // read but not synced (a name clash); no store id
	planUnchanged                   // the stored user's hash matches
	planUpdate
	planCreate
)

// userPlan is the reader's decision for one user entry.
type userPlan struct {
	action   planAction
	user     *ldapbridge.User // to write (create and update)
	hash     string
	storedID int64 // the stored user's id (update and unchanged)
	username string
	norm     string  // normalised DN
	groups   []int32 // direct groups, indexes in groupIndex.groups
	// entry is the directory entry, kept for Hooks.OnPopulate (only when a
	// hook is set, and only for creates and updates).
	entry *ldapbridge.Entry
	// refusal is set on an update that takes admission away from a user
	// the store admits (auth.Mapper.Judge now says require_group or
	// deny_group): the applier holds the new verdict back until the
	// removal guard has passed.
	refusal bool
}

// admitted reports whether a stored state's verdict admits the user.
func admitted(st ldapbridge.SyncUserState) bool {
	return st.IsActive && (st.Verdict == "" || st.Verdict == ldapbridge.VerdictOK)
}

// refuses reports whether verdict takes admission away by policy.
func refuses(verdict string) bool {
	return verdict == ldapbridge.VerdictRequireGroup || verdict == ldapbridge.VerdictDenyGroup
}

// readerPage is what the reader sends the applier for one page it read.
type readerPage struct {
	entries  int // entries read
	plans    []userPlan
	warnings []string
}

// presentSet is one base a content-sync refresh listed whole.
type presentSet struct {
	base  string // normalised
	scope ldapbridge.Scope
	ids   map[string]bool
}

// planner is the reader side of a run: the UserSink a ChangeSource reads
// into. It maps each entry with the login's Mapper, decides create, update
// or unchanged against the stored state, and sends the plans over pages;
// it never writes to the store. The goroutine that reads owns it, and
// hands it back to the pipeline when the read ends.
type planner struct {
	mapper       *auth.Mapper
	accounts     accounts
	uidAttr      string
	markDisabled bool // Active Directory: keep userAccountControl's disabled bit in the hash
	// hookAttrs is set when the mapper carries Hooks.OnPopulate: the
	// lowercased attributes a user entry is read with (Mapper.Attributes),
	// whose values go into the sync hash, as the hook may read any of them.
	hookAttrs map[string]bool
	stored    *storedUsers
	groups    *groupIndex
	pages     chan<- readerPage
	byNorm    map[string]bool
	// creating holds the usernames and stable ids of the accounts this run
	// plans to create: the stored state read before the run does not list
	// them, so a second entry with the same name (a users.search union
	// whose bases both hold it) is skipped like a second entry for a
	// stored account, instead of failing its create and aborting the run.
	creating map[string]bool
	warnings []string // sent with the next page
	deleted  []string
	present  []presentSet
}

func (p *planner) Entries(ctx context.Context, page []*ldapbridge.Entry) error {
	pg := readerPage{entries: len(page), warnings: p.warnings}
	p.warnings = nil
	for _, e := range page {
		plan, ok, err := p.plan(ctx, e)
		if err != nil {
			return err
		}
		if ok {
			pg.plans = append(pg.plans, plan)
		}
	}
	p.pages <- pg // the applier takes every page until the read ends
	return ctx.Err()
}

func (p *planner) Deleted(stableIDs ...string) { p.deleted = append(p.deleted, stableIDs...) }

func (p *planner) Present(base string, scope ldapbridge.Scope, stableIDs []string) {
	ids := make(map[string]bool, len(stableIDs))
	for _, id := range stableIDs {
		ids[id] = true
	}
	p.present = append(p.present, presentSet{base: normDN(base), scope: scope, ids: ids})
}

func (p *planner) Warn(msg string) { p.warnings = append(p.warnings, msg) }

func (p *planner) warnf(format string, args ...any) { p.Warn(fmt.Sprintf(format, args...)) }

// flush sends the warnings no page has carried yet.
func (p *planner) flush() {
	if len(p.warnings) > 0 {
		p.pages <- readerPage{warnings: p.warnings}
		p.warnings = nil
	}
}

// plan maps one entry and decides create, update or unchanged; ok is
// false for an entry that is not a user of this run at all. The account
// is matched as a login matches it (auth.Mapper.FindAccount); a store
// error ends the read, so the run aborts before any removal.
func (p *planner) plan(ctx context.Context, e *ldapbridge.Entry) (userPlan, bool, error) {
	norm := normDN(e.DN)
	if p.byNorm[norm] {
		return userPlan{}, false, nil
	}
	direct := p.groups.directGroups(norm, e.First(p.uidAttr), p.groups.primaryKey(e))
	u, err := p.mapper.MapUser(e, p.groups.flagGroups(direct))
	if err != nil {
		p.warnf("skipped %s: %v", e.DN, err)
		return userPlan{}, false, nil
	}
	p.byNorm[norm] = true
	plan := userPlan{action: planSkip, username: u.Username, norm: norm, groups: direct}
	su := p.stored
	acct, err := p.mapper.FindAccount(ctx, p.accounts, u)
	var taken *auth.TakenError
	if errors.As(err, &taken) {
		p.warnf("directory user %s (%s) is not synced: %v (an account never moves between directories; set users.username_suffix on one of them)", u.Username, e.DN, err)
		return plan, true, nil
	}
	if err != nil {
		return plan, false, fmt.Errorf("dirsync: %s: %w", e.DN, err)
	}
	st, found := -1, false
	if acct != nil {
		if st, found = su.byID[acct.ID]; !found {
			// An account this run created for an earlier entry.
			p.warnf("directory entries map to the same account %q; %s is skipped", acct.Username, e.DN)
			return plan, true, nil
		}
	}
	if su.exempt[u.Username] || (found && su.exempt[su.states[st].Username]) {
		return plan, true, nil // sync.exempt_users: read, never written
	}
	if found && su.states[st].Source != ldapbridge.SourceLDAP {
		p.warnf("directory user %s (%s) has the name of local account %q, which sync never touches; rename one of them", u.Username, e.DN, su.states[st].Username)
		return plan, true, nil
	}
	if found && p.mapper.QueryField() == "" && su.states[st].StableID != "" && u.StableID != "" && su.states[st].StableID != u.StableID {
		p.warnf("directory entry %s reuses the username %q of an account with another stable id; the account is taken over", e.DN, u.Username)
	}
	if found && su.seen[st] {
		p.warnf("directory entries map to the same account %q; %s is skipped", su.states[st].Username, e.DN)
		return plan, true, nil
	}
	if !found && (p.creating[u.Username] || (u.StableID != "" && p.creating["stable:"+u.StableID])) {
		p.warnf("directory entries map to the same account %q; %s is skipped", u.Username, e.DN)
		return plan, true, nil
	}
	plan.hash = userHash(u)
	if p.hookAttrs != nil {
		plan.hash = hookedHash(plan.hash, e, p.hookAttrs)
	}
	if p.markDisabled {
		plan.hash = markDisabled(e, plan.hash)
	}
	if p.hookAttrs != nil {
		plan.entry = e
	}
	if !found {
		if p.creating == nil {
			p.creating = map[string]bool{}
		}
		p.creating[u.Username] = true
		if u.StableID != "" {
			p.creating["stable:"+u.StableID] = true
		}
		plan.action, plan.user = planCreate, u
		return plan, true, nil
	}
	su.seen[st] = true
	plan.storedID = su.states[st].ID
	if su.states[st].Hash == plan.hash {
		plan.action = planUnchanged
		return plan, true, nil
	}
	plan.action, plan.user = planUpdate, u
	plan.refusal = admitted(su.states[st]) && refuses(u.Verdict)
	return plan, true, nil
}

// hookedHash folds the entry's values of attrs into the fields half of the
// sync hash hash. With Hooks.OnPopulate set, the stored record is the mapped
// user after the hook, and the hook may read any attribute the entry was
// read with; so the hash is of the hook's input (mapped fields, flags and
// those attributes), never of its output: an entry whose attributes did not
// change plans unchanged and is not rewritten, whatever the hook sets, and
// an entry whose hook-only attribute (say users.extra_attributes) changed is
// rewritten and the hook runs again. Values are sorted, so an attribute
// the server returns in another order does not count as a change.
func hookedHash(hash string, e *ldapbridge.Entry, attrs map[string]bool) string {
	fields, flags, _ := strings.Cut(hash, ":")
	h := sha256.New()
	w := func(b []byte) { h.Write(b); h.Write([]byte{0}) }
	w([]byte(fields))
	type attr struct {
		name   string
		values [][]byte
	}
	var list []attr
	for _, a := range e.Attributes {
		if n := strings.ToLower(a.Name); attrs[n] {
			vs := slices.Clone(a.Values)
			slices.SortFunc(vs, bytes.Compare)
			list = append(list, attr{n, vs})
		}
	}
	slices.SortStableFunc(list, func(x, y attr) int { return strings.Compare(x.name, y.name) })
	for _, a := range list {
		w([]byte("attr:" + a.name))
		for _, v := range a.values {
			w(v)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]) + ":" + flags
}

// gone marks the stored users the read reported deleted, or (after a
// present phase) did not list under a base it listed whole, and returns
// them in store order. They count as seen: nothing else of the run
// re-judges them.
func (p *planner) gone() []int {
	su := p.stored
	gone := make([]bool, len(su.states))
	for _, id := range p.deleted {
		if i, ok := su.byStable[id]; ok && !su.seen[i] {
			gone[i] = true
		}
	}
	for _, ps := range p.present {
		for i, st := range su.states {
			if !su.seen[i] && st.Source == ldapbridge.SourceLDAP && !ps.ids[strings.ToLower(st.StableID)] && inScope(normDN(st.DN), ps.base, ps.scope) {
				gone[i] = true
			}
		}
	}
	var out []int
	for i, g := range gone {
		if g {
			su.seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// inScope reports whether the normalised dn is within base at scope.
func inScope(dn, base string, scope ldapbridge.Scope) bool {
	switch {
	case dn == base:
		return scope != ldapbridge.ScopeOne
	case !strings.HasSuffix(dn, ","+base) || scope == ldapbridge.ScopeBase:
		return false
	case scope == ldapbridge.ScopeOne:
		rdn := strings.TrimSuffix(dn, ","+base)
		return !strings.Contains(strings.ReplaceAll(rdn, `\,`, ""), ",")
	}
	return true
}
