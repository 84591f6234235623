package dirsync

import (
	"context"
	"fmt"
	"slices"

	"github.com/ldapbridge/ldapbridge"
)

// planRemovals lists the stored directory users the complete read did not
// find, per sync.removed_users, and applies the max_removals guard.
func (r *run) planRemovals() ([]int, error) {
	policy := r.s.cfg.Sync.RemovedUsers
	if policy == "keep" {
		return nil, nil
	}
	var out []int
	for i, st := range r.states {
		if r.seen[i] || st.Source != ldapbridge.SourceLDAP || slices.Contains(r.s.cfg.Sync.ExemptUsers, st.Username) {
			continue
		}
		if policy == "delete" {
			out = append(out, i)
			r.rep.Plan.add(&r.rep.Plan.Delete, st.Username)
		} else if st.IsActive {
			out = append(out, i)
			r.rep.Plan.add(&r.rep.Plan.Deactivate, st.Username)
		}
	}
	limit := r.s.cfg.Sync.MaxRemovals.Of(r.ldapActive)
	if len(out) > limit && !r.ro.Force {
		verb := "deactivated"
		if policy == "delete" {
			verb = "deleted"
		}
		return nil, r.abort(fmt.Sprintf("%d of %d active directory users would be %s, more than sync.max_removals allows (%d) — nothing was removed; check users.sync_filter, users.search and the directory, then rerun with --force if the removals are intended",
			len(out), r.ldapActive, verb, limit), ErrGuard)
	}
	return out, nil
}

// applyRemovals deactivates or deletes the users planned, and deletes the
// directory groups that are gone when sync.removed_groups is delete.
func (r *run) applyRemovals(ctx context.Context, users []int, groups []*ldapbridge.Group) error {
	users = append(users, r.contentSyncRemovals()...)
	del := r.s.cfg.Sync.RemovedUsers == "delete"
	if del {
		r.rep.UsersDeleted = len(users)
	} else {
		r.rep.UsersDeactivated = len(users)
	}
	delGroups := r.s.cfg.Sync.RemovedGroups == "delete"
	if delGroups {
		r.rep.GroupsDeleted = len(groups)
		for _, g := range groups {
			r.rep.Plan.add(&r.rep.Plan.GroupsDelete, g.Name)
		}
	}
	if r.ro.DryRun {
		return nil
	}
	for start := 0; start < len(users); start += r.s.o.BatchSize {
		if err := r.stopped("during removals"); err != nil {
			return err
		}
		chunk := users[start:min(start+r.s.o.BatchSize, len(users))]
		if err := r.removeUsers(ctx, chunk, del); err != nil {
			return fmt.Errorf("dirsync: remove users: %w", err)
		}
	}
	if !delGroups || len(groups) == 0 {
		return nil
	}
	if err := r.stopped("before deleting groups"); err != nil {
		return err
	}
	wctx, done := finishing(ctx)
	defer done()
	return r.s.o.Store.InTx(wctx, func(tx ldapbridge.Store) error {
		for _, g := range groups {
			if err := tx.DeleteGroup(wctx, g.ID); err != nil {
				return fmt.Errorf("dirsync: delete group %q: %w", g.Name, err)
			}
		}
		return nil
	})
}

