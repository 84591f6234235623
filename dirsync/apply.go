package dirsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// applier is the writer of a run: the only goroutine that writes to the
// store, and the owner of the report and of every counter. It runs on the
// goroutine that called Run, so Options.Progress is called from there.
type applier struct {
	store      Store
	directory  string // the name of the directory the run reads (config.Config.Name)
	now        func() time.Time
	batchSize  int
	dryRun     bool
	warnLog    func(msg string)
	onProgress func(Progress)
	// populate is the login's Hooks.OnPopulate (nil for none), run on every
	// user written, last, inside the write transaction.
	populate func(ctx context.Context, u *ldapbridge.User, e *ldapbridge.Entry) error

	report                  *Report
	searches, read, applied int
	users                   []syncedUser // every user the read planned, in read order
	failures                int          // users that could not be written
	batch                   []pendingWrite
	// refusals are the verdicts the run holds back until its removal guard
	// has passed (userPlan.refusal); see applyRefusals.
	refusals []heldVerdict
	// removedReason is the verdict reason of the users this run deactivates.
	removedReason string

	// The change log (changes.go): the run's id, source and actor given
	// to each change, the changes of the transaction inTx is running, the
	// hook and the outbox events, and the removals the guard held.
	runID         int64
	source, actor string
	noted         *[]*ldapbridge.Change
	onChange      func(context.Context, ldapbridge.Change) error
	events        EventsFunc
	pending       []ldapbridge.PendingRemoval
	approved      int // removals and refusals made
	// edgeGroups and edgeUsers name the ids of the membership edges.
	edgeGroups, edgeUsers map[int64]string
	// createEdges, when set (sync.groups and sync.memberships on, not a
	// dry run), is the group index whose mirrored groups a created user's
	// direct edges go into, written with the user in its batch's
	// transaction: a new user has no stored edge to diff against, and
	// its edges are then written while the read goes on.
	// syncMemberships finds them stored and counts them as added.
	createEdges *groupIndex
	// created holds the ids of the users this run created (committed),
	// kept when an incremental run restarts as a full one.
	created map[int64]bool
	// approve, on an approval's run (Syncer.Approve), holds the users
	// whose removal or refusal was approved: only they are removed or
	// refused, and the guard does not apply.
	approve map[int64]bool
}

// heldVerdict is a refusal not yet stored: the user (index in
// applier.users), the verdict and reason, and the sync hash that goes
// with them.
type heldVerdict struct {
	user            int
	dn              string
	verdict, reason string
	hash            string
}

// syncedUser is a user the run read, with its store id: negative for a
// planned create not yet written (a dry run's), 0 when it is not synced.
type syncedUser struct {
	username, norm string
	id             int64
	groups         []int32 // direct groups
	failed         bool    // its write failed (failUser)
}

// pendingWrite is one planned user write and its index in applier.users.
type pendingWrite struct {
	plan userPlan
	user int
}

// applyRefusals stores the verdicts held back by take, after the removal
// guard passed.
func (a *applier) applyRefusals(ctx context.Context) error {
	if a.dryRun || len(a.refusals) == 0 {
		return nil
	}
	if err := a.stopped(ctx, "before storing refusals"); err != nil {
		return err
	}
	wctx, done := finishing(ctx)
	defer done()
	return a.inTx(wctx, func(tx ldapbridge.Store) error {
		for _, h := range a.refusals {
			if id := a.users[h.user].id; id > 0 && !a.users[h.user].failed && (a.approve == nil || a.approve[id]) {
				if err := tx.SetUserVerdict(wctx, id, h.verdict, h.reason, h.hash); err != nil {
					return fmt.Errorf("dirsync: store the verdict of %q: %w", a.users[h.user].username, err)
				}
				a.note(&ldapbridge.Change{Kind: ldapbridge.ChangeUser, Action: ldapbridge.ActionRefused, User: a.users[h.user].username, UserID: id, DN: h.dn, Reason: h.reason})
				a.approved++
			}
		}
		return nil
	})
}

