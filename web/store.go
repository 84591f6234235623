package web

import (
	"context"

	"github.com/ldapbridge/ldapbridge"
)

// Store is the part of ldapbridge.Store that the web app reads: the
// signed-in user, the admin lists and photos. The web app writes to the
// store only through Deps.Auth (logins) and Deps.LocalGroups (local groups
// on the admin pages). Both store drivers satisfy
// it, as does any ldapbridge.Store.
type Store interface {
	User(ctx context.Context, username string) (*ldapbridge.User, error)
	UserByID(ctx context.Context, id int64) (*ldapbridge.User, error)
	ListUsers(ctx context.Context, q ldapbridge.UserQuery) ([]*ldapbridge.User, error)
	ListGroups(ctx context.Context) ([]*ldapbridge.Group, error)
	Photo(ctx context.Context, userID int64) ([]byte, error)
}

// ldapbridge.Store stays the union of what its consumers need.
var _ Store = ldapbridge.Store(nil)
