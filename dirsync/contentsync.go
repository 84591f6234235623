package dirsync

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ldapbridge/ldapbridge"
)

// contentSyncKind is the cursor kind of RFC 4533 content-sync runs.
const contentSyncKind = "contentSync"

// ContentSyncer runs RFC 4533 refreshOnly searches; *ldapbridge.Dir does. A
// Directory that implements it, on an OpenLDAP or JumpCloud server whose
// root DSE lists the sync request control, gets content-sync incremental
// runs, which also report deletions.
type ContentSyncer = ldapbridge.ContentSyncer

// csRun is the content-sync part of a run.
type csRun struct {
	dir ContentSyncer
	// cookies are the next run's, per users.search base DN, base64.
	cookies map[string]string
	// removals are the stored users an incremental refresh reported gone,
	// after sync.removed_users, exempt users and the guard.
	removals []int
}

// contentSyncFor returns the content-sync state of a run against the
// server info describes, or nil when content sync is not usable there.
func (r *run) contentSyncFor(info *ldapbridge.ServerInfo) *csRun {
	d, ok := r.s.o.Dir.(ContentSyncer)
	if !ok || info == nil || (info.Flavor != ldapbridge.FlavorOpenLDAP && info.Flavor != ldapbridge.FlavorJumpCloud) ||
		!slices.Contains(info.SupportedControl, ldapbridge.ContentSyncOID) {
		return nil
	}
	// Deletions arrive as entryUUIDs, so they only name stored users when
	// entryUUID is the stable id.
	if a := r.s.cfg.Users.StableIDAttribute; a != "" && !strings.EqualFold(a, "entryUUID") {
		return nil
	}
	return &csRun{dir: d, cookies: map[string]string{}}
}

// source is the change source of a content-sync run.
func (cs *csRun) source(bases []string) ChangeSource { return contentSyncSource{bases: bases} }

func (r *run) userBases() []string {
	out := make([]string, len(r.s.cfg.Users.Search))
	for i, s := range r.s.cfg.Users.Search {
		out[i] = s.BaseDN
	}
	return out
}

// contentSyncSource resumes an RFC 4533 refresh from the cookie of each
// users.search base; the users filter is users.sync_filter unchanged.
type contentSyncSource struct{ bases []string }

func (contentSyncSource) Kind() string { return contentSyncKind }

func (s contentSyncSource) Filter(syncFilter string, c *cursor) (string, error) {
	for _, b := range s.bases {
		raw, ok := c.Cookies[b]
		if !ok {
			return "", fmt.Errorf("the stored content-sync cursor has no cookie for users.search base %q", b)
		}
		if _, err := decodeCookie(raw); err != nil {
			return "", fmt.Errorf("the stored content-sync cookie for %q is not usable (%v)", b, err)
		}
	}
	return syncFilter, nil
}

// csnRE is an OpenLDAP change sequence number.
var csnRE = regexp.MustCompile(`^[0-9]{14}\.[0-9]{6}Z#[0-9a-f]{6}#[0-9a-f]{3}#[0-9a-f]{6}$`)

// decodeCookie returns a stored cookie's bytes. RFC 4533 cookies are
// opaque, but syncprov answers a cookie without a valid CSN with the whole
// content and no word of deletions, so such a cookie is refused here.
func decodeCookie(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	csns := 0
	for _, field := range strings.Split(string(b), ",") {
		v, ok := strings.CutPrefix(field, "csn=")
		if !ok {
			continue
		}
		for _, csn := range strings.Split(v, ";") {
			if !csnRE.MatchString(csn) {
				return nil, fmt.Errorf("%q is not an OpenLDAP CSN", csn)
			}
			csns++
		}
	}
	if csns == 0 {
		return nil, errors.New("it holds no change sequence number")
	}
	return b, nil
}