// take applies one page the reader sent: it counts and lists the plans and
// writes each full batch.
func (a *applier) take(ctx context.Context, pg readerPage) {
	for _, w := range pg.warnings {
		a.warn(w)
	}
	a.read += pg.entries
	rep := a.report
	for _, p := range pg.plans {
		i := len(a.users)
		a.users = append(a.users, syncedUser{username: p.username, norm: p.norm, id: p.storedID, groups: p.groups})
		switch p.action {
		case planUnchanged:
			rep.UsersUnchanged++
			continue
		case planUpdate:
			rep.UsersUpdated++
			rep.Plan.add(&rep.Plan.Update, p.username)
			if p.refusal {
				// Write the rest now, the refusal after the guard: the
				// user keeps the admitted verdict and an empty hash (so a
				// run the guard stops plans it again) until applyRefusals.
				rep.UsersRefused++
				rep.Plan.add(&rep.Plan.Refuse, p.username)
				a.refusals = append(a.refusals, heldVerdict{user: i, dn: p.user.DN, verdict: p.user.Verdict, reason: p.user.VerdictReason, hash: p.hash})
				held := *p.user
				held.Verdict, held.VerdictReason = ldapbridge.VerdictOK, ""
				p.user, p.hash = &held, ""
			}
		case planCreate:
			rep.UsersCreated++
			rep.Plan.add(&rep.Plan.Create, p.username)
			a.users[i].id = -int64(i + 1) // a placeholder until created
		default:
			continue
		}
		a.batch = append(a.batch, pendingWrite{plan: p, user: i})
		if len(a.batch) >= a.batchSize {
			a.writeBatch(ctx)
		}
	}
	a.progress("users")
}

// writeBatch writes the pending batch in one transaction. A cancelled run
// writes no further batch (a batch it has begun is finished), and a dry
// run none at all. A batch that fails is retried one user per transaction
// so one bad entry cannot block the rest.
func (a *applier) writeBatch(ctx context.Context) {
	batch := a.batch
	a.batch = nil
	if a.dryRun || len(batch) == 0 || ctx.Err() != nil {
		return
	}
	wctx, done := finishing(ctx)
	defer done()
	err := a.inTx(wctx, func(tx ldapbridge.Store) error { return a.writeUsers(wctx, tx, batch) })
	for i := 0; err != nil && i < len(batch) && ctx.Err() == nil; i++ {
		w := &batch[i]
		if werr := a.inTx(wctx, func(tx ldapbridge.Store) error { return a.writeUser(wctx, tx, w) }); werr != nil {
			a.failUser(w, werr)
		}
	}
	for i := range batch {
		if w := &batch[i]; w.plan.action == planCreate && !a.users[w.user].failed && a.users[w.user].id > 0 {
			if a.created == nil {
				a.created = map[int64]bool{}
			}
			a.created[a.users[w.user].id] = true
		}
	}
	a.applied += len(batch)
	a.progress("users")
}

