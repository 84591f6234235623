package auth

import (
	"context"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// Store is the part of ldapbridge.Store that logins use: finding the local
// account, writing it and its mirrored groups in one transaction, photos
// and last-login times. Both store drivers satisfy it, as does any
// ldapbridge.Store.
//
// InTx's callback takes a whole ldapbridge.Store because that is the
// drivers' signature; auth sees the transaction as a Store only (see
// Authenticator.inTx).
type Store interface {
	InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error

	User(ctx context.Context, username string) (*ldapbridge.User, error)
	UserByID(ctx context.Context, id int64) (*ldapbridge.User, error)
	UserByStableID(ctx context.Context, stableID string) (*ldapbridge.User, error)
	UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error)
	CreateUser(ctx context.Context, u *ldapbridge.User) error
	UpdateUser(ctx context.Context, u *ldapbridge.User) error
	Photo(ctx context.Context, userID int64) ([]byte, error)
	RecordLogin(ctx context.Context, userID int64, at time.Time) error

	UpsertGroup(ctx context.Context, g *ldapbridge.Group) error
	SetUserGroupsWithin(ctx context.Context, userID int64, groupIDs []int64, owned func(*ldapbridge.Group) bool) error
	SetGroupParents(ctx context.Context, groupID int64, parentIDs []int64) error
}

// ldapbridge.Store stays the union of what its consumers need.
var _ Store = ldapbridge.Store(nil)

// inTx runs fn in one store transaction, which fn sees as a Store, so the
// compiler keeps auth's writes within Store's methods.
func (a *Authenticator) inTx(ctx context.Context, fn func(tx Store) error) error {
	return a.store.InTx(ctx, func(tx ldapbridge.Store) error { return fn(tx) })
}
