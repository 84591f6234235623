package dirsync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
)

// removalsPolicy is how a run removes users: sync.removed_users, the
// exempt users and the sync.max_removals guard.
type removalsPolicy struct {
	removed string // deactivate, delete or keep
	exempt  []string
	limit   config.Limit
	force   bool
}

// plan lists, per sync.removed_users, the stored users at indexes idx
// that a run may remove — never local accounts nor exempt users — and
// applies the guard, whose message says what happened to them.
//
// The guard counts the users the run refused (Report.UsersRefused: they
// lost admission) with the removed ones, also when sync.removed_users is
// keep, so a wrong group DN in access.require cannot lock everyone out.
func (a *applier) planRemovals(su *storedUsers, idx []int, pol removalsPolicy, guardMessage func(n, active int, verb string, limit int) string) ([]int, error) {
	rep := a.report
	var out []int
	for _, i := range idx {
		if pol.removed == "keep" {
			break
		}
		st := su.states[i]
		if st.Source != ldapbridge.SourceLDAP || slices.Contains(pol.exempt, st.Username) {
			continue
		}
		if a.approve != nil && !a.approve[st.ID] {
			continue // an approval's run removes only the approved users
		}
		if pol.removed == "delete" {
			out = append(out, i)
			rep.Plan.add(&rep.Plan.Delete, st.Username)
		} else if st.IsActive {
			out = append(out, i)
			rep.Plan.add(&rep.Plan.Deactivate, st.Username)
		}
	}
	limit := pol.limit.Of(su.ldapActive)
	if len(out)+rep.UsersRefused > limit && !pol.force && a.approve == nil {
		verb := "deactivated"
		if pol.removed == "delete" {
			verb = "deleted"
		}
		if rep.UsersRefused > 0 {
			verb = fmt.Sprintf("%s or lose admission (%d %s, %d refused by access.require or access.deny — check those group queries)",
				verb, len(out), verb, rep.UsersRefused)
		}
		msg := guardMessage(len(out)+rep.UsersRefused, su.ldapActive, verb, limit)
		a.holdPending(su, out, pol.removed)
		if !a.dryRun {
			msg += fmt.Sprintf("; the %d removals wait for approval: ldapbridge sync approve %d (or sync reject %d)", len(a.pending), a.runID, a.runID)
		}
		return nil, a.abort(msg, ErrGuard)
	}
	return out, nil
}

// unseenMessage is the guard's message after a complete read.
func unseenMessage(n, active int, verb string, limit int) string {
	return fmt.Sprintf("%d of %d active directory users would be %s, more than sync.max_removals allows (%d) — nothing was removed; check users.sync_filter, users.search and the directory, then rerun with --force if the removals are intended",
		n, active, verb, limit)
}

// deletedMessage is the guard's message for deletions a source reported.
func deletedMessage(n, active int, verb string, limit int) string {
	what := "were deleted in the directory"
	if strings.Contains(verb, "lose admission") {
		what = "would be " + verb + " (the directory reported the deletions)"
	}
	return fmt.Sprintf("%d of %d active directory users %s, more than sync.max_removals allows (%d) — nothing was removed; rerun with --force if the removals are intended",
		n, active, what, limit)
}

// unseen returns the stored users a complete read did not see.
func (su *storedUsers) unseen() []int {
	var out []int
	for i, seen := range su.seen {
		if !seen {
			out = append(out, i)
		}
	}
	return out
}

// applyRemovals deactivates or deletes the users planned (del: delete),
// and deletes the directory groups that are gone when delGroups.
func (a *applier) applyRemovals(ctx context.Context, su *storedUsers, users []int, del bool, groups []*ldapbridge.Group, delGroups bool) error {
	rep := a.report
	if del {
		rep.UsersDeleted = len(users)
	} else {
		rep.UsersDeactivated = len(users)
	}
	if delGroups {
		rep.GroupsDeleted = len(groups)
		for _, g := range groups {
			rep.Plan.add(&rep.Plan.GroupsDelete, g.Name)
		}
	}
	if a.dryRun {
		return nil
	}
	for start := 0; start < len(users); start += a.batchSize {
		if err := a.stopped(ctx, "during removals"); err != nil {
			return err
		}
		chunk := users[start:min(start+a.batchSize, len(users))]
		if err := a.removeUsers(ctx, su, chunk, del); err != nil {
			return fmt.Errorf("dirsync: remove users: %w", err)
		}
	}
	if !delGroups || len(groups) == 0 {
		return nil
	}
	if err := a.stopped(ctx, "before deleting groups"); err != nil {
		return err
	}
	wctx, done := finishing(ctx)
	defer done()
	return a.inTx(wctx, func(tx ldapbridge.Store) error {
		for _, g := range groups {
			if err := tx.DeleteGroup(wctx, g.ID); err != nil {
				return fmt.Errorf("dirsync: delete group %q: %w", g.Name, err)
			}
			a.note(&ldapbridge.Change{Kind: ldapbridge.ChangeGroup, Action: ldapbridge.ActionDeleted, Group: g.Name, DN: g.DN, Reason: "gone from the directory"})
		}
		return nil
	})
}