// writeUsers writes one batch inside tx, creating in bulk where the store
// can (BulkCreator).
func (a *applier) writeUsers(ctx context.Context, tx ldapbridge.Store, batch []pendingWrite) error {
	bulk, ok := tx.(BulkCreator)
	if !ok {
		for i := range batch {
			if err := a.writeUser(ctx, tx, &batch[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		created []*pendingWrite
		users   []*ldapbridge.User
		hashes  []string
	)
	now := a.now()
	for i := range batch {
		w := &batch[i]
		if w.plan.action != planCreate {
			if err := a.writeUser(ctx, tx, w); err != nil {
				return err
			}
			continue
		}
		u, err := a.populated(ctx, w, nil)
		if err != nil {
			return err
		}
		u.LastSyncedAt = &now
		created, users, hashes = append(created, w), append(users, u), append(hashes, w.plan.hash)
	}
	if len(users) == 0 {
		return nil
	}
	if err := bulk.CreateSyncedUsers(ctx, users, hashes); err != nil {
		return err
	}
	var edges []ldapbridge.Membership
	for i, w := range created {
		a.users[w.user].id = users[i].ID
		a.note(ldapbridge.UserChange(nil, users[i]))
		edges = a.appendCreatedEdges(edges, w, users[i])
	}
	return a.addCreatedEdges(ctx, tx, edges)
}

// appendCreatedEdges appends the direct edges of w, a user just created
// as u, into mirrored groups (see applier.createEdges), and notes each as
// an added membership, as syncMemberships does; addCreatedEdges writes
// them in the same transaction.
func (a *applier) appendCreatedEdges(edges []ldapbridge.Membership, w *pendingWrite, u *ldapbridge.User) []ldapbridge.Membership {
	if a.createEdges == nil {
		return edges
	}
	start := len(edges)
	for _, g := range w.plan.groups {
		dg := &a.createEdges.groups[g]
		if !dg.mirrored || dg.id <= 0 {
			continue
		}
		m := ldapbridge.Membership{GroupID: dg.id, UserID: u.ID}
		if !slices.Contains(edges[start:], m) {
			edges = append(edges, m)
			a.note(&ldapbridge.Change{Kind: ldapbridge.ChangeMembership, Action: ldapbridge.ActionAdded, Group: dg.stored, User: a.users[w.user].username, UserID: u.ID})
		}
	}
	return edges
}

// addCreatedEdges writes the edges appendCreatedEdges collected, in the
// order of the edge table's key.
func (a *applier) addCreatedEdges(ctx context.Context, tx ldapbridge.Store, edges []ldapbridge.Membership) error {
	if len(edges) == 0 {
		return nil
	}
	slices.SortFunc(edges, func(x, y ldapbridge.Membership) int {
		return cmp.Or(cmp.Compare(x.UserID, y.UserID), cmp.Compare(x.GroupID, y.GroupID))
	})
	if b, ok := tx.(BulkEdgeAdder); ok {
		return b.AddSyncedMemberships(ctx, edges)
	}
	return tx.AddMemberships(ctx, edges)
}

func (a *applier) writeUser(ctx context.Context, tx ldapbridge.Store, w *pendingWrite) error {
	now := a.now()
	if w.plan.action == planCreate {
		u, err := a.populated(ctx, w, nil)
		if err != nil {
			return err
		}
		u.LastSyncedAt = &now
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		a.note(ldapbridge.UserChange(nil, u))
		if err := a.written(ctx, tx, w, u); err != nil {
			return err
		}
		return a.addCreatedEdges(ctx, tx, a.appendCreatedEdges(nil, w, u))
	}
	old, err := tx.UserByID(ctx, w.plan.storedID)
	if err != nil {
		return err
	}
	u, err := a.populated(ctx, w, old)
	if err != nil {
		return err
	}
	u.LastSyncedAt = &now
	if err := tx.UpdateUser(ctx, u); err != nil {
		return err
	}
	a.note(ldapbridge.UserChange(old, u))
	return a.written(ctx, tx, w, u)
}

// populated returns the record to write for w: the planned user (with the
// stored id and last login of old, for an update) after the OnPopulate
// hook, as a login's save runs it. The hook gets a copy, so a batch that
// fails and is retried user by user hands it the mapped user again.
func (a *applier) populated(ctx context.Context, w *pendingWrite, old *ldapbridge.User) (*ldapbridge.User, error) {
	u := w.plan.user
	if a.populate != nil {
		c := *u
		c.Flags, c.Profile = maps.Clone(u.Flags), maps.Clone(u.Profile)
		u = &c
	}
	if old != nil {
		u.ID, u.CreatedAt, u.LastLoginAt = old.ID, old.CreatedAt, old.LastLoginAt
	}
	if a.populate != nil {
		if err := a.populate(ctx, u, w.plan.entry); err != nil {
			return nil, fmt.Errorf("OnPopulate hook for %s: %w", u.Username, err)
		}
	}
	return u, nil
}

// written records the sync hash and the id of a user just written.
func (a *applier) written(ctx context.Context, tx ldapbridge.Store, w *pendingWrite, u *ldapbridge.User) error {
	if err := tx.SetSyncHash(ctx, u.ID, w.plan.hash); err != nil {
		return err
	}
	a.users[w.user].id = u.ID
	return nil
}

func (a *applier) failUser(w *pendingWrite, err error) {
	a.failures++
	a.users[w.user].failed = true
	if w.plan.action == planCreate {
		a.report.UsersCreated--
		a.users[w.user].id = 0
	} else {
		a.report.UsersUpdated--
	}
	a.warn(fmt.Sprintf("could not write user %q (%s): %v", w.plan.user.Username, w.plan.user.DN, err))
}

func (a *applier) warn(msg string) {
	a.warnLog(msg)
	if len(a.report.Warnings) < 100 {
		a.report.Warnings = append(a.report.Warnings, msg)
	}
}

func (a *applier) progress(phase string) {
	if a.onProgress != nil {
		a.onProgress(Progress{Phase: phase, Read: a.read, Applied: a.applied})
	}
}

// abort stops a run before removals with reason.
func (a *applier) abort(reason string, kinds ...error) error {
	a.report.Aborted, a.report.AbortReason = true, reason
	err := fmt.Errorf("%w: %s", ErrAborted, reason)
	for _, k := range kinds {
		err = fmt.Errorf("%w (%w)", err, k)
	}
	return err
}

// abortOn aborts with a source's error: its text is the reason, and the
// error it wraps (if any) is the kind.
func (a *applier) abortOn(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return a.abort(err.Error(), inner)
	}
	return a.abort(err.Error())
}

// stopped returns an abort when the run was cancelled; the run checks it
// before each write step, so it stops between batches.
func (a *applier) stopped(ctx context.Context, during string) error {
	if err := ctx.Err(); err != nil {
		return a.abort(fmt.Sprintf("stopped %s: %v", during, context.Cause(ctx)), ErrCancelled)
	}
	return nil
}
