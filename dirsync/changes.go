package dirsync

import (
	"context"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// Hooks let a program react to a sync. Every hook is optional.
type Hooks struct {
	// OnChange is called once per change (the change log's data), after
	// the transaction that made it has committed, on the goroutine that
	// runs the sync. An error is logged and counted (Report.HookErrors);
	// it never undoes or aborts the sync.
	OnChange func(ctx context.Context, c ldapbridge.Change) error
}

// EventsFunc turns committed-to-be changes into webhook outbox events; the
// run stores them in the same transaction as the changes (see the events
// package, which builds them from events.webhooks).
type EventsFunc func(cs []*ldapbridge.Change) []*ldapbridge.OutboxEvent

// inTx runs fn in one store transaction and records, in that same
// transaction, the changes fn noted (the change log, and the webhook
// outbox when the run has an EventsFunc); after the commit it hands each
// change to Hooks.OnChange.
func (a *applier) inTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	var cs []*ldapbridge.Change
	err := a.store.InTx(ctx, func(tx ldapbridge.Store) error {
		cs = nil
		a.noted = &cs
		defer func() { a.noted = nil }()
		if err := fn(tx); err != nil {
			return err
		}
		return a.record(ctx, tx, cs)
	})
	if err == nil {
		a.committed(ctx, cs)
	}
	return err
}

// note adds c to the changes of the transaction inTx is running.
func (a *applier) note(c *ldapbridge.Change) {
	if c == nil || a.noted == nil {
		return
	}
	c.RunID, c.Source, c.Actor = a.runID, a.source, a.actor
	if c.At.IsZero() {
		c.At = a.now().UTC()
	}
	if c.Fields == nil {
		c.Fields = []string{}
	}
	*a.noted = append(*a.noted, c)
}

// record writes cs to tx's change log and their events to its outbox.
func (a *applier) record(ctx context.Context, tx ldapbridge.Store, cs []*ldapbridge.Change) error {
	if len(cs) == 0 || a.dryRun {
		return nil
	}
	if cl, ok := tx.(ldapbridge.ChangeLog); ok {
		if err := cl.RecordChanges(ctx, cs); err != nil {
			return fmt.Errorf("dirsync: record changes: %w", err)
		}
	}
	return a.enqueue(ctx, tx, cs)
}

// enqueue stores the webhook events of cs in tx's outbox.
func (a *applier) enqueue(ctx context.Context, tx ldapbridge.Store, cs []*ldapbridge.Change) error {
	if a.events == nil {
		return nil
	}
	ob, ok := tx.(ldapbridge.Outbox)
	if !ok {
		return nil
	}
	if es := a.events(cs); len(es) > 0 {
		if err := ob.EnqueueEvents(ctx, es); err != nil {
			return fmt.Errorf("dirsync: enqueue webhook events: %w", err)
		}
	}
	return nil
}

// committed calls Hooks.OnChange for each change of a committed
// transaction; errors are logged and counted.
func (a *applier) committed(ctx context.Context, cs []*ldapbridge.Change) {
	if a.onChange == nil {
		return
	}
	for _, c := range cs {
		if err := a.onChange(ctx, *c); err != nil {
			a.report.HookErrors++
			a.warnLog(fmt.Sprintf("OnChange hook for %s %s %s%s: %v (the change stays; the sync goes on)", c.Kind, c.User, c.Action, c.Group, err))
		}
	}
}

// holdPending keeps, for the run's record, the removals and refusals the
// removal guard stopped: they wait for approval (sync approve).
func (a *applier) holdPending(su *storedUsers, out []int, removed string) {
	action := ldapbridge.ActionDeactivated
	if removed == "delete" {
		action = ldapbridge.ActionDeleted
	}
	for _, i := range out {
		st := su.states[i]
		a.pending = append(a.pending, ldapbridge.PendingRemoval{UserID: st.ID, User: st.Username, DN: st.DN, Action: action,
			Verdict: ldapbridge.VerdictRemoved, Reason: a.removedReason})
	}
	for _, h := range a.refusals {
		if u := a.users[h.user]; u.id > 0 && !u.failed {
			a.pending = append(a.pending, ldapbridge.PendingRemoval{UserID: u.id, User: u.username, DN: h.dn, Action: ldapbridge.ActionRefused,
				Verdict: h.verdict, Reason: h.reason})
		}
	}
}

// noteMemberships notes one change per edge, named by the maps
// syncMemberships filled.
func (a *applier) noteMemberships(ms []ldapbridge.Membership, action string) {
	for _, m := range ms {
		c := &ldapbridge.Change{Kind: ldapbridge.ChangeMembership, Action: action, Group: a.edgeGroups[m.GroupID]}
		if m.UserID != 0 {
			c.User, c.UserID = a.edgeUsers[m.UserID], m.UserID
		} else {
			c.Reason = "group " + a.edgeGroups[m.ChildGroupID] + " in group " + c.Group
		}
		a.note(c)
	}
}

// groupChange describes writing g over old (nil for a create).
func groupChange(old, g *ldapbridge.Group) *ldapbridge.Change {
	c := &ldapbridge.Change{Kind: ldapbridge.ChangeGroup, Action: ldapbridge.ActionCreated, Group: g.Name, DN: g.DN, Fields: []string{}}
	if old == nil {
		c.Reason = "new in the directory"
		return c
	}
	c.Action = ldapbridge.ActionUpdated
	if old.Name != g.Name {
		c.Fields = append(c.Fields, "name")
	}
	if old.DN != g.DN {
		c.Fields = append(c.Fields, "dn")
	}
	if old.StableID != g.StableID {
		c.Fields = append(c.Fields, "stable_id")
	}
	return c
}

// afterRun records what a finished run leaves besides its history row:
// the removals its guard held (pending approval), the sync.aborted event
// of an aborted run, and the pruning of history past sync.keep_history.
func (s *Syncer) afterRun(ctx context.Context, a *applier, aborted bool) error {
	now := s.options.Now().UTC()
	rep := a.report
	rep.approved = a.approved
	if len(a.pending) > 0 && a.approve == nil {
		ap, ok := s.options.Store.(ldapbridge.Approvals)
		if !ok {
			return fmt.Errorf("dirsync: the store %T keeps no pending removals (ldapbridge.Approvals)", s.options.Store)
		}
		if err := ap.RecordPending(ctx, a.runID, now, now.Add(s.cfg.Sync.PendingTTL.D()), a.pending); err != nil {
			return fmt.Errorf("dirsync: record the pending removals: %w", err)
		}
		rep.PendingRemovals = len(a.pending)
	}
	if aborted && a.events != nil {
		c := &ldapbridge.Change{RunID: a.runID, Source: a.source, Actor: a.actor, At: now, Kind: "sync", Action: "aborted", Reason: rep.AbortReason, Fields: []string{}}
		if err := s.options.Store.InTx(ctx, func(tx ldapbridge.Store) error { return a.enqueue(ctx, tx, []*ldapbridge.Change{c}) }); err != nil {
			return err
		}
	}
	if cl, ok := s.options.Store.(ldapbridge.ChangeLog); ok {
		cut, keep := s.cfg.Sync.KeepHistory.Cutoff(now)
		if _, err := cl.PruneHistory(ctx, cut, keep); err != nil {
			return fmt.Errorf("dirsync: prune the sync history (sync.keep_history): %w", err)
		}
	}
	return nil
}
