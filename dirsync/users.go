package dirsync

import (
	"context"
	"fmt"
	"sync"

	"github.com/ldapbridge/ldapbridge"
)

// item is one planned user write.
type item struct {
	u     *ldapbridge.User
	hash  string
	state int // index in run.states, -1 to create
	read  int // index in run.users
}

// readUsers streams the users, plans each against the store state and
// hands batches to an applier running alongside, so writing overlaps
// reading. filter replaces users.sync_filter (incremental runs).
func (r *run) readUsers(ctx context.Context, filter string) error {
	r.byNorm = map[string]int{}
	batches := make(chan []item, 2)
	var wg sync.WaitGroup
	if !r.ro.DryRun {
		wg.Add(1)
		go func() { defer wg.Done(); r.applyUsers(ctx, batches) }()
	}
	var batch []item
	flush := func() {
		if len(batch) > 0 && !r.ro.DryRun {
			batches <- batch
		}
		batch = nil
	}
	m := r.s.o.Mapper
	uidAttr := m.UsernameAttribute()
	attrs := m.Attributes()
	var readErr error
	for _, srch := range r.s.cfg.Users.Search {
		req := &ldapbridge.SearchRequest{BaseDN: srch.BaseDN, Scope: srch.LDAPScope(), Filter: filter, Attributes: attrs}
		err := r.search(ctx, req, func(page []*ldapbridge.Entry) error {
			for _, e := range page {
				r.read++
				if it, ok := r.planUser(e, uidAttr); ok {
					batch = append(batch, it)
					if len(batch) >= r.s.o.BatchSize {
						flush()
					}
				}
			}
			r.s.progress(Progress{Phase: "users", Read: r.read, Applied: r.applied})
			return ctx.Err()
		})
		if err != nil {
			readErr = r.abort(fmt.Sprintf("reading users under %q with %s: %v", srch.BaseDN, filter, err), err)
			break
		}
	}
	flush()
	close(batches)
	wg.Wait()
	return readErr
}

// planUser maps one entry and decides create, update or unchanged.
func (r *run) planUser(e *ldapbridge.Entry, uidAttr string) (item, bool) {
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	norm := normDN(e.DN)
	if _, dup := r.byNorm[norm]; dup {
		return item{}, false
	}
	direct := r.directGroups(norm, e.First(uidAttr), e.First("gidNumber"))
	u, err := r.s.o.Mapper.MapUser(e, r.flagGroups(direct))
	if err != nil {
		r.warnLocked("skipped %s: %v", e.DN, err)
		return item{}, false
	}
	ri := len(r.users)
	r.byNorm[norm] = ri
	r.users = append(r.users, readUser{username: u.Username, norm: norm, groups: direct})
	st, found := -1, false
	if u.StableID != "" {
		st, found = r.byStable[u.StableID]
	}
	if !found {
		st, found = r.byName[u.Username]
		if found && r.states[st].Source != ldapbridge.SourceLDAP {
			r.warnLocked("directory user %s (%s) has the name of local account %q, which sync never touches; rename one of them", u.Username, e.DN, u.Username)
			return item{}, false
		}
		if found && r.states[st].StableID != "" && u.StableID != "" {
			r.warnLocked("directory entry %s reuses the username %q of an account with another stable id; the account is taken over", e.DN, u.Username)
		}
	}
	if !found {
		st = -1
	} else if r.seen[st] {
		r.warnLocked("directory entries map to the same account %q; %s is skipped", u.Username, e.DN)
		return item{}, false
	}
	hash := r.adHash(e, userHash(u))
	if st >= 0 {
		r.seen[st] = true
		r.users[ri].id = r.states[st].ID
		if r.states[st].Hash == hash {
			r.rep.UsersUnchanged++
			return item{}, false
		}
		r.rep.UsersUpdated++
		r.rep.Plan.add(&r.rep.Plan.Update, u.Username)
	} else {
		r.rep.UsersCreated++
		r.rep.Plan.add(&r.rep.Plan.Create, u.Username)
		r.users[ri].id = -int64(ri + 1) // a placeholder until created
	}
	return item{u: u, hash: hash, state: st, read: ri}, true
}

// applyUsers writes batches, one transaction each. A batch that fails is
// retried one user per transaction so one bad entry cannot block the rest.
func (r *run) applyUsers(ctx context.Context, batches <-chan []item) {
	for batch := range batches {
		if ctx.Err() != nil {
			continue // drain: stop between batches
		}
		err := r.s.o.Store.InTx(ctx, func(tx ldapbridge.Store) error { return r.writeBatch(ctx, tx, batch) })
		if err != nil {
			for i := range batch {
				it := &batch[i]
				if ctx.Err() != nil {
					break
				}
				if err := r.s.o.Store.InTx(ctx, func(tx ldapbridge.Store) error { return r.writeUser(ctx, tx, it) }); err != nil {
					r.failUser(it, err)
				}
			}
		}
		r.applied += len(batch)
		r.s.progress(Progress{Phase: "users", Read: r.read, Applied: r.applied})
	}
}

func (r *run) writeUser(ctx context.Context, tx ldapbridge.Store, it *item) error {
	now := r.s.o.Now()
	u := it.u
	u.LastSyncedAt = &now
	if it.state < 0 {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
	} else {
		old, err := tx.UserByID(ctx, r.states[it.state].ID)
		if err != nil {
			return err
		}
		u.ID, u.LastLoginAt = old.ID, old.LastLoginAt
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
	}
	if err := tx.SetSyncHash(ctx, u.ID, it.hash); err != nil {
		return err
	}
	r.usersMu.Lock()
	r.users[it.read].id = u.ID
	r.usersMu.Unlock()
	return nil
}

func (r *run) failUser(it *item, err error) {
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	r.failures++
	if it.state < 0 {
		r.rep.UsersCreated--
		r.users[it.read].id = 0
	} else {
		r.rep.UsersUpdated--
	}
	r.warnLocked("could not write user %q (%s): %v", it.u.Username, it.u.DN, err)
}

func (r *run) warn(format string, args ...any) {
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	r.warnLocked(format, args...)
}

func (r *run) warnLocked(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.s.log.Warn(msg)
	if len(r.rep.Warnings) < 100 {
		r.rep.Warnings = append(r.rep.Warnings, msg)
	}
}