// removeUsers deactivates or deletes one batch of users in one transaction.
func (r *run) removeUsers(ctx context.Context, chunk []int, del bool) error {
	ctx, done := finishing(ctx)
	defer done()
	return r.s.o.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		for _, i := range chunk {
			id := r.states[i].ID
			if del {
				if err := tx.DeleteUser(ctx, id); err != nil {
					return err
				}
				continue
			}
			u, err := tx.UserByID(ctx, id)
			if err != nil {
				return err
			}
			u.IsActive = false
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

type edge struct{ group, user, child int64 }

// syncMemberships makes the stored direct edges of the users read (and, in
// an incremental run, of every stored directory user) and among mirrored
// groups equal to the directory's.
func (r *run) syncMemberships(ctx context.Context) error {
	want := map[edge]bool{}
	inScope := map[int64]bool{}
	names := map[int64]string{}
	addUser := func(id int64, name string, direct []int32) {
		if id == 0 {
			return
		}
		inScope[id], names[id] = true, name
		for _, g := range direct {
			if dg := r.dg[g]; dg.mirrored {
				want[edge{group: dg.id, user: id}] = true
			}
		}
	}
	for _, u := range r.users {
		addUser(u.id, u.username, u.groups)
	}
	if r.rep.Mode == Incremental {
		for i, st := range r.states {
			if !r.seen[i] && st.Source == ldapbridge.SourceLDAP {
				addUser(st.ID, st.Username, r.directGroups(normDN(st.DN), st.Username, ""))
			}
		}
	}
	groupIDs := map[int64]string{}
	for i := range r.dg {
		g := &r.dg[i]
		if !g.mirrored {
			continue
		}
		groupIDs[g.id] = g.name
		if !r.s.cfg.Groups.Nested {
			continue
		}
		for _, p := range g.parents {
			if r.dg[p].mirrored {
				want[edge{group: r.dg[p].id, child: g.id}] = true
			}
		}
	}
	have, err := r.s.o.Store.Memberships(ctx)
	if err != nil {
		return fmt.Errorf("dirsync: read memberships: %w", err)
	}
	var add, remove []ldapbridge.Membership
	for _, m := range have {
		e := edge{group: m.GroupID, user: m.UserID, child: m.ChildGroupID}
		if want[e] {
			delete(want, e)
			continue
		}
		_, gIn := groupIDs[m.GroupID]
		scoped := gIn && ((m.UserID != 0 && inScope[m.UserID]) || (m.ChildGroupID != 0 && groupIDs[m.ChildGroupID] != ""))
		if scoped {
			remove = append(remove, m)
			r.rep.Plan.add(&r.rep.Plan.MembershipsRemove, r.edgeName(e, groupIDs, names))
		}
	}
	for e := range want {
		add = append(add, ldapbridge.Membership{GroupID: e.group, UserID: e.user, ChildGroupID: e.child})
		r.rep.Plan.add(&r.rep.Plan.MembershipsAdd, r.edgeName(e, groupIDs, names))
	}
	slices.Sort(r.rep.Plan.MembershipsAdd)
	r.rep.MembershipsAdded, r.rep.MembershipsRemoved = len(add), len(remove)
	if r.ro.DryRun {
		return nil
	}
	const chunk = 5000
	for start := 0; start < max(len(add), len(remove)); start += chunk {
		if err := r.stopped("while writing memberships"); err != nil {
			return err
		}
		if err := r.writeMemberships(ctx, remove[min(start, len(remove)):min(start+chunk, len(remove))],
			add[min(start, len(add)):min(start+chunk, len(add))]); err != nil {
			return fmt.Errorf("dirsync: write memberships: %w", err)
		}
	}
	return nil
}

// writeMemberships removes and adds one chunk of edges in one transaction.
func (r *run) writeMemberships(ctx context.Context, remove, add []ldapbridge.Membership) error {
	ctx, done := finishing(ctx)
	defer done()
	return r.s.o.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		if len(remove) > 0 {
			if err := tx.RemoveMemberships(ctx, remove); err != nil {
				return err
			}
		}
		if len(add) > 0 {
			return tx.AddMemberships(ctx, add)
		}
		return nil
	})
}

func (r *run) edgeName(e edge, groups map[int64]string, users map[int64]string) string {
	if e.user != 0 {
		return groups[e.group] + " <- " + users[e.user]
	}
	return groups[e.group] + " <- group " + groups[e.child]
}

// refreshFlags re-evaluates group-based flags of the stored directory
// users an incremental run did not re-read, from the complete group read,
// and rewrites those whose flags changed.
func (r *run) refreshFlags(ctx context.Context) error {
	m := r.s.o.Mapper
	var stale []int
	newFlags := map[int]map[string]bool{}
	for i, st := range r.states {
		if r.seen[i] || st.Source != ldapbridge.SourceLDAP {
			continue
		}
		fields, flags, ok := splitHash(st.Hash)
		if !ok {
			continue
		}
		f := m.Flags(r.flagGroups(r.directGroups(normDN(st.DN), st.Username, "")))
		keepDisabled(fields, f)
		if h := flagsHash(f["is_active"], f["is_staff"], f["is_superuser"], customFlags(f)); h != flags {
			stale = append(stale, i)
			newFlags[i] = f
			r.states[i].Hash = fields + ":" + h
			r.rep.UsersUpdated++
			r.rep.Plan.add(&r.rep.Plan.Update, st.Username)
		}
	}
	if r.ro.DryRun || len(stale) == 0 {
		return nil
	}
	ctx, done := finishing(ctx)
	defer done()
	return r.s.o.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		for _, i := range stale {
			u, err := tx.UserByID(ctx, r.states[i].ID)
			if err != nil {
				return err
			}
			f := newFlags[i]
			u.IsActive, u.IsStaff, u.IsSuperuser, u.Flags = f["is_active"], f["is_staff"], f["is_superuser"], customFlags(f)
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
			if err := tx.SetSyncHash(ctx, u.ID, r.states[i].Hash); err != nil {
				return err
			}
		}
		return nil
	})
}

func customFlags(f map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range f {
		if k != "is_active" && k != "is_staff" && k != "is_superuser" {
			out[k] = v
		}
	}
	return out
}
