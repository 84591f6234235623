package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/membership"
)

var errNoNewUsers = errors.New("no new users")

// existing finds the local record of a directory user by Mapper.FindAccount
// (stable id, else users.query_field, else username), the rule a sync
// matches accounts by too. nil when there is none.
func (a *Authenticator) existing(ctx context.Context, st Store, u *ldapbridge.User) (*ldapbridge.User, error) {
	found, err := a.mapper.FindAccount(ctx, st, u)
	if found != nil && a.cfg.Users.QueryField == "" && found.StableID != "" && u.StableID != "" && found.StableID != u.StableID {
		a.log.Warn("a new directory entry reuses the username of an account with another stable id; the account is taken over",
			"username", u.Username, "dn", u.DN, "old_stable_id", found.StableID, "new_stable_id", u.StableID)
	}
	return found, err
}

func userField(u *ldapbridge.User, field string) string {
	switch field {
	case "email":
		return u.Email
	case "first_name":
		return u.FirstName
	case "last_name":
		return u.LastName
	case "dn":
		return u.DN
	}
	return u.Username
}

func wrapStore(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("auth: %s: %w", what, err)
}

// plan returns the record a login would write for mapped given the existing
// one (nil when new), and whether it is written. With always_update off an
// existing account keeps its fields, except username and DN after a rename.
func (a *Authenticator) plan(existing, mapped *ldapbridge.User) (*ldapbridge.User, bool, error) {
	if existing == nil {
		if a.cfg.Access.NoNewUsers {
			return nil, false, errNoNewUsers
		}
		return mapped, true, nil
	}
	if existing.Source == ldapbridge.SourceLocal {
		return nil, false, fmt.Errorf("auth: %q is a local account, so the directory user %s cannot log in with it (rename one of them; local accounts log in only with access.local_accounts): %w",
			existing.Username, mapped.DN, ldapbridge.ErrConflict)
	}
	if !a.cfg.Access.AlwaysUpdate {
		if existing.Username == mapped.Username && existing.DN == mapped.DN &&
			existing.Verdict == mapped.Verdict && existing.VerdictReason == mapped.VerdictReason {
			return existing, false, nil
		}
		// A rename is identity, not population, and the verdict is the
		// judge's, not population: follow both even so.
		u := *existing
		u.Username, u.DN, u.Photo = mapped.Username, mapped.DN, nil
		u.Verdict, u.VerdictReason = mapped.Verdict, mapped.VerdictReason
		return &u, true, nil
	}
	u := *mapped
	u.ID, u.CreatedAt = existing.ID, existing.CreatedAt
	u.LastLoginAt, u.LastSyncedAt = existing.LastLoginAt, existing.LastSyncedAt
	return &u, true, nil
}