// readUsersVia reads the users: by content sync in an incremental
// content-sync run, else with readUsers (a full run also takes fresh
// cookies first, so the next run resumes from before this read).
func (r *run) readUsersVia(ctx context.Context, filter string) error {
	if r.cs == nil {
		return r.readUsers(ctx, filter)
	}
	if r.rep.Mode == Incremental {
		err := r.readContentSync(ctx)
		if !errors.Is(err, ldapbridge.ErrSyncRefreshRequired) && !errors.Is(err, ldapbridge.ErrSyncSizeLimit) {
			return err
		}
		written, err := r.restartFull(ctx, err)
		if err != nil {
			return err
		}
		r.takeCookies(ctx)
		if err := r.readUsers(ctx, r.s.cfg.Users.SyncFilter); err != nil {
			return err
		}
		// The users the refresh wrote are unchanged for the full read.
		r.rep.UsersUnchanged = max(0, r.rep.UsersUnchanged-written)
		return nil
	}
	r.takeCookies(ctx)
	return r.readUsers(ctx, filter)
}

// restartFull turns an incremental run whose refresh failed into a full
// one: the users it wrote stay (they are what the directory said), the
// store state is reloaded and the run reads everyone. It returns how many
// users the refresh wrote.
func (r *run) restartFull(ctx context.Context, cause error) (int, error) {
	r.rep.Mode = Full
	r.rep.FallbackReason = "the content-sync refresh failed, so this run read everything: " + cause.Error()
	r.warn("running a full sync instead of an incremental one: %s", r.rep.FallbackReason)
	written := r.rep.UsersCreated + r.rep.UsersUpdated
	if r.ro.DryRun {
		// Nothing was written: the full read plans everything again.
		r.rep.UsersCreated, r.rep.UsersUpdated, written = 0, 0, 0
		r.rep.Plan.Create, r.rep.Plan.Update = []string{}, []string{}
	}
	r.rep.UsersUnchanged = 0
	active := r.ldapActive
	r.states, r.users, r.ldapActive, r.cs.removals = nil, nil, 0, nil
	if err := r.loadState(ctx); err != nil {
		return 0, err
	}
	r.ldapActive = active // the guard counts the users active before the run
	return written, nil
}

// takeCookies asks the server for its current content-sync state under
// each users.search base with a base-scoped search that matches nothing.
// Without a cookie the run still completes; the next one is then full.
func (r *run) takeCookies(ctx context.Context) {
	if r.ro.DryRun {
		return
	}
	for _, b := range r.userBases() {
		req := &ldapbridge.SearchRequest{BaseDN: b, Scope: ldapbridge.ScopeBase, Filter: "(!(objectClass=*))", Attributes: []string{"1.1"}}
		r.searches++
		res, err := r.cs.dir.ContentSync(ctx, req, nil, func(ldapbridge.SyncBatch) error { return nil })
		if err == nil {
			if _, verr := decodeCookie(base64.StdEncoding.EncodeToString(res.Cookie)); verr != nil {
				err = verr
			}
		}
		if err != nil {
			r.warn("could not take a content-sync cookie under %q (%v); the next run will be full", b, err)
			r.cs.cookies = nil
			return
		}
		r.cs.cookies[b] = base64.StdEncoding.EncodeToString(res.Cookie)
	}
}

// fillContentSyncCursor stores the run's cookies in the cursor.
func (r *run) fillContentSyncCursor(c *cursor) {
	if r.cs == nil || len(r.cs.cookies) != len(r.s.cfg.Users.Search) {
		return
	}
	c.Kind, c.Cookies = contentSyncKind, r.cs.cookies
}

// contentSyncRemovals are the removals an incremental refresh planned.
func (r *run) contentSyncRemovals() []int {
	if r.cs == nil {
		return nil
	}
	return r.cs.removals
}

// baseChanges is what one base's refresh said beyond the entries.
type baseChanges struct {
	base    string
	scope   ldapbridge.Scope
	deleted []string
	present map[string]bool // nil unless the refresh used the present phase
}