// removeUsers deactivates or deletes one batch of users in one transaction.
func (a *applier) removeUsers(ctx context.Context, su *storedUsers, chunk []int, del bool) error {
	ctx, done := finishing(ctx)
	defer done()
	return a.inTx(ctx, func(tx ldapbridge.Store) error {
		for _, i := range chunk {
			id := su.states[i].ID
			a.approved++
			if del {
				if err := tx.DeleteUser(ctx, id); err != nil {
					return err
				}
				a.note(&ldapbridge.Change{Kind: ldapbridge.ChangeUser, Action: ldapbridge.ActionDeleted, User: su.states[i].Username, UserID: id, DN: su.states[i].DN, Reason: a.removedReason})
				continue
			}
			u, err := tx.UserByID(ctx, id)
			if err != nil {
				return err
			}
			before := *u
			u.IsActive = false
			u.Verdict, u.VerdictReason = ldapbridge.VerdictRemoved, a.removedReason
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
			c := ldapbridge.UserChange(&before, u)
			c.Action, c.Reason = ldapbridge.ActionDeactivated, a.removedReason
			a.note(c)
		}
		return nil
	})
}

type edge struct{ group, user, child int64 }

// syncMemberships makes the stored direct edges of the users read (and,
// with unread, of every stored directory user the run did not see) and
// among mirrored groups equal to the directory's. Only edges into the
// mirrored directory groups are read into the diff and changed: a user's
// memberships in local groups, and in directory groups groups.mirror leaves
// out, are never removed (django-auth-ldap's MIRROR_GROUPS semantics).
func (a *applier) syncMemberships(ctx context.Context, gi *groupIndex, su *storedUsers, unread bool) error {
	want := map[edge]bool{}
	inScope := map[int64]bool{}
	names := map[int64]string{}
	addUser := func(id int64, name string, direct []int32) {
		if id == 0 {
			return
		}
		inScope[id], names[id] = true, name
		for _, g := range direct {
			if dg := gi.groups[g]; dg.mirrored {
				want[edge{group: dg.id, user: id}] = true
			}
		}
	}
	for _, u := range a.users {
		addUser(u.id, u.username, u.groups)
	}
	if unread {
		primaries, err := a.unreadPrimaries(ctx, gi)
		if err != nil {
			return err
		}
		for i, st := range su.states {
			if !su.seen[i] && st.Source == ldapbridge.SourceLDAP {
				norm := normDN(st.DN)
				addUser(st.ID, st.Username, gi.directGroups(norm, st.Username, primaries[norm]))
			}
		}
	}
	groupIDs := map[int64]string{}
	for i := range gi.groups {
		g := &gi.groups[i]
		if !g.mirrored {
			continue
		}
		groupIDs[g.id] = g.stored
		if !gi.nested {
			continue
		}
		for _, p := range g.parents {
			if gi.groups[p].mirrored {
				want[edge{group: gi.groups[p].id, child: g.id}] = true
			}
		}
	}
	have, err := a.store.Memberships(ctx)
	if err != nil {
		return fmt.Errorf("dirsync: read memberships: %w", err)
	}
	rep := a.report
	var add, remove []ldapbridge.Membership
	written := 0 // edges of created users, written with them
	for _, m := range have {
		e := edge{group: m.GroupID, user: m.UserID, child: m.ChildGroupID}
		if want[e] {
			delete(want, e)
			if e.user != 0 && a.created[e.user] {
				// A user this run created: its edges were written with
				// it (applier.createEdges), and count as added here.
				written++
				rep.Plan.add(&rep.Plan.MembershipsAdd, edgeName(e, groupIDs, names))
			}
			continue
		}
		_, gIn := groupIDs[m.GroupID]
		scoped := gIn && ((m.UserID != 0 && inScope[m.UserID]) || (m.ChildGroupID != 0 && groupIDs[m.ChildGroupID] != ""))
		if scoped {
			remove = append(remove, m)
			rep.Plan.add(&rep.Plan.MembershipsRemove, edgeName(e, groupIDs, names))
		}
	}
	for e := range want {
		add = append(add, ldapbridge.Membership{GroupID: e.group, UserID: e.user, ChildGroupID: e.child})
		rep.Plan.add(&rep.Plan.MembershipsAdd, edgeName(e, groupIDs, names))
	}
	slices.Sort(rep.Plan.MembershipsAdd)
	// Written in the order of the edge tables' keys (member, then group),
	// so the inserts append to the B-trees instead of landing at random.
	slices.SortFunc(add, func(x, y ldapbridge.Membership) int {
		return cmp.Or(cmp.Compare(x.UserID, y.UserID), cmp.Compare(x.ChildGroupID, y.ChildGroupID), cmp.Compare(x.GroupID, y.GroupID))
	})
	rep.MembershipsAdded, rep.MembershipsRemoved = written+len(add), len(remove)
	a.edgeGroups, a.edgeUsers = groupIDs, names
	if a.dryRun {
		return nil
	}
	const chunk = 5000
	for start := 0; start < max(len(add), len(remove)); start += chunk {
		if err := a.stopped(ctx, "while writing memberships"); err != nil {
			return err
		}
		if err := a.writeMemberships(ctx, remove[min(start, len(remove)):min(start+chunk, len(remove))],
			add[min(start, len(add)):min(start+chunk, len(add))]); err != nil {
			return fmt.Errorf("dirsync: write memberships: %w", err)
		}
	}
	return nil
}

