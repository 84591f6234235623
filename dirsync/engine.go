package dirsync

import (
	"context"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// do is one run: choose the mode, read, plan and apply, then removals.
func (r *run) do() error {
	ctx := r.ctx
	r.start = r.s.o.Now().UTC()
	if err := r.openAD(ctx); err != nil {
		return err
	}
	defer r.closeAD()
	info, err := r.dir.Info(ctx)
	r.searches++
	if err != nil {
		return r.abort(fmt.Sprintf("reading the server's root DSE: %v", err), err)
	}
	r.rep.Server = info.URL
	if err := r.readADIdentity(ctx, info); err != nil {
		return err
	}
	r.cs = r.contentSyncFor(info)
	src := r.chooseMode(ctx)
	if err := r.loadState(ctx); err != nil {
		return err
	}
	groups, err := r.s.o.Store.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("dirsync: read the store's groups: %w", err)
	}
	r.storeGroup = groups
	if err := r.readGroups(ctx); err != nil {
		return err
	}
	if len(r.dg) == 0 && r.storedDirGroups() > 0 && len(r.s.cfg.Groups.Search) > 0 {
		return r.abort(fmt.Sprintf("the group search returned no groups but the store holds %d directory groups; refusing to treat that as every group gone — check groups.search and the bind account's read access", r.storedDirGroups()))
	}
	if err := r.stopped("before writing groups"); err != nil {
		return err
	}
	groupDeletes, err := r.applyGroups(ctx)
	if err != nil {
		return err
	}
	filter := r.s.cfg.Users.SyncFilter
	if r.rep.Mode == Incremental {
		if filter, err = src.Filter(filter, r.cur); err != nil {
			return r.abort(err.Error())
		}
	}
	if err := r.readUsersVia(ctx, filter); err != nil {
		return err
	}
	if err := r.stopped("after reading users"); err != nil {
		return err
	}
	if r.rep.Mode == Full && len(r.users) == 0 && r.ldapActive > 0 {
		return r.abort(fmt.Sprintf("the user search returned no users but the store holds %d active directory users; refusing to treat that as everyone gone — check users.sync_filter, users.search and the bind account's read access", r.ldapActive))
	}
	var removals []int
	if r.rep.Mode == Full {
		if removals, err = r.planRemovals(); err != nil {
			return err
		}
	} else if removals, err = r.planDeleted(ctx); err != nil {
		return err
	}
	if r.rep.Mode == Incremental && r.anyFlags {
		if err := r.stopped("before refreshing flags"); err != nil {
			return err
		}
		if err := r.refreshFlags(ctx); err != nil {
			return err
		}
	}
	if r.s.cfg.Sync.Memberships {
		if err := r.syncMemberships(ctx); err != nil {
			return err
		}
	}
	if err := r.applyRemovals(ctx, removals, groupDeletes); err != nil {
		return err
	}
	if r.failures > 0 {
		return r.abort(fmt.Sprintf("%d users could not be written (see the warnings); the cursor is not advanced", r.failures))
	}
	if err := r.stopped("before saving the cursor"); err != nil {
		return err
	}
	return r.saveCursor(ctx)
}

// chooseMode settles full or incremental and loads the cursor.
func (r *run) chooseMode(ctx context.Context) ChangeSource {
	r.rep.Mode = Full
	if r.ro.Mode == Full {
		return nil
	}
	fallback := func(reason string) ChangeSource {
		if r.ro.Mode == Incremental {
			r.rep.FallbackReason = reason
			r.warnLocked("running a full sync instead of an incremental one: %s", reason)
		}
		return nil
	}
	src, why := r.source()
	if r.cs != nil {
		src, why = r.cs.source(r.userBases()), ""
	}
	if src == nil {
		return fallback(why)
	}
	raw, err := r.s.o.Store.SyncCursor(ctx, r.rep.Server)
	switch {
	case err != nil:
		return fallback(fmt.Sprintf("cannot read the stored cursor: %v", err))
	case raw == "":
		return fallback("no cursor for " + r.rep.Server + " (the first run against a server is always full)")
	}
	c, err := parseCursor(raw)
	if err != nil {
		return fallback(err.Error())
	}
	if c.Kind != src.Kind() {
		return fallback(fmt.Sprintf("the stored cursor is of kind %q, this server needs %q", c.Kind, src.Kind()))
	}
	if c.Config != configFingerprint(r.s.cfg) {
		return fallback("the sync settings (users, groups or access.flags) changed since the last run")
	}
	if _, err := src.Filter(r.s.cfg.Users.SyncFilter, c); err != nil {
		return fallback(err.Error())
	}
	r.cur = c
	if r.ro.Mode == Auto && r.s.cfg.Sync.FullEvery > 0 && c.SinceFull >= r.s.cfg.Sync.FullEvery {
		return nil // sync.full_every reached
	}
	r.rep.Mode = Incremental
	return src
}

