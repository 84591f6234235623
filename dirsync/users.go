package dirsync

import (
	"context"
	"fmt"

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
// hands batches to the writer running alongside, so writing overlaps
// reading. filter replaces users.sync_filter (incremental runs).
func (r *run) readUsers(ctx context.Context, filter string) error {
	r.byNorm = map[string]int{}
	w := r.startWriter(ctx)
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
					w.add(it)
				}
			}
			w.progress()
			return ctx.Err()
		})
		if err != nil {
			readErr = r.abort(fmt.Sprintf("reading users under %q with %s: %v", srch.BaseDN, filter, err), err)
			break
		}
	}
	w.close()
	return readErr
}

// writer carries planned batches from the reading goroutine (the run's) to
// the one goroutine that writes users while they are read. They share no
// counter: the writer owns its count of users applied and reports it over a
// channel, and only the reading goroutine updates run.read and run.applied
// and calls Options.Progress.
type writer struct {
	r       *run
	ctx     context.Context
	batch   []item
	base    int         // run.applied when the writer started
	batches chan []item // nil for a dry run: nothing is written
	applied chan int    // the writer's running total; holds only the latest
	done    chan int    // the writer's final total, once it has stopped
}

// startWriter starts the writer goroutine of one read; the reader must call
// close, which waits for it.
func (r *run) startWriter(ctx context.Context) *writer {
	w := &writer{r: r, ctx: ctx, base: r.applied}
	if r.ro.DryRun {
		return w
	}
	w.batches, w.applied, w.done = make(chan []item, 2), make(chan int, 1), make(chan int, 1)
	go w.run()
	return w
}

// add queues it, handing a full batch to the writer (reader side).
func (w *writer) add(it item) {
	if w.batches == nil {
		return
	}
	w.batch = append(w.batch, it)
	if len(w.batch) >= w.r.s.o.BatchSize {
		w.flush()
	}
}

// flush hands the pending items to the writer (reader side). A cancelled
// run drops them: it stops between batches.
func (w *writer) flush() {
	if len(w.batch) > 0 && w.batches != nil {
		select {
		case w.batches <- w.batch:
		case <-w.ctx.Done():
		}
	}
	w.batch = nil
}

// progress reports the entries read and what the writer last said it
// applied (reader side).
func (w *writer) progress() {
	select {
	case n := <-w.applied: // a nil channel (dry run) is never ready
		w.r.applied = w.base + n
	default:
	}
	w.r.s.progress(Progress{Phase: "users", Read: w.r.read, Applied: w.r.applied})
}

// close flushes the last batch and waits for the writer to stop, relaying
// its progress meanwhile (reader side).
func (w *writer) close() {
	w.flush()
	if w.batches == nil {
		return
	}
	close(w.batches)
	for {
		select {
		case n := <-w.applied:
			w.r.applied = w.base + n
			w.r.s.progress(Progress{Phase: "users", Read: w.r.read, Applied: w.r.applied})
		case n := <-w.done:
			if w.base+n != w.r.applied {
				w.r.applied = w.base + n
				w.r.s.progress(Progress{Phase: "users", Read: w.r.read, Applied: w.r.applied})
			}
			return
		}
	}
}

// run is the writer goroutine: it writes each batch in one transaction and
// stops taking batches once the run is cancelled (a batch it has begun is
// finished). A batch that fails is retried one user per transaction so one
// bad entry cannot block the rest.
func (w *writer) run() {
	r, ctx, n := w.r, w.ctx, 0
	for batch := range w.batches {
		if ctx.Err() != nil {
			continue // drain: a cancelled run stops between batches
		}
		r.applyBatch(ctx, batch)
		n += len(batch)
		select { // keep only the latest total; only this goroutine sends
		case <-w.applied:
		default:
		}
		w.applied <- n
	}
	w.done <- n
}

// applyBatch writes one batch (writer side).
func (r *run) applyBatch(ctx context.Context, batch []item) {
	wctx, done := finishing(ctx)
	defer done()
	err := r.s.o.Store.InTx(wctx, func(tx ldapbridge.Store) error { return r.writeBatch(wctx, tx, batch) })
	if err == nil {
		return
	}
	for i := range batch {
		it := &batch[i]
		if ctx.Err() != nil {
			return
		}
		if err := r.s.o.Store.InTx(wctx, func(tx ldapbridge.Store) error { return r.writeUser(wctx, tx, it) }); err != nil {
			r.failUser(it, err)
		}
	}
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