// save creates or refreshes the account of mapped and mirrors its groups,
// in one transaction, and returns the account as stored afterwards. With
// refused (the policy refused the user) an account that does not exist is
// not created, and saved is nil. With loginAt (a login, not Populate) the
// login time of an account that is let in is recorded in the same
// transaction: a first login is one commit, and a re-login of an account
// that is current is the last-login write alone.
func (a *Authenticator) save(ctx context.Context, mapped *ldapbridge.User, entry *ldapbridge.Entry, groups []membership.Group, stored *ldapbridge.User, pre *accountLookup, refused bool, loginAt *time.Time) (*ldapbridge.User, bool, error) {
	// record sets the login time of u when it is let in.
	record := func(st Store, u *ldapbridge.User) error {
		if loginAt == nil || refused || u.EffectiveVerdict() != ldapbridge.VerdictOK {
			return nil
		}
		if err := st.RecordLogin(ctx, u.ID, *loginAt); err != nil {
			return fmt.Errorf("auth: record login of %s: %w", u.Username, err)
		}
		at := *loginAt
		u.LastLoginAt = &at
		return nil
	}
	// looked: the account was looked up outside the transaction and none
	// was found. The transaction then creates it without looking again: a
	// concurrent first login that created it since makes the create fail
	// with ErrConflict, and admit saves again.
	looked := false
	if a.hooks.OnPopulate == nil {
		// Steady state: the account already says what the directory says,
		// so a login writes nothing but its time.
		existing := stored
		if pre != nil && pre.done {
			existing = pre.account
		} else if needLookup(existing, mapped.StableID) {
			var err error
			if existing, err = a.existing(ctx, a.store, mapped); err != nil {
				return nil, false, err
			}
		}
		if existing != nil && a.current(ctx, existing, mapped, groups) {
			return existing, false, record(a.store, existing)
		}
		looked = existing == nil
	}
	var saved *ldapbridge.User
	created := false
	var changes []*ldapbridge.Change
	began := time.Now() // groups created from here on are this write's (loginChanges)
	err := a.inTx(ctx, func(tx Store) error {
		changes = nil
		var existing *ldapbridge.User
		if !looked {
			var err error
			if existing, err = a.existing(ctx, tx, mapped); err != nil {
				return err
			}
		}
		if existing == nil && refused {
			return nil
		}
		u, write, err := a.plan(existing, mapped)
		if err != nil {
			return err
		}
		if a.hooks.OnPopulate != nil && (existing == nil || a.cfg.Access.AlwaysUpdate) {
			if err := a.hooks.OnPopulate(ctx, u, entry); err != nil {
				return fmt.Errorf("auth: OnPopulate hook for %s: %w", u.Username, err)
			}
		}
		switch {
		case existing == nil:
			if loginAt != nil && !refused && u.EffectiveVerdict() == ldapbridge.VerdictOK {
				// The login time goes in with the new row, in the stores'
				// precision, so the account returned equals the stored one.
				at := loginAt.UTC().Truncate(time.Millisecond)
				u.LastLoginAt = &at
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return wrapStore(err, "create user "+u.Username)
			}
			created = true
		case write && !(a.hooks.OnPopulate != nil && a.sameRecord(ctx, tx, existing, u)):
			// With a hook the shortcut above is skipped; a record the hook
			// leaves as stored is not rewritten either, so its sync hash
			// stays and the next sync does not rewrite the user.
			if err := tx.UpdateUser(ctx, u); err != nil {
				return wrapStore(err, "update user "+u.Username)
			}
		}
		upserted, err := a.mirror(ctx, tx, u.ID, groups, created)
		if err != nil {
			return err
		}
		if created && !a.cfg.Groups.Nested {
			// A new account holds what was just written: no read-back.
			saved = a.createdUser(u, upserted, groups)
		} else {
			saved, err = tx.UserByID(ctx, u.ID)
			if err != nil {
				return wrapStore(err, "read back user "+u.Username)
			}
			if !created { // a new row has its login time already
				if err := record(tx, saved); err != nil {
					return err
				}
			}
		}
		changes = a.loginChanges(began, existing, saved, upserted, loginAt != nil)
		return a.recordChanges(ctx, tx, changes)
	})
	if err == nil {
		a.changed(ctx, changes)
	}
	return saved, created, err
}

// sameRecord reports whether the stored account already holds every
// field u would write, photo included.
func (a *Authenticator) sameRecord(ctx context.Context, tx Store, existing, u *ldapbridge.User) bool {
	if existing.ID != u.ID || existing.Source != u.Source || existing.Username != u.Username || existing.DN != u.DN ||
		existing.StableID != u.StableID || existing.FirstName != u.FirstName || existing.LastName != u.LastName ||
		existing.Email != u.Email || existing.IsActive != u.IsActive || existing.IsStaff != u.IsStaff ||
		existing.IsSuperuser != u.IsSuperuser || existing.PasswordHash != u.PasswordHash ||
		existing.Verdict != u.Verdict || existing.VerdictReason != u.VerdictReason ||
		!maps.Equal(existing.Flags, u.Flags) || !maps.Equal(existing.Profile, u.Profile) || existing.HasPhoto != u.HasPhoto {
		return false
	}
	if len(u.Photo) > 0 {
		stored, err := tx.Photo(ctx, existing.ID)
		return err == nil && bytes.Equal(stored, u.Photo)
	}
	return true
}

