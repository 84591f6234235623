package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// localLogin checks a local (break-glass) account without touching the
// directory. handled is false when no local account has that name; the
// directory account of that name, if any, is then returned as stored so
// the login can reuse the read.
func (a *Authenticator) localLogin(ctx context.Context, name, password string) (res *Result, handled bool, stored *ldapbridge.User, err error) {
	uname := foldUsername(name, a.cfg.Users.UsernameCase)
	u, err := a.store.User(ctx, uname)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return nil, false, nil, nil
	}
	if err != nil {
		return nil, true, nil, fmt.Errorf("auth: look up local account %q: %w", uname, err)
	}
	if u.Source != ldapbridge.SourceLocal {
		return nil, false, u, nil
	}
	if !VerifyPassword(u.PasswordHash, password) {
		return newResult(BadCredentials, "local account: wrong password"), true, nil, nil
	}
	res = newResult(OK, "local account")
	res.User = u
	res.Authenticated = true
	if !u.IsActive {
		res.Outcome, res.Reason = Inactive, "local account is inactive"
		return res, true, nil, nil
	}
	at := a.now()
	if err := a.store.RecordLogin(ctx, u.ID, at); err != nil {
		return nil, true, nil, fmt.Errorf("auth: record login of local account %q: %w", uname, err)
	}
	u.LastLoginAt = &at
	res.Allowed = true
	return res, true, nil, nil
}

// AddLocal creates a local (break-glass) account with an argon2id hash of
// password. It refuses an empty password and a name already taken.
func (a *Authenticator) AddLocal(ctx context.Context, username, password string, staff, superuser bool) (*ldapbridge.User, error) {
	uname := foldUsername(username, a.cfg.Users.UsernameCase)
	if uname == "" {
		return nil, errors.New("add local account: the username is empty")
	}
	if password == "" {
		return nil, fmt.Errorf("add local account %q: the password is empty; give a non-empty password", uname)
	}
	if _, err := a.store.User(ctx, uname); err == nil {
		return nil, fmt.Errorf("add local account %q: the username is taken; choose another name: %w", uname, ldapbridge.ErrConflict)
	} else if !errors.Is(err, ldapbridge.ErrNotFound) {
		return nil, fmt.Errorf("add local account %q: %w", uname, err)
	}
	hash, err := a.hash.Hash(password)
	if err != nil {
		return nil, err
	}
	u := &ldapbridge.User{
		Username: uname, Source: ldapbridge.SourceLocal, PasswordHash: hash,
		IsActive: true, IsStaff: staff, IsSuperuser: superuser,
		Flags: map[string]bool{}, Profile: map[string]string{},
	}
	if err := a.store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("add local account %q: %w", uname, err)
	}
	a.addLocalName(uname)
	return u, nil
}
