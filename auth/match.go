package auth

import (
	"context"
	"errors"

	"github.com/ldapbridge/ldapbridge"
)

// AccountFinder is what FindAccount reads: a store (auth.Store and
// ldapbridge.Store satisfy it) or an index of one, such as the sync's.
type AccountFinder interface {
	UserByStableID(ctx context.Context, stableID string) (*ldapbridge.User, error)
	UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error)
	User(ctx context.Context, username string) (*ldapbridge.User, error)
}

var _ AccountFinder = Store(nil)

// FindAccount finds the stored account of the mapped directory user u —
// the one rule by which logins, `users populate` and every sync match
// accounts: by stable id; else, when users.query_field is set, by that
// field only (never by username); else by username. It returns nil, nil
// when there is none. The account may be a local one; the caller refuses
// to use it for a directory user.
//
// An account of another directory (a directory account whose Directory is
// not this mapper's) is never used: FindAccount returns a *TakenError.
func (m *Mapper) FindAccount(ctx context.Context, st AccountFinder, u *ldapbridge.User) (*ldapbridge.User, error) {
	found, err := m.findAccount(ctx, st, u)
	if found != nil && found.Source == ldapbridge.SourceLDAP && directoryOf(found) != m.directory {
		return nil, &TakenError{Username: found.Username, Directory: directoryOf(found)}
	}
	return found, err
}

func (m *Mapper) findAccount(ctx context.Context, st AccountFinder, u *ldapbridge.User) (*ldapbridge.User, error) {
	if u.StableID != "" {
		found, err := st.UserByStableID(ctx, u.StableID)
		if err == nil || !errors.Is(err, ldapbridge.ErrNotFound) {
			return found, wrapStore(err, "find user by stable id "+u.StableID)
		}
	}
	if f := m.users.QueryField; f != "" {
		found, err := st.UserByField(ctx, f, userField(u, f))
		if err == nil || !errors.Is(err, ldapbridge.ErrNotFound) {
			return found, wrapStore(err, "find user by users.query_field "+f)
		}
		return nil, nil
	}
	found, err := st.User(ctx, u.Username)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return nil, nil
	}
	return found, wrapStore(err, "find user "+u.Username)
}

// QueryField is users.query_field: "" when accounts are matched by
// username after the stable id.
func (m *Mapper) QueryField() string { return m.users.QueryField }