// readContentSync resumes the refresh of every users.search base from the
// stored cookie, plans and applies the entries it returns as readUsers
// does, and plans the removals of the users it reports gone.
func (r *run) readContentSync(ctx context.Context) error {
	r.byNorm = map[string]int{}
	w := r.startWriter(ctx)
	m := r.s.o.Mapper
	uidAttr, attrs := m.UsernameAttribute(), m.Attributes()
	var changes []baseChanges
	var readErr error
	for _, srch := range r.s.cfg.Users.Search {
		cookie, _ := decodeCookie(r.cur.Cookies[srch.BaseDN]) // checked by chooseMode
		req := &ldapbridge.SearchRequest{BaseDN: srch.BaseDN, Scope: srch.LDAPScope(), Filter: r.s.cfg.Users.SyncFilter, Attributes: attrs}
		bc := baseChanges{base: normDN(srch.BaseDN), scope: srch.LDAPScope()}
		var present []string
		r.searches++
		res, err := r.cs.dir.ContentSync(ctx, req, cookie, func(b ldapbridge.SyncBatch) error {
			for _, se := range b.Entries {
				r.read++
				present = append(present, se.UUID)
				if it, ok := r.planUser(se.Entry, uidAttr); ok {
					w.add(it)
				}
			}
			bc.deleted = append(bc.deleted, b.Deleted...)
			present = append(present, b.Present...)
			w.progress()
			return ctx.Err()
		})
		if err != nil {
			readErr = err
			if !errors.Is(err, ldapbridge.ErrSyncRefreshRequired) && !errors.Is(err, ldapbridge.ErrSyncSizeLimit) {
				readErr = r.abort(fmt.Sprintf("content-sync read of users under %q: %v", srch.BaseDN, err), err)
			}
			break
		}
		r.cs.cookies[srch.BaseDN] = r.cur.Cookies[srch.BaseDN]
		if len(res.Cookie) > 0 {
			r.cs.cookies[srch.BaseDN] = base64.StdEncoding.EncodeToString(res.Cookie)
		}
		if !res.RefreshDeletes {
			bc.present = make(map[string]bool, len(present))
			for _, id := range present {
				bc.present[id] = true
			}
		}
		changes = append(changes, bc)
	}
	w.close()
	if readErr != nil {
		return readErr
	}
	return r.planContentSyncRemovals(changes)
}

// planContentSyncRemovals finds the stored users the refreshes reported
// gone — deleted by entryUUID, or, after a present phase, in the base's
// scope and not reported present — and plans their removal with
// planRemovals, so sync.removed_users, exempt users, local accounts and
// sync.max_removals apply exactly as in a full run.
func (r *run) planContentSyncRemovals(changes []baseChanges) error {
	gone := make([]bool, len(r.states))
	for _, bc := range changes {
		for _, id := range bc.deleted {
			if i, ok := r.byStable[strings.ToLower(id)]; ok && !r.seen[i] {
				gone[i] = true
			}
		}
		if bc.present == nil {
			continue
		}
		if len(bc.present) == 0 && r.ldapActive > 0 {
			return r.abort(fmt.Sprintf("the content-sync refresh of %q reported no users present but the store holds %d active directory users; refusing to treat that as everyone gone — check users.sync_filter, users.search and the bind account's read access", bc.base, r.ldapActive))
		}
		for i, st := range r.states {
			if !r.seen[i] && st.Source == ldapbridge.SourceLDAP && !bc.present[strings.ToLower(st.StableID)] && inScope(normDN(st.DN), bc.base, bc.scope) {
				gone[i] = true
			}
		}
	}
	// planRemovals removes what the read did not see; show it only the gone.
	seen := r.seen
	r.seen = make([]bool, len(gone))
	for i, g := range gone {
		r.seen[i] = !g
	}
	removals, err := r.planRemovals()
	r.seen = seen
	r.cs.removals = removals
	return err
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
