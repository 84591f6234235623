package dirsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// run is one Syncer.Run, top to bottom:
//
//	choose the source and the mode
//	→ read the groups, apply them
//	→ read the users (a reader goroutine plans) ⇢ apply them (this goroutine writes and counts)
//	→ removals, only after a complete read
//	→ record where the next run resumes
func (s *Syncer) run(ctx context.Context, ro RunOptions, a *applier) error {
	cfg := s.cfg
	start := s.options.Now().UTC()

	// Choose the change source, open it, and settle full or incremental.
	src, err := s.newSource(ctx, ro, start, &a.searches)
	if err != nil {
		return a.abortOn(err)
	}
	defer func() {
		a.searches += src.Searches()
		_ = src.Close()
	}()
	dir, info, err := src.Open(ctx)
	if err != nil {
		return a.abortOn(err)
	}
	a.report.Server = info.URL
	since := s.chooseMode(ctx, src, ro, a)

	// The store before the run, read while the groups are read from the
	// directory; the groups, read whole and applied first.
	before := make(chan storedBefore, 1)
	go func() { before <- s.loadBefore(ctx) }()
	groups, err := a.readGroups(ctx, dir, s.groups, cfg)
	sb := <-before
	if err != nil {
		return err // the group read's abort, as the report says
	}
	if sb.err != nil {
		return sb.err
	}
	stored, storedGroups := sb.users, sb.groups
	if n := storedDirectoryGroups(storedGroups); len(groups.groups) == 0 && n > 0 && len(cfg.Groups.Search) > 0 {
		return a.abort(fmt.Sprintf("the group search returned no groups but the store holds %d directory groups; refusing to treat that as every group gone — check groups.search and the bind account's read access", n))
	}
	if err := a.stopped(ctx, "before writing groups"); err != nil {
		return err
	}
	// With sync.groups off the groups are read (flags and the user's
	// groups come from them) but no group is written, updated or deleted,
	// and no membership is written either.
	var goneGroups []*ldapbridge.Group
	if cfg.Sync.Groups {
		if goneGroups, err = a.applyGroups(ctx, groups, storedGroups); err != nil {
			return err
		}
	}

	// Read and apply the users.
	if cfg.Sync.Groups && cfg.Sync.Memberships && !a.dryRun {
		a.createEdges = groups
	}
	reader, err := s.readUsers(ctx, src, since, stored, groups, a)
	if since != nil && (errors.Is(err, ldapbridge.ErrSyncRefreshRequired) || errors.Is(err, ldapbridge.ErrSyncSizeLimit)) {
		var written int
		if stored, written, err = s.restartFull(ctx, err, stored.ldapActive, a); err != nil {
			return err
		}
		since = nil
		reader, err = s.readUsers(ctx, src, nil, stored, groups, a)
		// The users the refresh wrote are unchanged for the full read.
		a.report.UsersUnchanged = max(0, a.report.UsersUnchanged-written)
	}
	if err != nil {
		return a.abortOn(err)
	}
	if err := a.stopped(ctx, "after reading users"); err != nil {
		return err
	}
	incremental := since != nil
	if !incremental && len(a.users) == 0 && stored.ldapActive > 0 {
		return a.abort(fmt.Sprintf("the user search returned no users but the store holds %d active directory users; refusing to treat that as everyone gone — check users.sync_filter, users.search and the bind account's read access", stored.ldapActive))
	}

	// Removals, only after a complete read: a full read removes whom it did
	// not see, an incremental one whom the source reported gone.
	// Flags and verdicts of the users an incremental run did not re-read
	// are planned first, so the guard counts who would lose admission.
	var refreshed *refresh
	if incremental && groups.anyFlags {
		if refreshed, err = a.planRefresh(ctx, s.options.Mapper, groups, stored); err != nil {
			return err
		}
	}
	policy := removalsPolicy{removed: cfg.Sync.RemovedUsers, exempt: cfg.Sync.ExemptUsers, limit: cfg.Sync.MaxRemovals, force: ro.Force}
	var removals []int
	if incremental {
		a.removedReason = "deleted in the directory (" + src.Kind() + " reported it)"
		removals, err = a.planGone(reader, policy)
	} else {
		a.removedReason = "not found by a complete read of the directory (users.search and users.sync_filter)"
		removals, err = a.planRemovals(stored, stored.unseen(), policy, unseenMessage)
	}
	if err != nil {
		return err
	}
	if err := a.applyRefusals(ctx); err != nil {
		return err
	}
	if err := a.applyRefresh(ctx, refreshed, stored); err != nil {
		return err
	}
	if cfg.Sync.Groups && cfg.Sync.Memberships {
		if err := a.syncMemberships(ctx, groups, stored, incremental); err != nil {
			return err
		}
	}
	if err := a.applyRemovals(ctx, stored, removals, cfg.Sync.RemovedUsers == "delete", goneGroups, cfg.Sync.RemovedGroups == "delete"); err != nil {
		return err
	}
	if a.failures > 0 {
		return a.abort(fmt.Sprintf("%d users could not be written (see the warnings); the cursor is not advanced", a.failures))
	}
	if err := a.stopped(ctx, "before saving the cursor"); err != nil {
		return err
	}

	// Record where the next run resumes.
	return s.saveCursor(ctx, src, since, a)
}

