package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// OfflineStore is the part of ldapbridge.Store that offline sign-in
// (access.offline_login) uses; both store drivers satisfy it.
type OfflineStore interface {
	SaveOfflineVerifier(ctx context.Context, v *ldapbridge.OfflineVerifier) error
	OfflineVerifier(ctx context.Context, userID int64) (*ldapbridge.OfflineVerifier, error)
	RecordOfflineFailure(ctx context.Context, userID int64, max int) (int, error)
	DeleteOfflineVerifier(ctx context.Context, userID int64) error
}

var _ OfflineStore = ldapbridge.Store(nil)

// OutcomeLabel is the outcome a login is counted under in metrics: the
// Outcome, or "offline" for a login admitted by the offline verifier.
func (res *Result) OutcomeLabel() string {
	if res.Offline && res.Outcome == OK {
		return "offline"
	}
	return string(res.Outcome)
}

// offlineStore returns the store as an OfflineStore when offline sign-in
// is enabled and the store supports it.
func (a *Authenticator) offlineStore() (OfflineStore, bool) {
	if !a.cfg.Access.OfflineLogin.Enabled {
		return nil, false
	}
	st, ok := a.store.(OfflineStore)
	return st, ok
}

// passwordStampAttributes are the attributes holding the time of the
// last password change: pwdChangedTime (OpenLDAP, 389-DS) and pwdLastSet
// (Active Directory); both with flavor auto.
func passwordStampAttributes(f ldapbridge.Flavor) []string {
	switch f {
	case ldapbridge.FlavorActiveDirectory:
		return []string{"pwdLastSet"}
	case ldapbridge.FlavorOpenLDAP, ldapbridge.FlavorJumpCloud, ldapbridge.Flavor389DS:
		return []string{"pwdChangedTime"}
	}
	return []string{"pwdChangedTime", "pwdLastSet"}
}

// passwordStamp is the entry's password-change stamp, "" when the
// directory did not return one.
func passwordStamp(attrs []string, e *ldapbridge.Entry) string {
	for _, a := range attrs {
		if v := e.First(a); v != "" {
			return a + "=" + v
		}
	}
	return ""
}

// noAnswer reports whether res is a failure in which no directory server
// answered, before the password was checked: the one case offline
// sign-in may be tried.
func noAnswer(res *Result) bool {
	return res != nil && res.Outcome == LDAPError && errors.Is(res.Err, ldapbridge.ErrNoAnswer)
}

// afterDirectoryLogin stores the offline verifier of a successful
// directory login, or tries offline sign-in when no server answered
// before the password was checked (checked says the bind happened).
func (a *Authenticator) afterDirectoryLogin(ctx context.Context, name, password string, res *Result, checked bool) (*Result, error) {
	st, ok := a.offlineStore()
	if !ok || res == nil {
		return res, nil
	}
	if res.Outcome == OK && res.Allowed && res.User != nil {
		a.saveVerifier(ctx, st, res, password)
		return res, nil
	}
	if !checked && noAnswer(res) {
		return a.offlineLogin(ctx, st, name, password, res)
	}
	return res, nil
}

// saveVerifier stores an argon2id verifier of password (with a fresh
// salt, at the configured local-account costs) for res.User. A failure is
// logged, never the login's: the directory admitted the user.
func (a *Authenticator) saveVerifier(ctx context.Context, st OfflineStore, res *Result, password string) {
	h, err := a.hash.Hash(password)
	if err == nil {
		stamp := ""
		if res.Entry != nil {
			stamp = passwordStamp(a.mapper.stampAttrs, res.Entry)
		}
		err = st.SaveOfflineVerifier(ctx, &ldapbridge.OfflineVerifier{UserID: res.User.ID, Verifier: h, PasswordChanged: stamp, LoginAt: a.now()})
	}
	if err != nil {
		a.log.WarnContext(ctx, "storing the offline sign-in verifier failed; this user cannot sign in offline until the next sign-in stores one",
			"username", res.User.Username, "error", err.Error())
	}
}

