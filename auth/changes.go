package auth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// loginChanges describes what a login's (or Populate's) write did to the
// account: existing (nil when it created it) became saved. The changes
// are those of the change log: the user created, updated, deactivated,
// reactivated or refused, and the direct memberships added or removed.
func (a *Authenticator) loginChanges(began time.Time, existing, saved *ldapbridge.User, upserted map[string]*ldapbridge.Group, login bool) []*ldapbridge.Change {
	source := ldapbridge.ChangeByAdmin // users populate, the admin's refresh
	if login {
		source = ldapbridge.ChangeByLogin
	}
	now := a.now().UTC()
	var out []*ldapbridge.Change
	add := func(c *ldapbridge.Change) {
		c.Source, c.At = source, now
		if c.Fields == nil {
			c.Fields = []string{}
		}
		out = append(out, c)
	}
	if c := ldapbridge.UserChange(existing, saved); c != nil {
		if existing == nil {
			c.Reason = "first " + source
		}
		add(c)
	}
	var before []string
	if existing != nil {
		before = existing.DirectGroups
	}
	for _, g := range saved.DirectGroups {
		if !slices.Contains(before, g) {
			if c := groupCreated(began, upserted[g]); c != nil {
				add(c)
			}
			add(&ldapbridge.Change{Kind: ldapbridge.ChangeMembership, Action: ldapbridge.ActionAdded, User: saved.Username, UserID: saved.ID, Group: g})
		}
	}
	for _, g := range before {
		if !slices.Contains(saved.DirectGroups, g) {
			add(&ldapbridge.Change{Kind: ldapbridge.ChangeMembership, Action: ldapbridge.ActionRemoved, User: saved.Username, UserID: saved.ID, Group: g})
		}
	}
	return out
}

// groupCreated returns the group.created change of g, just upserted by
// this write, when the upsert created it (created and never updated since
// began), else nil.
func groupCreated(began time.Time, g *ldapbridge.Group) *ldapbridge.Change {
	if g == nil || !g.CreatedAt.Equal(g.UpdatedAt) || g.CreatedAt.Before(began.Truncate(time.Millisecond)) {
		return nil
	}
	return &ldapbridge.Change{Kind: ldapbridge.ChangeGroup, Action: ldapbridge.ActionCreated, Group: g.Name, DN: g.DN, Reason: "mirrored at a login"}
}

// recordChanges writes cs to the change log of tx and their webhook
// events to its outbox, in tx's transaction.
func (a *Authenticator) recordChanges(ctx context.Context, tx Store, cs []*ldapbridge.Change) error {
	if len(cs) == 0 {
		return nil
	}
	if cl, ok := tx.(ldapbridge.ChangeLog); ok {
		if err := cl.RecordChanges(ctx, cs); err != nil {
			return fmt.Errorf("auth: record changes: %w", err)
		}
	}
	if a.events == nil {
		return nil
	}
	if ob, ok := tx.(ldapbridge.Outbox); ok {
		if es := a.events(cs); len(es) > 0 {
			if err := ob.EnqueueEvents(ctx, es); err != nil {
				return fmt.Errorf("auth: enqueue webhook events: %w", err)
			}
		}
	}
	return nil
}

// changed calls Hooks.OnChange for each committed change; an error is
// logged, never returned.
func (a *Authenticator) changed(ctx context.Context, cs []*ldapbridge.Change) {
	if a.hooks.OnChange == nil {
		return
	}
	for _, c := range cs {
		if err := a.hooks.OnChange(ctx, *c); err != nil {
			a.hookErrors.Add(1)
			a.log.Warn("OnChange hook failed (the change stays)", "user", c.User, "kind", c.Kind, "action", c.Action, "err", err)
		}
	}
}

// HookErrors returns how many Hooks.OnChange calls returned an error.
func (a *Authenticator) HookErrors() int64 { return a.hookErrors.Load() }