// writeMemberships removes and adds one chunk of edges in one transaction.
func (a *applier) writeMemberships(ctx context.Context, remove, add []ldapbridge.Membership) error {
	ctx, done := finishing(ctx)
	defer done()
	return a.inTx(ctx, func(tx ldapbridge.Store) error {
		if len(remove) > 0 {
			if err := tx.RemoveMemberships(ctx, remove); err != nil {
				return err
			}
		}
		if len(add) > 0 {
			if err := tx.AddMemberships(ctx, add); err != nil {
				return err
			}
		}
		a.noteMemberships(remove, ldapbridge.ActionRemoved)
		a.noteMemberships(add, ldapbridge.ActionAdded)
		return nil
	})
}

func edgeName(e edge, groups map[int64]string, users map[int64]string) string {
	if e.user != 0 {
		return groups[e.group] + " <- " + users[e.user]
	}
	return groups[e.group] + " <- group " + groups[e.child]
}

// refresh is the flags and verdict an incremental run re-evaluated for the
// stored users it did not re-read (planRefresh), written after the removal
// guard passed (applyRefresh).
type refresh struct {
	idx   []int // indexes in storedUsers.states
	flags map[int]map[string]bool
	// verdicts hold each stale user's verdict and its reason.
	verdicts map[int][2]string
}

// planRefresh re-evaluates the group-based flags and the verdict
// (auth.Mapper.Judge) of the stored directory users an incremental run did
// not re-read, from the complete group read, and returns those that
// changed. A user who loses admission counts as refused, for the guard.
func (a *applier) planRefresh(ctx context.Context, m *auth.Mapper, gi *groupIndex, su *storedUsers) (*refresh, error) {
	rep := a.report
	out := &refresh{flags: map[int]map[string]bool{}, verdicts: map[int][2]string{}}
	primaries, err := a.unreadPrimaries(ctx, gi)
	if err != nil {
		return nil, err
	}
	for i, st := range su.states {
		if su.seen[i] || st.Source != ldapbridge.SourceLDAP {
			continue
		}
		fields, flags, ok := splitHash(st.Hash)
		if !ok {
			continue
		}
		norm := normDN(st.DN)
		groups := gi.flagGroups(gi.directGroups(norm, st.Username, primaries[norm]))
		f := m.Flags(groups)
		keepDisabled(fields, f)
		verdict, reason := m.Judge(groups, f["is_active"])
		if h := flagsHash(f["is_active"], f["is_staff"], f["is_superuser"], customFlags(f), verdict, reason); h != flags {
			out.idx = append(out.idx, i)
			out.flags[i], out.verdicts[i] = f, [2]string{verdict, reason}
			su.states[i].Hash = fields + ":" + h
			rep.UsersUpdated++
			rep.Plan.add(&rep.Plan.Update, st.Username)
			if admitted(st) && refuses(verdict) {
				rep.UsersRefused++
				rep.Plan.add(&rep.Plan.Refuse, st.Username)
			}
		}
	}
	return out, nil
}

// applyRefresh writes the flags and verdicts planRefresh found changed.
func (a *applier) applyRefresh(ctx context.Context, r *refresh, su *storedUsers) error {
	if a.dryRun || r == nil || len(r.idx) == 0 {
		return nil
	}
	if err := a.stopped(ctx, "before refreshing flags"); err != nil {
		return err
	}
	ctx, done := finishing(ctx)
	defer done()
	return a.inTx(ctx, func(tx ldapbridge.Store) error {
		for _, i := range r.idx {
			u, err := tx.UserByID(ctx, su.states[i].ID)
			if err != nil {
				return err
			}
			before := *u
			f := r.flags[i]
			u.IsActive, u.IsStaff, u.IsSuperuser, u.Flags = f["is_active"], f["is_staff"], f["is_superuser"], customFlags(f)
			u.Verdict, u.VerdictReason = r.verdicts[i][0], r.verdicts[i][1]
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
			a.note(ldapbridge.UserChange(&before, u))
			if err := tx.SetSyncHash(ctx, u.ID, su.states[i].Hash); err != nil {
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
