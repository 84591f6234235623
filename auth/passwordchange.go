package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// changeable reports whether the directory still lets the user of a
// refused sign-in change the password: after an administrator's reset
// always (the policy admits the change alone), after expiry only on
// Active Directory (OpenLDAP's ppolicy refuses the bind, so the user
// cannot send the change; 389-DS likewise).
func (a *Authenticator) changeable(o Outcome) bool {
	switch o {
	case MustChangePassword:
		return true
	case PasswordExpired:
		return a.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory
	}
	return false
}

// ErrPasswordChangeUnsupported means the directory driver cannot change
// passwords, or the account is a local one.
var ErrPasswordChangeUnsupported = errors.New("password change not supported")

// userDN finds the directory DN of username for a password operation: as
// a login finds it (the service account's search, or users.dn_template),
// or with directory.bind_as_user the name the user binds with. An unknown
// name is ErrInvalidCredentials, so the change form tells nobody who
// exists.
func (a *Authenticator) userDN(ctx context.Context, username string) (string, error) {
	name := NormalizeUsername(username)
	if name == "" {
		return "", fmt.Errorf("empty username: %w", ldapbridge.ErrInvalidCredentials)
	}
	if a.cfg.Access.LocalAccounts {
		if u, err := a.store.User(ctx, name); err == nil && u.Source == ldapbridge.SourceLocal {
			return "", fmt.Errorf("%s is a local account, whose password is not in the directory: %w", name, ErrPasswordChangeUnsupported)
		}
	}
	dirName := a.directoryName(name)
	if a.cfg.Directory.BindAsUser {
		return a.userBindName(dirName)
	}
	found, res, err := a.lookup(ctx, a.dir, dirName, nil)
	if err != nil {
		return "", err
	}
	if res != nil {
		if res.Outcome == LDAPError {
			return "", fmt.Errorf("finding %s: %s: %w", quote(dirName), res.Reason, res.Err)
		}
		return "", fmt.Errorf("%s: %w", res.Reason, ldapbridge.ErrInvalidCredentials)
	}
	return found.Entry.DN, nil
}

// ChangePassword changes username's password in the directory from
// oldPassword to newPassword (see ldapbridge.PasswordChanger) and then
// signs the user in with the new one, which also refreshes the offline
// verifier. An error means the password did not change: it wraps
// ErrPasswordChangeRefused with the directory's words, a credential kind
// (ErrInvalidCredentials, ErrAccountLocked, ...), ErrUnavailable, or
// ErrPasswordChangeUnsupported.
func (a *Authenticator) ChangePassword(ctx context.Context, username, oldPassword, newPassword string) (*Result, error) {
	pc, ok := a.dir.(ldapbridge.PasswordChanger)
	if !ok {
		return nil, fmt.Errorf("auth: the directory driver cannot change passwords: %w", ErrPasswordChangeUnsupported)
	}
	if oldPassword == "" {
		return nil, ldapbridge.ErrEmptyPassword
	}
	dn, err := a.userDN(ctx, username)
	if err != nil {
		return nil, err
	}
	if err := pc.ChangePassword(ctx, dn, oldPassword, newPassword); err != nil {
		a.log.WarnContext(ctx, "password change refused", "username", LogName(username), "dn", dn, "error", err.Error())
		return nil, err
	}
	a.log.InfoContext(ctx, "password changed in the directory", "username", LogName(username), "dn", dn)
	return a.Authenticate(ctx, username, newPassword)
}

// SetPassword resets username's directory password to newPassword as the
// service account (ldapbridge.PasswordChanger.ResetPassword), for
// operators; the old password is not needed.
func (a *Authenticator) SetPassword(ctx context.Context, username, newPassword string) error {
	pc, ok := a.dir.(ldapbridge.PasswordChanger)
	if !ok {
		return fmt.Errorf("auth: the directory driver cannot reset passwords: %w", ErrPasswordChangeUnsupported)
	}
	dn, err := a.userDN(ctx, username)
	if errors.Is(err, ldapbridge.ErrInvalidCredentials) {
		return fmt.Errorf("no directory entry for %s: %w", quote(username), ldapbridge.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if err := pc.ResetPassword(ctx, dn, newPassword); err != nil {
		return err
	}
	a.log.InfoContext(ctx, "password reset in the directory by an operator", "username", LogName(username), "dn", dn)
	return nil
}