// current reports whether the stored account already equals what a save
// would write: the mapped fields, the photo and the mirrored groups.
func (a *Authenticator) current(ctx context.Context, existing, mapped *ldapbridge.User, groups []membership.Group) bool {
	if existing.Source != ldapbridge.SourceLDAP || existing.Username != mapped.Username || existing.DN != mapped.DN ||
		existing.StableID != mapped.StableID || existing.Verdict != mapped.Verdict || existing.VerdictReason != mapped.VerdictReason {
		return false
	}
	if a.cfg.Access.AlwaysUpdate {
		if existing.FirstName != mapped.FirstName || existing.LastName != mapped.LastName || existing.Email != mapped.Email ||
			existing.IsActive != mapped.IsActive || existing.IsStaff != mapped.IsStaff || existing.IsSuperuser != mapped.IsSuperuser ||
			!maps.Equal(existing.Flags, mapped.Flags) || !maps.Equal(existing.Profile, mapped.Profile) ||
			existing.HasPhoto != mapped.HasPhoto {
			return false
		}
		if mapped.HasPhoto {
			stored, err := a.store.Photo(ctx, existing.ID)
			if err != nil || !bytes.Equal(stored, mapped.Photo) {
				return false
			}
		}
	}
	var direct []string
	mirrored := map[string]membership.Group{} // by normalised DN
	for _, g := range groups {
		if a.cfg.Groups.Mirror.Includes(g.Name) && !slices.Contains(existing.LocalGroups, a.cfg.StoredGroupName(g.Name)) {
			g.Name = a.cfg.StoredGroupName(g.Name)
			mirrored[normDN(g.DN)] = g
			if g.Direct {
				direct = append(direct, g.Name)
			}
		}
	}
	slices.Sort(direct)
	if !slices.Equal(slices.Compact(direct), a.owned(existing, existing.DirectGroups)) {
		return false
	}
	if !a.cfg.Groups.Nested {
		return true
	}
	// The store derives the effective groups from the direct memberships
	// and the group→group edges, and mirror stores only the mirrored
	// groups and the edges among them: the effective groups to expect are
	// those reached from the mirrored direct groups through mirrored
	// groups. A group the mirror leaves out breaks the chain through it
	// (a user only in a left-out group that is in a mirrored one is not in
	// the mirrored one in the store), so comparing with every mirrored
	// group the directory reaches would rewrite such a user at every login.
	reached := map[string]bool{}
	var queue []string
	for dn, g := range mirrored {
		if g.Direct {
			reached[dn] = true
			queue = append(queue, dn)
		}
	}
	var all []string
	for len(queue) > 0 {
		dn := queue[0]
		queue = queue[1:]
		all = append(all, mirrored[dn].Name)
		for _, p := range mirrored[dn].MemberOfDNs {
			if pn := normDN(p); !reached[pn] {
				if _, ok := mirrored[pn]; ok {
					reached[pn] = true
					queue = append(queue, pn)
				}
			}
		}
	}
	slices.Sort(all)
	return slices.Equal(slices.Compact(all), a.owned(existing, existing.Groups))
}

// owned returns the names among the user's groups whose memberships a
// login owns: this directory's groups (by their stored names,
// config.StoredGroupName) that groups.mirror includes. A login leaves the
// others alone (django-auth-ldap's MIRROR_GROUPS and
// MIRROR_GROUPS_EXCEPT): local groups, and directory groups the mirror
// leaves out.
func (a *Authenticator) owned(u *ldapbridge.User, names []string) []string {
	out := []string{}
	for _, n := range names {
		if dn, ok := a.cfg.DirectoryGroupName(n); ok && a.cfg.Groups.Mirror.Includes(dn) && !slices.Contains(u.LocalGroups, n) {
			out = append(out, n)
		}
	}
	return out
}

// ownsGroup reports whether a login owns the memberships of g (see owned):
// a group of this directory that groups.mirror includes.
func (a *Authenticator) ownsGroup(g *ldapbridge.Group) bool {
	if g.Source == ldapbridge.SourceLocal {
		return false
	}
	if d := g.Directory; d != "" && d != a.cfg.Name() {
		return false
	}
	n, ok := a.cfg.DirectoryGroupName(g.Name)
	return ok && a.cfg.Groups.Mirror.Includes(n)
}

// mirror upserts the user's groups that groups.mirror includes, makes the
// mirrored direct ones the user's direct groups among the groups a login
// owns (leaving local groups and the directory groups the mirror leaves
// out alone) and, with nested resolution, stores the group→group edges
// found among them. A directory group whose name a local group has is
// skipped with a warning: the two never merge.
//
// It returns the groups it upserted, by stored name.
func (a *Authenticator) mirror(ctx context.Context, tx Store, userID int64, groups []membership.Group, created bool) (map[string]*ldapbridge.Group, error) {
	upserted := map[string]*ldapbridge.Group{}
	ids := map[string]int64{}
	var direct []int64
	for _, g := range groups {
		if !a.cfg.Groups.Mirror.Includes(g.Name) {
			continue
		}
		sg := &ldapbridge.Group{Name: a.cfg.StoredGroupName(g.Name), Source: ldapbridge.SourceLDAP, Directory: a.cfg.Name(), DN: g.DN, StableID: g.StableID}
		if err := tx.UpsertGroup(ctx, sg); errors.Is(err, ldapbridge.ErrGroupSource) {
			a.log.Warn("a directory group has the name of a local group, so it is not mirrored (rename one of them)",
				"group", sg.Name, "dn", g.DN)
			continue
		} else if err != nil {
			return nil, wrapStore(err, "mirror group "+g.Name)
		}
		upserted[sg.Name] = sg
		ids[normDN(g.DN)] = sg.ID
		if g.Direct {
			direct = append(direct, sg.ID)
		}
	}
	if err := a.setDirectGroups(ctx, tx, userID, direct, created); err != nil {
		return nil, wrapStore(err, "set the user's groups")
	}
	if !a.cfg.Groups.Nested {
		return upserted, nil // without nesting the parents are unknown; leave the edges alone
	}
	for _, g := range groups {
		id, ok := ids[normDN(g.DN)]
		if !ok {
			continue
		}
		var parents []int64
		for _, p := range g.MemberOfDNs {
			if pid, ok := ids[normDN(p)]; ok {
				parents = append(parents, pid)
			}
		}
		if err := tx.SetGroupParents(ctx, id, parents); err != nil {
			return nil, wrapStore(err, "set the parents of group "+g.Name)
		}
	}
	return upserted, nil
}

