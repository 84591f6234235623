package ldapbridge

import (
	"context"
	"errors"
	"time"
)

// Password states and changes: what a directory's password policy says at a
// bind, and changing a password in the directory. ldapdir implements the
// interfaces below; auth and the binary find them by type assertion.

// ErrMustChangePassword means the directory accepted the password but
// requires a new one before anything else: an administrator reset it (AD
// bind data 773, the ppolicy control's changeAfterReset).
var ErrMustChangePassword = errors.New("password must be changed after a reset")

// ErrNoAnswer means no directory server answered at all: every URL failed
// to connect or timed out. It is wrapped together with ErrUnavailable, and
// is the only condition under which an offline sign-in may be tried.
var ErrNoAnswer = errors.New("no directory server answered")

// ErrPasswordChangeRefused means the directory refused a password change;
// the error's text holds the directory's own words (too short, in
// history, too young).
var ErrPasswordChangeRefused = errors.New("the directory refused the password change")

// PasswordPolicy is what a directory's password policy said about a
// successful bind: a warning that the password expires soon, or that the
// bind used one of the grace logins left after expiry.
type PasswordPolicy struct {
	// ExpiresIn is the time before the password expires; valid when
	// HasExpiry.
	ExpiresIn time.Duration
	HasExpiry bool
	// GraceLogins is the number of binds left with the expired password;
	// valid when HasGrace.
	GraceLogins int
	HasGrace    bool
}

// PolicyChecker is a Directory whose credential check also reports the
// password policy's warnings.
type PolicyChecker interface {
	// CheckPasswordPolicy is Directory.CheckPassword returning the
	// policy's warnings on success.
	CheckPasswordPolicy(ctx context.Context, dn, password string) (PasswordPolicy, error)
}

// PolicySession is a Session that reports the password policy's warnings
// of its bind.
type PolicySession interface {
	PasswordPolicy() PasswordPolicy
}

// PasswordChanger is a Directory that can change passwords.
type PasswordChanger interface {
	// ChangePassword replaces the password of dn, proving the old one:
	// bound as the user, or, where the directory lets a user whose
	// password must change not bind (Active Directory), as the service
	// account. A refusal wraps ErrPasswordChangeRefused and the
	// credential kinds (ErrInvalidCredentials, ...).
	ChangePassword(ctx context.Context, dn, oldPassword, newPassword string) error
	// ResetPassword sets the password of dn as the service account,
	// without the old one, where the account's rights allow it.
	ResetPassword(ctx context.Context, dn, newPassword string) error
}

// OfflineVerifier is the stored proof of a user's last directory-checked
// password, for signing in while no directory server answers.
type OfflineVerifier struct {
	UserID int64
	// Verifier is an argon2id hash in PHC format, with its own salt.
	Verifier string
	// PasswordChanged is the directory's password-change stamp seen at
	// that login (pwdChangedTime, pwdLastSet), raw; "" when unknown.
	PasswordChanged string
	// LoginAt is the time of the directory login that stored it.
	LoginAt time.Time
	// Failures counts wrong offline attempts since.
	Failures int
}