// storedBefore is the store's state before a run: its users and the
// groups of the run's directory.
type storedBefore struct {
	users  *storedUsers
	groups []*ldapbridge.Group
	err    error
}

// loadBefore reads the store's state before a run. It touches nothing of
// the applier, so it runs beside the group read.
func (s *Syncer) loadBefore(ctx context.Context) storedBefore {
	stored, err := loadStoredUsers(ctx, s.options.Store, s.cfg.Sync.ExemptUsers, s.cfg.Name())
	if err != nil {
		return storedBefore{err: err}
	}
	groups, err := s.options.Store.ListGroups(ctx)
	if err != nil {
		return storedBefore{err: fmt.Errorf("dirsync: read the store's groups: %w", err)}
	}
	return storedBefore{users: stored, groups: s.ownGroups(groups)}
}

// chooseMode settles full or incremental and returns the stored cursor an
// incremental run resumes from (nil for a full run).
func (s *Syncer) chooseMode(ctx context.Context, src ChangeSource, ro RunOptions, a *applier) *Cursor {
	rep := a.report
	rep.Mode = Full
	if ro.Mode == Full {
		return nil
	}
	fallback := func(reason string) *Cursor {
		if ro.Mode == Incremental {
			rep.FallbackReason = reason
			a.warn("running a full sync instead of an incremental one: " + reason)
		}
		return nil
	}
	if err := src.Incremental(); err != nil {
		return fallback(err.Error())
	}
	raw, err := s.options.Store.SyncCursor(ctx, s.cursorKey(rep.Server))
	switch {
	case err != nil:
		return fallback(fmt.Sprintf("cannot read the stored cursor: %v", err))
	case raw == "":
		return fallback("no cursor for " + rep.Server + " (the first run against a server is always full)")
	}
	c, err := parseCursor(raw)
	if err != nil {
		return fallback(err.Error())
	}
	if c.Kind != src.Kind() {
		return fallback(fmt.Sprintf("the stored cursor is of kind %q, this server needs %q", c.Kind, src.Kind()))
	}
	if c.Config != configFingerprint(s.cfg) {
		return fallback("the sync settings (users, groups or access.flags) changed since the last run")
	}
	if err := src.Resume(c); err != nil {
		return fallback(err.Error())
	}
	if ro.Mode == Auto && c.SinceFull >= s.cfg.Sync.FullEvery {
		return nil // sync.full_every reached; 0 means every run is full
	}
	rep.Mode = Incremental
	return c
}

// readOutcome is what the reader hands back when its read ends.
type readOutcome struct {
	reader *planner
	err    error
}

