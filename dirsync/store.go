package dirsync

import (
	"context"

	"github.com/ldapbridge/ldapbridge"
)

// Store is the part of ldapbridge.Store that a sync calls directly: the
// stored state it diffs against, the incremental cursor, the run history
// and InTx. Both store drivers satisfy it, as does any ldapbridge.Store.
//
// The writes (CreateUser, UpdateUser, SetSyncHash, UpsertGroup, DeleteUser,
// DeleteGroup, AddMemberships, RemoveMemberships, UserByID) go through the
// transaction InTx hands its callback, which is a whole ldapbridge.Store
// because that is the drivers' InTx signature.
type Store interface {
	InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error

	SyncUserStates(ctx context.Context, fn func(ldapbridge.SyncUserState) error) error
	// UserByField matches a user read by users.query_field, as a login
	// does (auth.Mapper.FindAccount).
	UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error)
	ListGroups(ctx context.Context) ([]*ldapbridge.Group, error)
	Memberships(ctx context.Context) ([]ldapbridge.Membership, error)

	SyncCursor(ctx context.Context, server string) (string, error)
	SetSyncCursor(ctx context.Context, server, cursor string) error
	RecordSyncRun(ctx context.Context, run *ldapbridge.SyncRun) error
}

// ldapbridge.Store stays the union of what its consumers need.
var _ Store = ldapbridge.Store(nil)