// createdUser is the account save just created from u, as a read-back
// would return it without nested groups: its groups are the mirrored
// direct ones (a new account has no local groups yet).
func (a *Authenticator) createdUser(u *ldapbridge.User, upserted map[string]*ldapbridge.Group, groups []membership.Group) *ldapbridge.User {
	saved := *u
	// As the store returns them: no photo bytes or password stamp (neither
	// is read back), maps never nil, the directory and verdict defaults
	// filled.
	saved.Photo, saved.PasswordChanged = nil, ""
	saved.Flags, saved.Profile = maps.Clone(u.Flags), maps.Clone(u.Profile)
	if saved.Flags == nil {
		saved.Flags = map[string]bool{}
	}
	if saved.Profile == nil {
		saved.Profile = map[string]string{}
	}
	if saved.Directory == "" {
		saved.Directory = ldapbridge.DefaultDirectory
	}
	if saved.Verdict == "" {
		saved.Verdict = ldapbridge.VerdictOK
	}
	saved.DirectGroups, saved.LocalGroups = []string{}, []string{}
	for _, g := range groups {
		if g.Direct && a.cfg.Groups.Mirror.Includes(g.Name) {
			if sg := upserted[a.cfg.StoredGroupName(g.Name)]; sg != nil {
				saved.DirectGroups = append(saved.DirectGroups, sg.Name)
			}
		}
	}
	slices.Sort(saved.DirectGroups)
	saved.DirectGroups = slices.Compact(saved.DirectGroups)
	saved.Groups = slices.Clone(saved.DirectGroups)
	return &saved
}

// needLookup reports whether save must look the account up: the account
// read earlier (stored) is not the one of this stable id.
func needLookup(stored *ldapbridge.User, stableID string) bool {
	return stored == nil || stored.StableID == "" || stored.StableID != stableID
}

// accountLookup is save's outside-the-transaction account lookup, made
// early from the entry alone (lookupAccount).
type accountLookup struct {
	done    bool
	account *ldapbridge.User
}

// lookupAccount makes, while the groups are still being read, the lookup
// save would make: the identity fields it matches by (username, stable
// id, users.query_field) come from the entry alone. It does nothing (done
// false) when save would not look, or with an OnPopulate hook.
func (a *Authenticator) lookupAccount(ctx context.Context, entry *ldapbridge.Entry, stored *ldapbridge.User) (*accountLookup, error) {
	if a.hooks.OnPopulate != nil {
		return &accountLookup{}, nil
	}
	stableID := a.mapper.StableID(entry)
	if !needLookup(stored, stableID) {
		return &accountLookup{}, nil
	}
	name, err := a.mapper.Username(entry)
	if err != nil {
		return &accountLookup{}, nil // MapUser reports it
	}
	m := a.mapper
	id := &ldapbridge.User{Username: name, Source: ldapbridge.SourceLDAP, Directory: m.directory, DN: entry.DN, StableID: stableID,
		FirstName: entry.First(m.users.Attributes["first_name"]), LastName: entry.First(m.users.Attributes["last_name"]),
		Email: entry.First(m.users.Attributes["email"])}
	acct, err := a.existing(ctx, a.store, id)
	if err != nil {
		return nil, err
	}
	return &accountLookup{done: true, account: acct}, nil
}

// edgeAdder is the store method that adds memberships without reading
// the member's current ones.
type edgeAdder interface {
	AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error
}

// setDirectGroups makes ids the user's direct groups among those a login
// owns. An account created in this transaction has no groups yet, so its
// memberships are only added (one statement instead of a read, a check
// and an insert).
func (a *Authenticator) setDirectGroups(ctx context.Context, tx Store, userID int64, ids []int64, created bool) error {
	if ea, ok := tx.(edgeAdder); ok && created {
		ms := make([]ldapbridge.Membership, 0, len(ids))
		for _, id := range ids {
			ms = append(ms, ldapbridge.Membership{GroupID: id, UserID: userID})
		}
		return ea.AddMemberships(ctx, ms)
	}
	return tx.SetUserGroupsWithin(ctx, userID, ids, a.ownsGroup)
}
