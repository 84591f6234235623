// Package dirsync is the one-way directory sync: it reads users and groups
// from the directory, plans the difference against the store, and applies
// it in batched transactions, with removals behind a safety guard.
//
// A run reads the groups first (one paged search per groups.search base),
// computes memberships and the nested closure locally from the groups'
// member values, then streams the users (one paged search per users.search
// base with users.sync_filter), mapping each entry with the same
// auth.Mapper a login uses. The number of LDAP searches does not depend on
// the number of users.
//
// Safety rules:
//   - Nothing is removed until every read has finished. Any read error
//     (server gone mid-page, timeout, size limit, referral) or an empty user
//     result where the store holds active directory users aborts the run:
//     no removals, no membership removals, no cursor advance.
//   - Creates and updates are applied while the users are read, one
//     transaction per batch, and are kept when a run aborts: each one is
//     what the directory said at read time, so keeping it is correct, and a
//     rerun converges because applying is idempotent (unchanged users are
//     recognised by a hash of their mapped fields and not written).
//   - Removals (sync.removed_users, sync.removed_groups) never touch local
//     accounts or sync.exempt_users, and more than sync.max_removals aborts
//     the run unless forced. A deactivated or deleted user's web sessions
//     end on their next request: the web layer reloads the user on every
//     request and signs out inactive and deleted users.
//
// Incremental runs keep a cursor per directory server. On OpenLDAP the
// cursor is the time the last successful read started, and an incremental
// run reads the users whose modifyTimestamp is later, less a skew margin
// (Options.SkewMargin, default 5m, for clock differences); deletions are found by
// the full runs that sync.full_every forces. Groups are always read whole
// (they are few next to users), so memberships and group-based flags stay
// exact: a membership change bumps the group entry, not the user. Another
// change source (Active Directory's uSNChanged, RFC 4533 content sync) plugs
// in through the ChangeSource interface.
package dirsync