func (r *run) saveCursor(ctx context.Context) error {
	if r.ro.DryRun {
		return nil
	}
	c := &cursor{Kind: modTimeSource{}.Kind(), TS: r.start.Format("20060102150405Z"), Config: configFingerprint(r.s.cfg)}
	r.fillADCursor(c)
	r.fillContentSyncCursor(c)
	if r.rep.Mode == Incremental {
		c.SinceFull = r.cur.SinceFull + 1
	}
	wctx, done := finishing(ctx)
	defer done()
	if err := r.s.o.Store.SetSyncCursor(wctx, r.rep.Server, c.String()); err != nil {
		return fmt.Errorf("dirsync: save the cursor: %w", err)
	}
	return nil
}

func (r *run) storedDirGroups() int {
	n := 0
	for _, g := range r.storeGroup {
		if g.DN != "" {
			n++
		}
	}
	return n
}

// applyGroups upserts the mirrored directory groups and returns the
// stored directory groups the directory no longer has.
func (r *run) applyGroups(ctx context.Context) ([]*ldapbridge.Group, error) {
	byStable, byDN, byName := map[string]*ldapbridge.Group{}, map[string]*ldapbridge.Group{}, map[string]*ldapbridge.Group{}
	for _, g := range r.storeGroup {
		if g.StableID != "" {
			byStable[g.StableID] = g
		}
		if g.DN != "" {
			byDN[normDN(g.DN)] = g
		}
		byName[g.Name] = g
	}
	matched := map[int64]bool{}
	var writes []int
	for i := range r.dg {
		g := &r.dg[i]
		if !g.mirrored {
			continue
		}
		old := byStable[g.stableID]
		if old == nil || g.stableID == "" {
			if old = byDN[g.norm]; old == nil {
				old = byName[g.name]
			}
		}
		switch {
		case old == nil:
			r.rep.GroupsCreated++
			r.rep.Plan.add(&r.rep.Plan.GroupsCreate, g.name)
			g.id = -int64(i + 1)
			writes = append(writes, i)
		case old.Name != g.name || old.DN != g.dn || old.StableID != g.stableID:
			r.rep.GroupsUpdated++
			r.rep.Plan.add(&r.rep.Plan.GroupsUpdate, g.name)
			g.id = old.ID
			matched[old.ID] = true
			writes = append(writes, i)
		default:
			g.id = old.ID
			matched[old.ID] = true
		}
	}
	var gone []*ldapbridge.Group
	for _, g := range r.storeGroup {
		if g.DN != "" && !matched[g.ID] {
			gone = append(gone, g)
		}
	}
	if r.ro.DryRun || len(writes) == 0 {
		return gone, nil
	}
	wctx, done := finishing(ctx)
	defer done()
	err := r.s.o.Store.InTx(wctx, func(tx ldapbridge.Store) error {
		for _, i := range writes {
			g := &r.dg[i]
			sg := &ldapbridge.Group{Name: g.name, DN: g.dn, StableID: g.stableID}
			if err := tx.UpsertGroup(wctx, sg); err != nil {
				return err
			}
			g.id = sg.ID
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dirsync: write groups: %w", err)
	}
	r.applied += len(writes)
	return gone, nil
}
