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
// Incremental runs keep a cursor per directory server (Report.Server), and
// the mode is chosen per run: incremental when a usable cursor exists and
// sync.full_every is not reached, else full. Groups are always read whole
// (they are few next to users), so memberships and group-based flags stay
// exact: a membership change bumps the group entry, not the user. Change
// sources plug in through the ChangeSource interface.
//
// Content sync (contentsync.go) is used when the root DSE lists the RFC
// 4533 sync request control (1.3.6.1.4.1.4203.1.9.1.1, OpenLDAP's
// syncprov), the flavor is openldap or jumpcloud, the stable id is
// entryUUID and Options.Dir implements ContentSyncer (*ldapdir.Dir does).
// The cursor holds one cookie per users.search base. A full run takes the
// cookies before its paged read (one base-scoped refreshOnly search per
// base that matches nothing), so changes made during the read come again
// next time. An incremental run sends each cookie in one refreshOnly
// search with users.sync_filter: added and modified entries are mapped and
// applied like a full run's; deletions arrive as entryUUIDs (sync state
// delete, or syncIdSet with refreshDeletes from syncprov's session log),
// or, when the server answers with the present phase, as the stored users
// in the base's scope it did not report present. Either way they go
// through the full run's removal path: sync.removed_users, exempt users,
// local accounts untouched, and sync.max_removals counted as in a full run.
// A no-change run costs three searches (root DSE, groups, one refresh per
// users base). The refresh is one unpaged search, so it must finish within
// directory.request_timeout and is subject to the bind account's size
// limit. The run becomes full, and Report.FallbackReason says why, when
// the stored cookie is unusable (not base64, or without a valid CSN:
// syncprov answers such a cookie with everything and no deletions, so it
// is never sent), when the server refuses it (e-syncRefreshRequired, or
// "consumer state is newer than provider" from another or restored
// server), or when the refresh hits the size limit (the users it already
// wrote stay, the rest is read with paged searches).
//
// Without the control, the OpenLDAP cursor is the time the last
// successful read started, and an incremental run reads the users whose
// modifyTimestamp is later, less a skew margin (Options.SkewMargin,
// default 5m, for clock differences); deletions are found by the full runs
// that sync.full_every forces.
//
// On Active Directory (adusn.go) the cursor is the server's
// highestCommittedUSN, read from the root DSE before anything else, and
// bound to the server that issued it: its dnsHostName and invocationId are
// stored with it, and every search of a run goes over one pinned connection
// to that server (uSNChanged values are per server and per database). A
// cursor from another server, or from a restored database, makes the run
// full and Report.FallbackReason says why. An incremental run reads the
// users whose uSNChanged is above the cursor, and finds deletions from
// tombstones: one search of the domain with the show-deleted control
// (1.2.840.113556.1.4.417) for (&(isDeleted=TRUE)(objectClass=user)
// (uSNChanged>=N+1)), matched to stored users by objectGUID and handled
// like a full run's removals (sync.removed_users, exempt users,
// sync.max_removals). Listing tombstones needs the right to list
// CN=Deleted Objects, which only administrators hold by default; without
// it the search returns nothing and deletions wait for the full runs of
// sync.full_every. Groups are read whole, as above, so a membership change
// (which bumps the group's uSNChanged, not the user's) reaches the store on
// the next run. A group whose member values come back ranged
// (member;range=0-1499) is completed with membership.CompleteMembers, one
// base search per further 1,500 values. A disabled account
// (userAccountControl bit 2) is inactive; whenChanged is never a cursor.
// A run costs: root DSE, dsServiceName and invocationId, then one search
// per groups.search base, the ranged reads of large groups, one per
// users.search base and one for tombstones, whatever the number of users.
package dirsync
