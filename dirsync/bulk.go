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