// offlineLogin admits name with password from the stored verifier, when
// no directory server answered (online is that failure). It refuses,
// keeping the ldap_error and saying why, a name with no stored directory
// account, an account the stored verdict does not admit, and a missing or
// expired verifier; a wrong password is bad_credentials and counts toward
// access.offline_login.max_failures.
func (a *Authenticator) offlineLogin(ctx context.Context, st OfflineStore, name, password string, online *Result) (*Result, error) {
	refuse := func(why string) (*Result, error) {
		online.Reason += "; offline sign-in not possible: " + why
		return online, nil
	}
	u, err := a.store.User(ctx, a.mapper.localName(a.directoryName(name)))
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return refuse("no stored account has this name")
	}
	if err != nil {
		return nil, fmt.Errorf("auth: offline sign-in of %s: %w", LogName(name), err)
	}
	if u.Source != ldapbridge.SourceLDAP {
		return refuse("the account is not a directory account")
	}
	if !u.Allowed() {
		return refuse("the stored verdict does not admit the account (" + u.EffectiveVerdict() + ")")
	}
	v, err := st.OfflineVerifier(ctx, u.ID)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return refuse("no verifier is stored (the user has not signed in since offline sign-in was enabled, or it was revoked)")
	}
	if err != nil {
		return nil, fmt.Errorf("auth: offline sign-in of %s: %w", u.Username, err)
	}
	maxAge := a.cfg.Access.OfflineLogin.MaxAge.D()
	if age := a.now().Sub(v.LoginAt); age > maxAge {
		return refuse(fmt.Sprintf("the last directory sign-in was %s ago, more than access.offline_login.max_age (%s)", age.Round(time.Second), maxAge))
	}
	if !VerifyPassword(v.Verifier, password) {
		max := a.cfg.Access.OfflineLogin.MaxFailures
		n, err := st.RecordOfflineFailure(ctx, u.ID, max)
		if err != nil && !errors.Is(err, ldapbridge.ErrNotFound) {
			return nil, fmt.Errorf("auth: offline sign-in of %s: %w", u.Username, err)
		}
		res := newResult(BadCredentials, fmt.Sprintf("no directory server answered, and the password does not match the one of the last directory sign-in (wrong offline attempt %d of %d; the verifier is deleted at %d)", n, max, max))
		res.DN, res.Offline = u.DN, true
		return res, nil
	}
	at := a.now()
	if err := a.store.RecordLogin(ctx, u.ID, at); err != nil {
		return nil, fmt.Errorf("auth: record offline login of %s: %w", u.Username, err)
	}
	u.LastLoginAt = &at
	res := newResult(OK, fmt.Sprintf("no directory server answered; admitted offline by the verifier of the directory sign-in at %s", v.LoginAt.UTC().Format(time.RFC3339)))
	res.Authenticated, res.Allowed, res.Offline = true, true, true
	res.DN, res.User = u.DN, u
	res.GroupNames = append([]string{}, u.Groups...)
	a.log.WarnContext(ctx, "login admitted offline: no directory server answered", "username", u.Username, "verifier_from", v.LoginAt.UTC().Format(time.RFC3339))
	return res, nil
}

// ForgetOffline deletes the offline verifier of the stored account
// username; ErrNotFound (wrapped) when the account or its verifier does
// not exist.
func ForgetOffline(ctx context.Context, st interface {
	User(ctx context.Context, username string) (*ldapbridge.User, error)
	OfflineStore
}, username string) error {
	u, err := st.User(ctx, username)
	if err != nil {
		return fmt.Errorf("user %q: %w", username, err)
	}
	if err := st.DeleteOfflineVerifier(ctx, u.ID); err != nil {
		return fmt.Errorf("offline verifier of %q: %w", username, err)
	}
	return nil
}
