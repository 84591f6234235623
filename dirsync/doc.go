// Package dirsync is the one-way directory sync: it reads users and groups
// from the directory, plans the difference against the store and applies
// it in batched transactions, with removals behind a safety guard. It
// imports the root package, config, membership and auth's mapping — never
// ldapdir, a store driver or web.
//
// A run is one pipeline (pipeline.go):
//
//	choose the ChangeSource and the mode (full, or incremental from the stored Cursor)
//	→ read the groups whole, link memberships and nesting locally, apply them
//	→ read the users: a reader goroutine plans each entry with auth's Mapper
//	  ⇢ over a channel ⇢ the applier (Run's goroutine) writes batches and owns every counter
//	→ removals, only after a complete read: a full read removes whom it did not
//	  see, an incremental one whom its source reported gone
//	→ refresh group-based flags and memberships, record the cursor and the history
//
// One ChangeSource per mechanism, each owning its cursor fields, server
// pinning, filter and deletions: modifyTimestamp (modtime.go; deletions wait
// for the full runs of sync.full_every), Active Directory's uSNChanged
// pinned to one server with tombstones for deletions (adusn.go), and RFC
// 4533 content sync with its cookies (contentsync.go). All of them read a
// full run with the paged read of fullread.go. Options.NewSource plugs in
// another.
//
// The live mirror (live.go, sync.live) keeps the store current between
// runs: an RFC 4533 refreshAndPersist stream (ldapbridge.Persister) on
// OpenLDAP, a poll of Active Directory's highestCommittedUSN otherwise;
// each change notified starts an incremental run, so live changes go
// through the same pipeline, judge and guard as any run.
//
// Safety rules:
//   - Any read error (server gone mid-page, timeout, size limit, referral),
//     or an empty result where the store holds directory users, aborts the
//     run: no removals, no cursor advance. Creates and updates already
//     written stay: they are what the directory said, and applying is
//     idempotent (a hash of the mapped fields recognises unchanged users).
//   - Removals (sync.removed_users, sync.removed_groups) never touch local
//     accounts or sync.exempt_users; more than sync.max_removals aborts the
//     run unless forced.
//   - sync.exempt_users are left entirely alone: never created, updated
//     (fields, flags, memberships), deactivated or deleted by a run.
//   - A cancelled run stops between batches (ErrCancelled).
//
// Groups are always read whole: a membership change bumps the group entry,
// not the user, so memberships and group-based flags stay exact. A user's
// primary group (a posix gidNumber, Active Directory's primaryGroupID),
// which no member value lists, is joined locally with membership's
// PrimaryGroupKey, the key a login finds it by; an incremental run reads
// the primary groups of the users it does not re-read with one more
// search per users.search base. The number of LDAP searches does not
// depend on the number of users.
package dirsync