// readUsers runs the source's read on a reader goroutine that plans each
// entry and sends the plans over a channel, while this goroutine applies
// them batch by batch, so writing overlaps reading. The reader owns the
// stored state and the group index until it hands the planner back.
func (s *Syncer) readUsers(ctx context.Context, src ChangeSource, since *Cursor, stored *storedUsers, groups *groupIndex, a *applier) (*planner, error) {
	pages := make(chan readerPage, 2)
	finished := make(chan readOutcome, 1)
	go func(p *planner) {
		err := src.Read(ctx, since, p)
		p.flush()
		close(pages)
		finished <- readOutcome{reader: p, err: err}
	}(&planner{
		mapper: s.options.Mapper, accounts: accounts{su: stored, store: s.options.Store}, uidAttr: s.options.Mapper.UsernameAttribute(),
		markDisabled: s.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory,
		stored:       stored, groups: groups, pages: pages, byNorm: map[string]bool{},
		hookAttrs: s.hookAttrs(),
	})
	for pg := range pages {
		a.take(ctx, pg)
	}
	a.writeBatch(ctx) // the last, partial batch
	out := <-finished
	return out.reader, out.err
}

// restartFull turns an incremental run whose refresh failed into a full
// one: the users it wrote stay (they are what the directory said), the
// store state is reloaded and the run reads everyone. It returns the new
// state and how many users the refresh wrote.
func (s *Syncer) restartFull(ctx context.Context, cause error, ldapActive int, a *applier) (*storedUsers, int, error) {
	rep := a.report
	rep.Mode = Full
	rep.FallbackReason = "the content-sync refresh failed, so this run read everything: " + cause.Error()
	a.warn("running a full sync instead of an incremental one: " + rep.FallbackReason)
	written := rep.UsersCreated + rep.UsersUpdated
	if a.dryRun {
		// Nothing was written: the full read plans everything again.
		rep.UsersCreated, rep.UsersUpdated, written = 0, 0, 0
		rep.Plan.Create, rep.Plan.Update = []string{}, []string{}
	}
	rep.UsersUnchanged = 0
	a.users = nil
	// The full read plans the held refusals again (their hash is empty).
	a.refusals, rep.UsersRefused, rep.Plan.Refuse = nil, 0, []string{}
	stored, err := loadStoredUsers(ctx, s.options.Store, s.cfg.Sync.ExemptUsers, s.cfg.Name())
	if err != nil {
		return nil, 0, err
	}
	stored.ldapActive = ldapActive // the guard counts the users active before the run
	return stored, written, nil
}

// planGone plans the removal of the users an incremental read reported
// gone, refusing a present phase that lists nobody.
func (a *applier) planGone(reader *planner, policy removalsPolicy) ([]int, error) {
	stored := reader.stored
	for _, ps := range reader.present {
		if len(ps.ids) == 0 && stored.ldapActive > 0 {
			return nil, a.abort(fmt.Sprintf("the content-sync refresh of %q reported no users present but the store holds %d active directory users; refusing to treat that as everyone gone — check users.sync_filter, users.search and the bind account's read access", ps.base, stored.ldapActive))
		}
	}
	message := deletedMessage
	if len(reader.present) > 0 {
		message = unseenMessage
	}
	return a.planRemovals(stored, reader.gone(), policy, message)
}

// saveCursor records where the next run resumes.
func (s *Syncer) saveCursor(ctx context.Context, src ChangeSource, since *Cursor, a *applier) error {
	if a.dryRun {
		return nil
	}
	next := &Cursor{Kind: src.Kind(), Config: configFingerprint(s.cfg)}
	src.Checkpoint(next)
	if since != nil {
		next.SinceFull = since.SinceFull + 1
	}
	wctx, done := finishing(ctx)
	defer done()
	if err := s.options.Store.SetSyncCursor(wctx, s.cursorKey(a.report.Server), next.String()); err != nil {
		return fmt.Errorf("dirsync: save the cursor: %w", err)
	}
	return nil
}
