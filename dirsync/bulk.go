package dirsync

import (
	"context"

	"github.com/ldapbridge/ldapbridge"
)

// BulkCreator is a store that creates many synced users in one round trip
// (postgres.Store inside InTx). A run uses it, when the transaction's store
// offers it, for the users each batch creates; updates stay one by one.
type BulkCreator interface {
	// CreateSyncedUsers creates users as CreateUser does, setting their
	// IDs, and records hashes[i] as the sync hash of users[i].
	CreateSyncedUsers(ctx context.Context, users []*ldapbridge.User, hashes []string) error
}

// BulkGroupCreator is a store that creates many new directory groups in
// one statement (both drivers inside InTx). A run uses it for the groups
// it creates; should it fail (a name taken outside the groups the run
// read), the run writes its groups again one by one with UpsertGroup.
type BulkGroupCreator interface {
	// CreateSyncedGroups creates gs (directory groups none of which is
	// stored) and sets their IDs, or fails with ErrConflict.
	CreateSyncedGroups(ctx context.Context, gs []*ldapbridge.Group) error
}

// BulkEdgeAdder is a store that adds the user edges of users created in
// the same transaction in bulk, skipping AddMemberships' existence checks
// (both drivers; COPY on PostgreSQL).
type BulkEdgeAdder interface {
	AddSyncedMemberships(ctx context.Context, ms []ldapbridge.Membership) error
}
